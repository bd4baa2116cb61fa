//! Validation speed: `flow::load` on a generated 2,000-node flow (every node kind).
//!
//! Run: `cargo bench -p model --features testing --bench validate`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn validate(c: &mut Criterion) {
    let def = model::flow::testing::sized_flow(2000);
    let yaml = model::flow::testing::to_yaml(&def);
    let nodes = def.nodes.len();
    let mut group = c.benchmark_group("validate");
    group.sample_size(20);
    group.bench_function(
        format!("{nodes}-node flow ({} KiB of YAML)", yaml.len() / 1024),
        |b| {
            b.iter(
                || match model::flow::load("bench.yaml", black_box(&yaml), None) {
                    Ok((flow, _)) => flow,
                    Err(diags) => panic!("the generated flow is valid: {:?}", diags.first()),
                },
            )
        },
    );
    group.finish();
}

criterion_group!(benches, validate);
criterion_main!(benches);

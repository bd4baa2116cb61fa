//! Plugin host figures: per-call overhead with a fresh instance (p50, p99), calls/s
//! on 2 threads for three allocation strategies; the real calls of the retail-loan
//! automatic path (node configs from workflows/retail-loan.yaml, case variables from
//! workflows/samples/retail-loan/*.json plus the earlier steps' results) with p50/p99,
//! calls/s and CPU per call; and cold (compile) vs warm (cached artifact) load time per
//! plugin.
//!
//! `cargo bench -p plugin-host --bench plugin_calls` prints the figures first, then
//! runs the criterion benchmarks; `PLUGIN_BENCH=figures` or `PLUGIN_BENCH=criterion`
//! runs only one of the two; `PLUGIN_BENCH=path` prints only the retail-loan path.
//! `PLUGIN_BENCH=calls:<node>` (e.g. `calls:score`; `calls:raw` for the score inputs
//! into hostile-raw) makes a fixed 2,000 rounds (`PLUGIN_BENCH_ROUNDS`) over the node's 8 sample
//! inputs and prints nothing: for instruction counts (`perf stat -e instructions`, or
//! `valgrind --tool=callgrind` where the VM has no counters), which a busy machine does not
//! blur the way it blurs time.
//! `PLUGIN_BENCH_PLUGINS=<dir>` runs the retail-loan figures with the `*.wasm` plugins
//! in that folder instead of the bundled ones (e.g. builds of an older commit, to
//! compare on the same machine at the same time).

use criterion::Criterion;
use model::flow::NodeKind;
use model::plugin::{CallLimits, StepInput};
use plugin_host::{Host, HostConfig, LoadSource, LoadedPlugin, PrepareState, Registry};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The allocation strategies compared: wasmtime's on-demand allocator, the pooling
/// allocator handing memory back to the kernel after each call, and the default
/// (pooling, slots kept resident and reset in place).
const STRATEGIES: [(&str, bool, usize); 3] = [
    ("on-demand", false, 0),
    ("pooling", true, 0),
    ("pooling+resident", true, 2 << 20),
];

fn host(pooling: bool, keep_resident_bytes: usize, cache_dir: Option<std::path::PathBuf>) -> Host {
    let config = HostConfig {
        pooling,
        keep_resident_bytes,
        cache_dir,
        ..HostConfig::default()
    };
    Host::new(config).expect("host")
}

fn bench_cache() -> std::path::PathBuf {
    std::env::temp_dir().join("docket-plugin-bench-cache")
}

fn input(config: serde_json::Value) -> StepInput {
    StepInput::new(
        "bench-case",
        "bench-node",
        &config,
        &json!({ "amount": 120000, "applicant": { "name": "Li", "age": 41 } }),
        "2024-06-30",
    )
}

/// The smallest call there is: the raw plugin returns `{}` without parsing anything.
fn minimal_input() -> StepInput {
    input(json!("fine"))
}

/// A standard-library plugin through the SDK: parses JSON, logs a line, builds a result.
fn echo_input() -> StepInput {
    input(json!({ "mode": "echo" }))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn per_call(
    plugin: &LoadedPlugin,
    input: &StepInput,
    calls: usize,
) -> (Duration, Duration, Duration) {
    let limits = CallLimits::default();
    for _ in 0..200 {
        assert!(plugin.call(input, &limits).report.output.is_ok());
    }
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        let call = plugin.call(input, &limits);
        samples.push(started.elapsed());
        assert!(call.report.output.is_ok());
    }
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / calls as u32;
    (percentile(&samples, 0.5), percentile(&samples, 0.99), mean)
}

fn calls_per_second(plugin: &LoadedPlugin, input: &StepInput, threads: usize) -> f64 {
    let limits = CallLimits::default();
    let run_for = Duration::from_secs(2);
    let started = Instant::now();
    let total: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = 0;
                    while started.elapsed() < run_for {
                        for _ in 0..100 {
                            assert!(plugin.call(input, &limits).report.output.is_ok());
                        }
                        done += 100;
                    }
                    done
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("worker")).sum()
    });
    total as f64 / started.elapsed().as_secs_f64()
}

/// The repository's `workflows/` folder.
fn workflows_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../workflows")
}

/// The business date of the retail-loan path calls (the samples' expected outcomes hold
/// for any date from 2026 to 2040).
const BUSINESS_DATE: &str = "2026-06-30";

/// One task node of the retail-loan automatic path with the inputs the runtime would
/// give it for each sample case.
struct PathNode {
    node: String,
    plugin: Arc<LoadedPlugin>,
    inputs: Vec<StepInput>,
}

/// The retail-loan flow's task nodes (documents, score, compliance) in path order, each
/// with one input per sample: the sample as the case variables, plus the result of every
/// earlier step under its `result` name, as the runtime builds them.
fn retail_loan_path(registry: &Registry) -> Vec<PathNode> {
    let file = workflows_dir().join("retail-loan.yaml");
    let yaml = std::fs::read_to_string(&file).expect("retail-loan.yaml");
    let (flow, _) = model::flow::load("retail-loan.yaml", &yaml, Some(registry))
        .unwrap_or_else(|d| panic!("retail-loan.yaml does not load: {d:?}"));
    let mut samples: Vec<PathBuf> = std::fs::read_dir(workflows_dir().join("samples/retail-loan"))
        .expect("samples")
        .map(|e| e.expect("sample").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    samples.sort();
    let mut vars: Vec<Value> = samples
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).expect("sample")).expect("JSON"))
        .collect();
    let mut nodes = Vec::new();
    for id in ["documents", "score", "compliance"] {
        let node = flow.get(id).expect("retail-loan node");
        let NodeKind::Task(task) = &node.kind else {
            panic!("{id} is not a task node")
        };
        let plugin = registry
            .resolve(&task.plugin)
            .expect("bundled plugin")
            .clone();
        let limits = CallLimits::default();
        let mut inputs = Vec::new();
        for (case, vars) in vars.iter_mut().enumerate() {
            let input = StepInput {
                case_id: format!("bench-case-{case}"),
                node_id: id.to_string(),
                config: task.config_json.clone(),
                vars: vars.to_string(),
                business_date: BUSINESS_DATE.into(),
            };
            let output = plugin
                .call(&input, &limits)
                .report
                .output
                .unwrap_or_else(|e| panic!("{id} on sample {case}: {e}"));
            if let (Some(name), Value::Object(map)) = (&task.result, vars) {
                map.insert(name.clone(), output.result.into_value());
            }
            inputs.push(input);
        }
        nodes.push(PathNode {
            node: id.to_string(),
            plugin,
            inputs,
        });
    }
    nodes
}

/// CPU time this thread has used, from /proc/thread-self/schedstat (Linux, ns precision).
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Calls/s on `threads` threads cycling through `inputs`, and CPU per call when known.
fn path_throughput(
    plugin: &LoadedPlugin,
    inputs: &[StepInput],
    threads: usize,
) -> (f64, Option<Duration>) {
    let limits = CallLimits::default();
    let run_for = Duration::from_secs(2);
    let started = Instant::now();
    let per_thread: Vec<(usize, Option<Duration>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let cpu_before = thread_cpu();
                    let mut done = 0;
                    while started.elapsed() < run_for {
                        for input in inputs {
                            assert!(plugin.call(input, &limits).report.output.is_ok());
                        }
                        done += inputs.len();
                    }
                    let cpu = cpu_before.zip(thread_cpu()).map(|(a, b)| b - a);
                    (done, cpu)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("worker"))
            .collect()
    });
    let calls: usize = per_thread.iter().map(|(n, _)| n).sum();
    let cpu: Option<Duration> = per_thread.iter().map(|(_, c)| *c).sum();
    (
        calls as f64 / started.elapsed().as_secs_f64(),
        cpu.map(|c| c / calls as u32),
    )
}

/// The plugins the retail-loan figures run: the bundled ones, or those in
/// `$PLUGIN_BENCH_PLUGINS`.
fn path_registry() -> Registry {
    // `PLUGIN_BENCH_PREPARE=0`: calls parse their config every time (no pre-initialised
    // instances), to compare on the same machine at the same time.
    let prepare = std::env::var("PLUGIN_BENCH_PREPARE").map_or(true, |v| v != "0");
    let host = Host::new(HostConfig {
        cache_dir: Some(bench_cache()),
        max_prepared_configs: if prepare { 64 } else { 0 },
        ..HostConfig::default()
    })
    .expect("host");
    if !prepare {
        println!("(node configs not prepared: every call parses its config)");
    }
    let mut registry = Registry::new(host);
    match std::env::var_os("PLUGIN_BENCH_PLUGINS") {
        Some(dir) => {
            registry
                .add_dir(&dir)
                .expect("plugins in $PLUGIN_BENCH_PLUGINS");
            println!("(plugins from {})", Path::new(&dir).display());
        }
        None => registry.add_bundled().expect("bundled plugins"),
    }
    registry
}

/// Where a plugin of the path registry came from, to load it again on a fresh host
/// (`None` for bundled plugins: their bytes are not reachable from here).
fn bundled_or_dir_path(plugin: &LoadedPlugin) -> Option<PathBuf> {
    match plugin.source() {
        LoadSource::File(path) => Some(path.clone()),
        LoadSource::Bundled(krate) => {
            Some(PathBuf::from(env!("DOCKET_BUNDLED_DIR")).join(format!("{krate}.wasm")))
        }
        LoadSource::Bytes(_) => None,
    }
}

/// The retail-loan automatic path's three real plugin calls on the default host.
fn retail_loan_figures() {
    let registry = path_registry();
    let nodes = retail_loan_path(&registry);
    let mut total_p50 = Duration::ZERO;
    let mut total_cpu = Some(Duration::ZERO);
    for node in &nodes {
        let limits = CallLimits::default();
        // Pre-initialise first (what the first call of a node config does), so the
        // figures below are of the prepared path (building the inputs above already
        // called each node); the one-off cost is measured on fresh hosts.
        if node.plugin.is_preparable() && registry.host().config().max_prepared_configs > 0 {
            let state = node.plugin.prepare(&node.inputs[0].config, &limits);
            assert_eq!(state, PrepareState::Ready, "{}", node.plugin.id());
            let mut times = Vec::new();
            for cache_dir in [None, Some(bench_cache())] {
                let fresh = Host::new(HostConfig {
                    cache_dir,
                    ..HostConfig::default()
                })
                .expect("host");
                let Some(path) = bundled_or_dir_path(&node.plugin) else {
                    break;
                };
                let plugin = fresh.load_file(path).expect("plugin loads");
                let started = Instant::now();
                let state = plugin.prepare(&node.inputs[0].config, &limits);
                times.push(started.elapsed());
                assert_eq!(state, PrepareState::Ready);
            }
            if let [cold, cached] = times[..] {
                println!(
                    "retail-loan {:10} one-off preparation of its config: {} compiling, {} from the artifact cache",
                    node.node,
                    ms(cold),
                    ms(cached)
                );
            }
        }
        for input in &node.inputs {
            for _ in 0..50 {
                assert!(node.plugin.call(input, &limits).report.output.is_ok());
            }
        }
        let rounds = 2_000;
        let mut samples = Vec::with_capacity(rounds * node.inputs.len());
        for _ in 0..rounds {
            for input in &node.inputs {
                let started = Instant::now();
                let call = node.plugin.call(input, &limits);
                samples.push(started.elapsed());
                assert!(call.report.output.is_ok());
            }
        }
        samples.sort();
        let (p50, p99) = (percentile(&samples, 0.5), percentile(&samples, 0.99));
        let (two, cpu) = path_throughput(&node.plugin, &node.inputs, 2);
        total_p50 += p50;
        total_cpu = total_cpu.zip(cpu).map(|(t, c)| t + c);
        let config = node.inputs[0].config.len();
        let vars = node.inputs.iter().map(|i| i.vars.len()).sum::<usize>() / node.inputs.len();
        println!(
            "retail-loan {:10} {:16} config {:>5} B, vars ~{:>5} B: p50 {}  p99 {}  | {:.0} calls/s on 2 threads, CPU per call {}",
            node.node,
            node.plugin.id(),
            config,
            vars,
            us(p50),
            us(p99),
            two,
            cpu.map_or("n/a".into(), us),
        );
    }
    println!(
        "retail-loan path (3 calls): p50 sum {}, CPU per case {}",
        us(total_p50),
        total_cpu.map_or("n/a".into(), us)
    );

    // The host's share: the same inputs into a plugin that reads nothing and returns
    // `{}` (instance, copying the input in, resetting the instance's memory).
    let raw = std::fs::read(plugin_host::test_components::RAW).expect("raw");
    let raw = registry
        .host()
        .load(&raw, LoadSource::Bytes("raw".into()))
        .expect("raw loads");
    let inputs: Vec<StepInput> = nodes.iter().flat_map(|n| n.inputs.clone()).collect();
    let (_, cpu) = path_throughput(&raw, &inputs, 2);
    println!(
        "retail-loan inputs into hostile-raw (host share per call, nothing parsed): CPU per call {}",
        cpu.map_or("n/a".into(), us)
    );
}

fn figures() {
    retail_loan_figures();
    if std::env::var("PLUGIN_BENCH").is_ok_and(|v| v == "path") {
        return;
    }
    println!(
        "== plugin host figures ({} CPUs) ==",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let misbehave = std::fs::read(plugin_host::test_components::MISBEHAVE).expect("misbehave");
    let raw = std::fs::read(plugin_host::test_components::RAW).expect("raw");
    for (strategy, pooling, keep) in STRATEGIES {
        let host = host(pooling, keep, Some(bench_cache()));
        let raw = host
            .load(&raw, LoadSource::Bytes("raw".into()))
            .expect("raw loads");
        let echo = host
            .load(&misbehave, LoadSource::Bytes("misbehave".into()))
            .expect("loads");
        for (name, plugin, input) in [
            ("minimal (raw)", &raw, minimal_input()),
            ("echo (SDK, JSON)", &echo, echo_input()),
        ] {
            let (p50, p99, mean) = per_call(plugin, &input, 20_000);
            let one = calls_per_second(plugin, &input, 1);
            let two = calls_per_second(plugin, &input, 2);
            println!(
                "{strategy:16} {name:17} fresh instance per call: p50 {}  p99 {}  mean {}  | {:.0} calls/s on 1 thread, {:.0} calls/s on 2 threads",
                us(p50),
                us(p99),
                us(mean),
                one,
                two
            );
        }
    }

    // Load time per plugin: cold = compile (empty cache directory, new host); warm =
    // precompiled artifact from the cache directory (new host, as after a restart).
    let registry = Registry::bundled().expect("bundled");
    let mut components: Vec<(String, Vec<u8>)> = vec![
        ("hostile-misbehave".into(), misbehave.clone()),
        ("hostile-raw".into(), raw.clone()),
    ];
    for plugin in registry.plugins() {
        let bytes = bundled_bytes(plugin);
        components.push((plugin.id(), bytes));
    }
    // The allocation strategy does not change load times: the default host only.
    for (name, bytes) in &components {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = Some(dir.path().to_path_buf());
        let cold_started = Instant::now();
        let cold = host(true, 2 << 20, cache.clone())
            .load(bytes, LoadSource::Bytes(name.clone()))
            .expect("cold load");
        let cold_time = cold_started.elapsed();
        assert_eq!(cold.code_source(), "compiled");
        let mut warm_times = Vec::new();
        for _ in 0..5 {
            let warm_host = host(true, 2 << 20, cache.clone());
            let started = Instant::now();
            let warm = warm_host
                .load(bytes, LoadSource::Bytes(name.clone()))
                .expect("warm");
            warm_times.push(started.elapsed());
            assert_eq!(warm.code_source(), "cached");
        }
        warm_times.sort();
        println!(
            "load {name:26} {:>5} KiB  cold (compile + link + describe) {:>9}  warm (cached artifact) {:>8}",
            bytes.len() >> 10,
            ms(cold_time),
            ms(warm_times[2])
        );
    }
}

/// The bundled plugin's component bytes, from the build output beside the test
/// components (the registry keeps no bytes).
fn bundled_bytes(plugin: &LoadedPlugin) -> Vec<u8> {
    let LoadSource::Bundled(krate) = plugin.source() else {
        panic!("{} is not bundled", plugin.id())
    };
    let dir = std::path::Path::new(plugin_host::test_components::MISBEHAVE)
        .parent()
        .expect("components dir");
    let file = dir.join(format!("{krate}.wasm"));
    std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

fn criterion_benches(c: &mut Criterion) {
    let raw = std::fs::read(plugin_host::test_components::RAW).expect("raw");
    let misbehave = std::fs::read(plugin_host::test_components::MISBEHAVE).expect("misbehave");
    let limits = CallLimits::default();
    for (strategy, pooling, keep) in STRATEGIES {
        let host = host(pooling, keep, Some(bench_cache()));
        let raw = host
            .load(&raw, LoadSource::Bytes("raw".into()))
            .expect("raw");
        let echo = host
            .load(&misbehave, LoadSource::Bytes("misbehave".into()))
            .expect("echo");
        let mut group = c.benchmark_group(format!("fresh_instance_call/{strategy}"));
        let minimal = minimal_input();
        group.bench_function("minimal", |b| b.iter(|| raw.call(&minimal, &limits)));
        let echo_in = echo_input();
        group.bench_function("echo", |b| b.iter(|| echo.call(&echo_in, &limits)));
        group.finish();
    }
}

/// A fixed number of calls of one retail-loan node (after the same warm-up as the
/// figures), for counting instructions from outside.
fn fixed_calls(node: &str) {
    // `PLUGIN_BENCH_ROUNDS`: rounds over the node's sample inputs (default 2,000). Two
    // counts under `valgrind --tool=callgrind` give the instructions per call as the
    // difference of their totals, without the start-up.
    let rounds: usize = std::env::var("PLUGIN_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(2_000);
    let registry = path_registry();
    let nodes = retail_loan_path(&registry);
    let limits = CallLimits::default();
    if node == "raw" {
        // The host's share alone: the score node's inputs into hostile-raw.
        let raw = std::fs::read(plugin_host::test_components::RAW).expect("raw");
        let raw = registry
            .host()
            .load(&raw, LoadSource::Bytes("raw".into()))
            .expect("raw loads");
        for _ in 0..rounds {
            for input in &nodes[1].inputs {
                assert!(raw.call(input, &limits).report.output.is_ok());
            }
        }
        return;
    }
    let node = nodes.iter().find(|n| n.node == node).unwrap_or_else(|| {
        panic!("no retail-loan node `{node}` (documents, score, compliance, raw)")
    });
    for _ in 0..rounds {
        for input in &node.inputs {
            assert!(node.plugin.call(input, &limits).report.output.is_ok());
        }
    }
}

fn main() {
    // Criterion parses the command line itself, so the choice goes through the
    // environment: PLUGIN_BENCH=figures (figures only), =path (the retail-loan path
    // only), =calls:<node> or =criterion.
    let only = std::env::var("PLUGIN_BENCH").unwrap_or_default();
    if let Some(node) = only.strip_prefix("calls:") {
        fixed_calls(node);
        return;
    }
    if only != "criterion" {
        figures();
    }
    if only == "figures" || only == "path" {
        return;
    }
    let mut criterion = Criterion::default()
        .sample_size(50)
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    criterion_benches(&mut criterion);
    criterion.final_summary();
}

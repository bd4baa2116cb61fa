//! `docket graph FILE --format mermaid|dot`: the flow as a picture.

use anyhow::Result;
use clap::ValueEnum;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum Format {
    /// Mermaid flowchart (renders in GitHub/GitLab Markdown).
    Mermaid,
    /// Graphviz DOT (`docket graph f.yaml --format dot | dot -Tsvg > f.svg`).
    Dot,
}

#[derive(clap::Args)]
pub(crate) struct GraphArgs {
    /// A flow file (YAML).
    file: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Mermaid)]
    format: Format,
}

pub(crate) fn run(args: GraphArgs) -> Result<ExitCode> {
    let name = args.file.display().to_string();
    let src = std::fs::read_to_string(&args.file)
        .map_err(|e| anyhow::anyhow!("cannot read {name}: {e}"))?;
    // Plugins do not change the picture: no registry, so drawing stays instant.
    match engine::flow::load(&name, &src, None) {
        Ok((flow, _warnings)) => {
            let text = match args.format {
                Format::Mermaid => engine::flow::render::mermaid(&flow),
                Format::Dot => engine::flow::render::dot(&flow),
            };
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Err(diags) => {
            for d in &diags {
                eprintln!("{}", d.render(&src));
            }
            eprintln!("{name}: not drawn, the flow is invalid (see `docket validate`)");
            Ok(ExitCode::FAILURE)
        }
    }
}

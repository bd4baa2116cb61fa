//! The host's error type: what can go wrong while setting up the sandbox or loading a
//! component. Failures of a call are `model::plugin::StepError`s instead.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("plugin host: could not configure wasmtime: {0}")]
    Engine(String),

    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{origin}: not a valid plugin component: {message}")]
    Compile { origin: String, message: String },

    #[error(
        "{origin}: imports {}, which plugins may not use; a plugin gets its input, \
         `docket:plugin/log` and deterministic stand-ins for WASI stdio, clocks, random \
         and an empty filesystem, nothing else",
        imports.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")
    )]
    ForbiddenImport {
        origin: String,
        imports: Vec<String>,
    },

    #[error("{origin}: could not link the component: {message}")]
    Link { origin: String, message: String },

    #[error("{origin}: describe() failed: {message}")]
    Describe { origin: String, message: String },

    #[error("{origin}: describe() returned an invalid {field}: {message}")]
    InvalidInfo {
        origin: String,
        field: &'static str,
        message: String,
    },

    #[error(
        "{plugin} is registered twice with different builds: sha256 {first} ({first_origin}) \
         and {second} ({second_origin})"
    )]
    Conflict {
        plugin: String,
        first: String,
        first_origin: String,
        second: String,
        second_origin: String,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

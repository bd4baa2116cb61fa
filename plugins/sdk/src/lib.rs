//! Guest SDK for Docket plugins.
//!
//! A plugin implements [`Plugin`] on a unit struct and calls `export_plugin!(MyPlugin)`.
//! Everything here also compiles for the host, so a plugin's logic is unit-tested with
//! plain `cargo test`; the component glue only matters on `wasm32-wasip2`.

pub use serde_json::{self, Value, json};

/// What a plugin says about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Info {
    pub name: String,
    pub version: String,
    pub config_schema: Value,
    pub output_schema: Value,
}

/// One call's input.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub case_id: String,
    pub node_id: String,
    pub config: Value,
    pub vars: Value,
    /// `YYYY-MM-DD`.
    pub business_date: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    pub code: String,
    pub message: String,
    pub weight: f64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Output {
    pub result: Value,
    pub outcome: Option<String>,
    pub score: Option<f64>,
    pub reasons: Vec<Reason>,
}

/// A plugin's own error (bad config, missing input…): the step fails with this code.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub code: String,
    pub message: String,
}

impl Error {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { code: code.into(), message: message.into() }
    }
}

/// Implemented by every plugin.
pub trait Plugin {
    fn describe() -> Info;
    fn run(input: Input) -> Result<Output, Error>;
}

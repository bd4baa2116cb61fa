//! The plugin's one error type: rejected config or case input, each naming the place.

/// Why a call could not be checked at all. Problems *with the documents* are findings,
/// not errors; an error means the flow's config or the case's shape is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The node config does not fit the schema; `pointer` is a JSON pointer into it.
    #[error("config {}: {message}", at(pointer))]
    Config { pointer: String, message: String },
    /// The case variables lack something or have the wrong shape; `pointer` is a JSON
    /// pointer into the variables.
    #[error("vars {}: {message}", at(pointer))]
    Input { pointer: String, message: String },
    #[error("business date `{0}` is not a YYYY-MM-DD calendar date")]
    BusinessDate(String),
}

fn at(pointer: &str) -> String {
    if pointer.is_empty() {
        "(the whole document)".to_string()
    } else {
        format!("at {pointer}")
    }
}

impl Error {
    pub fn config(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Config {
            pointer: pointer.into(),
            message: message.into(),
        }
    }

    pub fn input(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Input {
            pointer: pointer.into(),
            message: message.into(),
        }
    }

    /// The stable code the step fails with.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Config { .. } => "invalid_config",
            Error::Input { .. } => "invalid_input",
            Error::BusinessDate(_) => "invalid_business_date",
        }
    }
}

impl From<Error> for plugin_sdk::Error {
    fn from(e: Error) -> Self {
        plugin_sdk::Error::new(e.code(), e.to_string())
    }
}

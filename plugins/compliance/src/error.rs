//! The compliance plugin's errors: bad config, missing or malformed case variables.

/// Why a compliance call could not produce a verdict. Every message names the JSON
/// pointer at fault: into the node config (`config/...`) or into the case variables
/// (`vars/...`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    #[error("invalid config at {pointer}: {message}")]
    InvalidConfig { pointer: String, message: String },
    #[error("missing input: case variable {pointer} is required by rule {rule}")]
    MissingInput { pointer: String, rule: String },
    #[error("invalid case variable {pointer}: {message}")]
    InvalidInput { pointer: String, message: String },
    #[error("invalid business date `{0}`: expected YYYY-MM-DD")]
    BusinessDate(String),
}

impl Error {
    /// The stable error code the step fails with.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidConfig { .. } => "invalid_config",
            Self::MissingInput { .. } => "missing_input",
            Self::InvalidInput { .. } => "invalid_input",
            Self::BusinessDate(_) => "invalid_business_date",
        }
    }

    pub(crate) fn config(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidConfig {
            pointer: pointer.into(),
            message: message.into(),
        }
    }
}

impl From<Error> for plugin_sdk::Error {
    fn from(e: Error) -> Self {
        plugin_sdk::Error::new(e.code(), e.to_string())
    }
}

//! The guarantee-circle plugin's errors: bad config, missing or malformed network data,
//! and networks larger than the configured bounds.

/// Why no analysis could be produced. Every message names the JSON pointer at fault:
/// into the node config or into the case variables.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    #[error("invalid config at {pointer}: {message}")]
    InvalidConfig { pointer: String, message: String },
    #[error("missing input: case variable {0} is required")]
    MissingInput(String),
    #[error("invalid case variable {pointer}: {message}")]
    InvalidInput { pointer: String, message: String },
    /// A bound from config was exceeded: a hostile or broken network is refused, never
    /// analysed slowly or partially.
    #[error("input too large at {pointer}: {found} {what}, the limit is {limit}")]
    TooLarge {
        pointer: String,
        what: &'static str,
        found: usize,
        limit: usize,
    },
}

impl Error {
    /// The stable error code the step fails with.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidConfig { .. } => "invalid_config",
            Self::MissingInput(_) => "missing_input",
            Self::InvalidInput { .. } => "invalid_input",
            Self::TooLarge { .. } => "input_too_large",
        }
    }

    pub(crate) fn config(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidConfig {
            pointer: pointer.into(),
            message: message.into(),
        }
    }

    pub(crate) fn input(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidInput {
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

//! The plugin port: what the engine needs from whatever runs plugins.
//!
//! Architecture invariant: the engine knows plugins only through this trait and these
//! plain data types. `plugins/host` implements it with wasmtime; the engine never
//! links wasmtime.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A reference to a plugin from a flow: `name@major`, e.g. `ocr-check@1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PluginRef {
    pub name: String,
    pub major: u64,
}

impl PluginRef {
    /// Parses `name@major`. The name is lowercase letters, digits and `-`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (name, major) = s.split_once('@').ok_or_else(|| {
            format!("plugin reference `{s}` must be `name@major`, e.g. `scorecard@1`")
        })?;
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !name.starts_with('-');
        if !valid_name {
            return Err(format!(
                "plugin name `{name}` must be lowercase letters, digits and `-`"
            ));
        }
        let major = major
            .parse::<u64>()
            .map_err(|_| format!("plugin major version `{major}` must be a whole number"))?;
        Ok(Self {
            name: name.to_string(),
            major,
        })
    }
}

impl fmt::Display for PluginRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.major)
    }
}

/// What a plugin says about itself (`describe()`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginInfo {
    pub name: String,
    /// Semantic version, e.g. `1.2.0`; its major is what flows pin.
    pub version: String,
    /// JSON Schema of the node `config` the plugin accepts.
    pub config_schema: serde_json::Value,
    /// JSON Schema of the `result` document it produces.
    pub output_schema: serde_json::Value,
}

/// The exact build of a plugin that ran: enough to prove later which code decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginBuild {
    pub name: String,
    pub version: String,
    /// Lowercase hex SHA-256 of the component's bytes.
    pub sha256: String,
}

/// Input of one plugin call, with its JSON documents as the exact text the plugin gets.
#[derive(Debug, Clone, PartialEq)]
pub struct StepInput {
    pub case_id: String,
    pub node_id: String,
    /// The node's `config` from the flow (JSON object text); one copy shared by every call
    /// of the node.
    pub config: Arc<str>,
    /// All case variables (JSON object text).
    pub vars: String,
    /// The case's business date, `YYYY-MM-DD`.
    pub business_date: String,
}

impl StepInput {
    /// An input from JSON values (tools and tests; the runtime serialises once per call).
    pub fn new(
        case_id: impl Into<String>,
        node_id: impl Into<String>,
        config: &serde_json::Value,
        vars: &serde_json::Value,
        business_date: impl Into<String>,
    ) -> Self {
        StepInput {
            case_id: case_id.into(),
            node_id: node_id.into(),
            config: config.to_string().into(),
            vars: vars.to_string(),
            business_date: business_date.into(),
        }
    }

    /// Lowercase hex SHA-256 of exactly what the plugin receives: each field (case id,
    /// node id, business date, config text, vars text), in that order, as its length
    /// (8 bytes, little-endian) followed by its UTF-8 bytes. The history records it with
    /// every plugin run, so a replayed input can be proven to be the one that ran.
    pub fn digest(&self) -> String {
        let mut hasher = Sha256::new();
        for field in [
            self.case_id.as_str(),
            self.node_id.as_str(),
            self.business_date.as_str(),
            &self.config,
            self.vars.as_str(),
        ] {
            hasher.update((field.len() as u64).to_le_bytes());
            hasher.update(field.as_bytes());
        }
        hex::encode(hasher.finalize())
    }
}

/// A reason code (e.g. an adverse-action reason from a scorecard).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasonCode {
    pub code: String,
    pub message: String,
    pub weight: f64,
}

/// Output of a successful plugin call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepOutput {
    /// The result document; lands in the node's `result` variable (shared, not copied).
    pub result: crate::doc::Doc,
    /// Optional routing outcome suggested by the plugin (e.g. `approve`, `refer`).
    pub outcome: Option<String>,
    pub score: Option<f64>,
    pub reasons: Vec<ReasonCode>,
}

/// Per-call limits. Defaults: 500 ms, 64 MiB memory, 1 MiB output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    pub timeout: Duration,
    pub memory_bytes: usize,
    pub output_bytes: usize,
}

impl Default for CallLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_millis(500),
            memory_bytes: 64 << 20,
            output_bytes: 1 << 20,
        }
    }
}

/// Why a plugin call failed. Every variant is a failed step (an incident after
/// retries), never a crashed engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepErrorKind {
    /// No plugin with that name and major version is registered.
    NotFound,
    /// The component could not be loaded (invalid, forbidden import…).
    Load,
    /// The guest trapped (unreachable, panic, stack overflow…).
    Trap,
    /// Wall-clock limit hit.
    Timeout,
    /// Linear-memory limit hit.
    MemoryLimit,
    /// Output larger than the limit.
    OutputTooLarge,
    /// Output that is not what the interface promises (invalid JSON…).
    MalformedOutput,
    /// The plugin returned its own error result.
    Plugin,
    /// The run was claimed again and again and never finished: the process running it
    /// stopped each time (crashed, was killed, or lost its lease). Not retried: a run that
    /// takes its process down would take the next one down too.
    Abandoned,
}

impl StepErrorKind {
    /// Whether retrying the same call could succeed. A plugin is a pure function of
    /// its input, so only limits tied to the machine's load are worth a retry.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Timeout)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("plugin {plugin} failed ({kind:?}): {message}")]
pub struct StepError {
    pub kind: StepErrorKind,
    /// `name@version` when known, else the reference that was asked for.
    pub plugin: String,
    /// Content hash when the component was identified.
    pub sha256: Option<String>,
    /// For plugin errors, the plugin's own error code.
    pub code: Option<String>,
    pub message: String,
}

/// A finished call: what came out and which build produced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallReport {
    pub build: PluginBuild,
    pub duration: Duration,
    pub output: Result<StepOutput, StepError>,
}

/// The port. Calls are synchronous and CPU-bound: the runtime runs them off the async
/// threads (`spawn_blocking` or a dedicated pool).
pub trait Plugins: Send + Sync + 'static {
    /// The newest registered plugin with this name and major version.
    fn describe(&self, plugin: &PluginRef) -> Option<PluginInfo>;

    /// Runs one call in a fresh sandbox. `Err` only when no build could be identified
    /// (unknown plugin); everything that happens once a build is chosen is reported
    /// in `CallReport::output`, with the build's hash.
    fn call(
        &self,
        plugin: &PluginRef,
        input: &StepInput,
        limits: &CallLimits,
    ) -> Result<CallReport, StepError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_input_digest_covers_every_field_with_its_length() {
        let input = StepInput::new(
            "c",
            "n",
            &json!({"card": "v1"}),
            &json!({"amount": 100}),
            "2026-03-01",
        );
        let mut framed = Vec::new();
        for field in [
            "c",
            "n",
            "2026-03-01",
            r#"{"card":"v1"}"#,
            r#"{"amount":100}"#,
        ] {
            framed.extend_from_slice(&(field.len() as u64).to_le_bytes());
            framed.extend_from_slice(field.as_bytes());
        }
        assert_eq!(input.digest(), hex::encode(Sha256::digest(&framed)));

        // Moving a byte from one field to the next changes the digest (the lengths frame them).
        let shifted = StepInput {
            case_id: "cn".into(),
            node_id: String::new(),
            ..input.clone()
        };
        assert_ne!(shifted.digest(), input.digest());
        let other_vars = StepInput {
            vars: r#"{"amount":101}"#.into(),
            ..input.clone()
        };
        assert_ne!(other_vars.digest(), input.digest());
    }
}

//! Guest SDK for Docket plugins.
//!
//! A plugin implements [`Plugin`] on a unit struct and calls `export_plugin!(MyPlugin)`.
//! Everything here also compiles for the host, so a plugin's logic is unit-tested with
//! plain `cargo test`; the component glue only matters on `wasm32-wasip2`.
//!
//! ```
//! use plugin_sdk::{Error, Info, Input, Output, Plugin, json};
//!
//! pub struct Greeter;
//!
//! impl Plugin for Greeter {
//!     fn describe() -> Info {
//!         Info {
//!             name: "greeter".into(),
//!             version: "1.0.0".into(),
//!             config_schema: json!({ "type": "object" }),
//!             output_schema: json!({ "type": "object" }),
//!         }
//!     }
//!     fn run(input: Input) -> Result<Output, Error> {
//!         plugin_sdk::log::info("greeting");
//!         Ok(Output { result: json!({ "hello": input.vars["name"] }), ..Output::default() })
//!     }
//! }
//!
//! plugin_sdk::export_plugin!(Greeter);
//! ```
//!
//! [`Plugin`] hands the config and case variables over as `serde_json::Value` trees.
//! A plugin on the hot path of a flow implements [`TextPlugin`] instead (and calls
//! `export_text_plugin!`): it gets the JSON text and reads only what it needs, straight
//! into typed structs ([`json`]), and writes its result as text. Building every `Value`
//! of a few kilobytes of input and output is most of the cost of a call otherwise.
//!
//! A [`TextPlugin`] also splits the node config's parsing off into
//! [`TextPlugin::prepare`]: `export_text_plugin!` exports the `prepared-step` world, whose
//! `prepare` the host calls once per config on a fresh instance before snapshotting it
//! (so every later call of that node starts with its config already parsed). `run` gets
//! the prepared config when the call's config is the prepared text byte for byte, and a
//! config prepared on the fly otherwise, so a result never depends on what was prepared.

// The generated bindings name the runtime as `plugin_sdk::…` so that plugin crates
// need no direct dependency on wit-bindgen; this alias makes the same paths resolve
// inside the SDK itself.
extern crate self as plugin_sdk;

pub use serde_json::{self, Value, json};

pub mod json;
pub mod log;
pub mod path;

pub use json::{Json, ParseError, Vars};

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
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// Implemented by every plugin.
pub trait Plugin {
    fn describe() -> Info;
    fn run(input: Input) -> Result<Output, Error>;
}

/// One call's input as the host sends it: the JSON documents stay text until read.
#[derive(Debug, Clone)]
pub struct TextInput<'a> {
    pub case_id: &'a str,
    pub node_id: &'a str,
    /// The node config (syntax checked, not parsed).
    pub config: Json<'a>,
    /// The case variables (structure checked, top level indexed).
    pub vars: Vars<'a>,
    /// `YYYY-MM-DD`.
    pub business_date: &'a str,
}

impl<'a> TextInput<'a> {
    /// Indexes the case variables' top level (checking their structure; see
    /// [`Vars::parse`]). The
    /// config is read by the plugin's typed parse, which fails on bad syntax; when a
    /// call fails, the SDK checks the config's syntax and reports it as `invalid_input`.
    pub fn new(
        case_id: &'a str,
        node_id: &'a str,
        config: &'a str,
        vars: &'a str,
        business_date: &'a str,
    ) -> Result<Self, Error> {
        Ok(Self {
            case_id,
            node_id,
            config: Json::unchecked(config),
            vars: Vars::parse(vars).map_err(|e| invalid_json("vars", e))?,
            business_date,
        })
    }

    /// `invalid_input` when the config is not JSON: what a failed call reports instead
    /// of the plugin's own error (which would be about a document the host never sent).
    fn check_config(&self) -> Result<(), Error> {
        Json::document(self.config.text())
            .map(|_| ())
            .map_err(|e| invalid_json("config", e))
    }
}

fn invalid_json(field: &str, e: ParseError) -> Error {
    Error::new(
        __private::INVALID_INPUT,
        format!("input field `{field}` is not valid JSON: {}", e.message),
    )
}

impl Input {
    /// Runs `f` on this input written out as text: how tests and tools built around
    /// `Value`s call a [`TextPlugin`]'s logic.
    pub fn with_text<R>(&self, f: impl FnOnce(&TextInput<'_>) -> R) -> R {
        let (config, vars) = (self.config.to_string(), self.vars.to_string());
        let input = TextInput::new(
            &self.case_id,
            &self.node_id,
            &config,
            &vars,
            &self.business_date,
        )
        .expect("a serde_json::Value always writes valid JSON");
        f(&input)
    }
}

/// A [`TextPlugin`]'s output: the result document is JSON text.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TextOutput {
    /// The result document as JSON text (see [`to_json`]).
    pub result: String,
    pub outcome: Option<String>,
    pub score: Option<f64>,
    pub reasons: Vec<Reason>,
}

impl TextOutput {
    /// The same output with its result parsed into a `Value` (tests and tools).
    pub fn into_output(self) -> Result<Output, Error> {
        let result = serde_json::from_str(&self.result).map_err(|e| {
            Error::new(
                __private::INVALID_OUTPUT,
                format!("the result is not valid JSON: {e}"),
            )
        })?;
        Ok(Output {
            result,
            outcome: self.outcome,
            score: self.score,
            reasons: self.reasons,
        })
    }
}

/// A result document as canonical JSON text (keys sorted at every level, no whitespace):
/// the host keeps canonical results as they are, where any other text is parsed and
/// written out again. Fails (code `invalid_output`) only for data JSON cannot hold, such
/// as a map with non-string keys.
pub fn to_json<T: serde::Serialize + ?Sized>(result: &T) -> Result<String, Error> {
    canonical_json::to_canonical_json(result, None).map_err(|e| {
        Error::new(
            __private::INVALID_OUTPUT,
            format!("the result could not be encoded as JSON: {e}"),
        )
    })
}

/// A plugin that reads its input as JSON text ([`TextInput`]) and writes its result as
/// text. Export it with `export_text_plugin!`.
///
/// The node config is parsed by [`TextPlugin::prepare`], once per config text when the
/// host pre-initialises the plugin for it, and `run` gets the outcome. `run` receives a
/// failed preparation as an `Err` rather than not being called, so a plugin decides
/// which of its errors comes first (e.g. a bad business date before a bad config),
/// exactly as when it parsed the config itself.
pub trait TextPlugin {
    /// The node config, parsed and checked. It lives in the instance's memory (a
    /// static), so it owns its data.
    type Config: Send + Sync + 'static;

    fn describe() -> Info;

    /// Parses and checks a node config. Must depend on nothing but `config`.
    fn prepare(config: Json<'_>) -> Result<Self::Config, Error>;

    /// One call, with the call's config as [`TextPlugin::prepare`] made it (or its error).
    fn run(
        input: &TextInput<'_>,
        config: Result<&Self::Config, Error>,
    ) -> Result<TextOutput, Error>;

    /// `prepare` then `run`: a call whose config was not prepared (tests and tools).
    fn prepare_and_run(input: &TextInput<'_>) -> Result<TextOutput, Error> {
        let config = Self::prepare(input.config);
        Self::run(input, config.as_ref().map_err(Clone::clone))
    }
}

/// What `prepare` kept in an instance: the config text and what it was prepared into.
/// `export_text_plugin!` declares one as a static; the host's snapshot of the instance
/// after `prepare` carries it into every call made from that snapshot.
pub struct PreparedConfig<C> {
    slot: std::sync::OnceLock<(Box<str>, C)>,
}

impl<C> PreparedConfig<C> {
    pub const fn new() -> Self {
        Self {
            slot: std::sync::OnceLock::new(),
        }
    }

    /// The value prepared from exactly `config` (byte for byte), if any.
    pub fn get(&self, config: &str) -> Option<&C> {
        self.slot
            .get()
            .filter(|(text, _)| same_text(text, config))
            .map(|(_, value)| value)
    }

    /// Keeps `value` as prepared from `config`, unless something was kept already.
    fn keep(&self, config: &str, value: C) {
        let _ = self.slot.set((config.into(), value));
    }
}

/// `a == b`, eight bytes at a time: every call compares its config text (kilobytes)
/// with the prepared one, and the guest's libc `memcmp` goes byte by byte.
fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let (mut wa, mut wb) = (a.chunks_exact(8), b.chunks_exact(8));
    let word = |c: &[u8]| u64::from_le_bytes(c.try_into().expect("8 bytes"));
    if !wa
        .by_ref()
        .zip(wb.by_ref())
        .all(|(x, y)| word(x) == word(y))
    {
        return false;
    }
    wa.remainder()
        .iter()
        .zip(wb.remainder())
        .all(|(x, y)| x == y)
}

impl<C> Default for PreparedConfig<C> {
    fn default() -> Self {
        Self::new()
    }
}

/// Component bindings for the `docket:plugin/step` world (plugins/wit).
///
/// Generated for every target so the conversions below are type-checked by host
/// builds too; the imports only work inside a component (on the host they trap).
#[doc(hidden)]
#[allow(clippy::too_many_arguments)] // generated export glue
pub mod bindings {
    wit_bindgen::generate!({
        world: "step",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "__export_step_world",
        default_bindings_module: "plugin_sdk::bindings",
        runtime_path: "plugin_sdk::__private::wit_bindgen::rt",
    });
}

/// Component bindings for the `docket:plugin/prepared-step` world: `step` plus
/// `prepare`, what [`export_text_plugin!`] exports. Shares the types and the `log` import
/// with [`bindings`].
#[doc(hidden)]
#[allow(clippy::too_many_arguments)] // generated export glue
pub mod prepared_bindings {
    wit_bindgen::generate!({
        world: "prepared-step",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "__export_prepared_step_world",
        default_bindings_module: "plugin_sdk::prepared_bindings",
        runtime_path: "plugin_sdk::__private::wit_bindgen::rt",
        with: {
            "docket:plugin/types@0.1.0": crate::bindings::docket::plugin::types,
            "docket:plugin/log@0.1.0": crate::bindings::docket::plugin::log,
        },
    });
}

/// Exports a [`Plugin`] implementation as the component's `step` world.
///
/// Call it once, at the bottom of the plugin's `lib.rs`. On targets other than
/// `wasm32` it only checks that the type implements [`Plugin`], so the same crate
/// builds and unit-tests on the host.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct DocketPluginExport;

            impl $crate::bindings::Guest for DocketPluginExport {
                fn describe() -> $crate::bindings::docket::plugin::types::Info {
                    $crate::__private::describe::<$plugin>()
                }

                fn run(
                    input: $crate::bindings::docket::plugin::types::StepInput,
                ) -> ::core::result::Result<
                    $crate::bindings::docket::plugin::types::StepOutput,
                    $crate::bindings::docket::plugin::types::StepError,
                > {
                    $crate::__private::run::<$plugin>(input)
                }
            }

            $crate::bindings::__export_step_world!(
                DocketPluginExport with_types_in $crate::bindings
            );
        };

        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            fn assert_plugin<P: $crate::Plugin>() {}
            let _ = assert_plugin::<$plugin>;
        };
    };
}

/// Exports a [`TextPlugin`] implementation as the component's `prepared-step` world
/// (`step` plus `prepare`); like [`export_plugin!`] otherwise.
#[macro_export]
macro_rules! export_text_plugin {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct DocketPluginExport;

            static PREPARED: $crate::PreparedConfig<<$plugin as $crate::TextPlugin>::Config> =
                $crate::PreparedConfig::new();

            impl $crate::prepared_bindings::Guest for DocketPluginExport {
                fn describe() -> $crate::bindings::docket::plugin::types::Info {
                    $crate::__private::describe_text::<$plugin>()
                }

                fn run(
                    input: $crate::bindings::docket::plugin::types::StepInput,
                ) -> ::core::result::Result<
                    $crate::bindings::docket::plugin::types::StepOutput,
                    $crate::bindings::docket::plugin::types::StepError,
                > {
                    $crate::__private::run_text::<$plugin>(&PREPARED, input)
                }

                fn prepare(
                    config: ::std::string::String,
                ) -> ::core::result::Result<(), $crate::bindings::docket::plugin::types::StepError>
                {
                    $crate::__private::prepare_text::<$plugin>(&PREPARED, config)
                }
            }

            $crate::prepared_bindings::__export_prepared_step_world!(
                DocketPluginExport with_types_in $crate::prepared_bindings
            );
        };

        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            fn assert_plugin<P: $crate::TextPlugin>() {}
            let _ = assert_plugin::<$plugin>;
        };
    };
}

/// Glue used by [`export_plugin!`] and [`export_text_plugin!`]; not part of the public API.
#[doc(hidden)]
pub mod __private {
    use crate::bindings::docket::plugin::types as wit;
    use crate::{
        Error, Info, Input, Json, Output, Plugin, PreparedConfig, Reason, TextInput, TextOutput,
        TextPlugin,
    };

    pub use wit_bindgen;

    /// Error code for input the host sent that is not valid JSON. The host always
    /// sends valid JSON, so seeing it means a host bug, not a plugin bug.
    pub const INVALID_INPUT: &str = "invalid_input";
    /// Error code for a result the SDK could not serialise (e.g. a NaN score).
    pub const INVALID_OUTPUT: &str = "invalid_output";

    pub fn describe<P: Plugin>() -> wit::Info {
        wit_info(P::describe())
    }

    pub fn describe_text<P: TextPlugin>() -> wit::Info {
        wit_info(P::describe())
    }

    fn wit_info(info: Info) -> wit::Info {
        wit::Info {
            name: info.name,
            version: info.version,
            config_schema: info.config_schema.to_string(),
            output_schema: info.output_schema.to_string(),
        }
    }

    pub fn run<P: Plugin>(input: wit::StepInput) -> Result<wit::StepOutput, wit::StepError> {
        let input = decode_input(input).map_err(to_wit_error)?;
        let output = P::run(input).map_err(to_wit_error)?;
        let Output {
            result,
            outcome,
            score,
            reasons,
        } = output;
        wit_output(TextOutput {
            result: canonical_json::canonical_json(&result),
            outcome,
            score,
            reasons,
        })
    }

    /// `prepare`: parses `config` and keeps it in `prepared` (the instance's static).
    pub fn prepare_text<P: TextPlugin>(
        prepared: &PreparedConfig<P::Config>,
        config: String,
    ) -> Result<(), wit::StepError> {
        if prepared.get(&config).is_some() {
            return Ok(());
        }
        match P::prepare(Json::unchecked(&config)) {
            Ok(value) => {
                prepared.keep(&config, value);
                Ok(())
            }
            Err(e) => Err(to_wit_error(
                Json::document(&config)
                    .err()
                    .map_or(e, |syntax| crate::invalid_json("config", syntax)),
            )),
        }
    }

    /// `run`: the prepared config when `input.config` is the prepared text, else the
    /// config prepared now.
    pub fn run_text<P: TextPlugin>(
        prepared: &PreparedConfig<P::Config>,
        input: wit::StepInput,
    ) -> Result<wit::StepOutput, wit::StepError> {
        let input = TextInput::new(
            &input.case_id,
            &input.node_id,
            &input.config,
            &input.vars,
            &input.business_date,
        )
        .map_err(to_wit_error)?;
        let output = match prepared.get(input.config.text()) {
            Some(config) => P::run(&input, Ok(config)),
            None => {
                let config = P::prepare(input.config);
                P::run(&input, config.as_ref().map_err(Clone::clone))
            }
        };
        let output = output
            .map_err(|e| input.check_config().err().unwrap_or(e))
            .map_err(to_wit_error)?;
        wit_output(output)
    }

    fn wit_output(output: TextOutput) -> Result<wit::StepOutput, wit::StepError> {
        if let Some(score) = output.score
            && !score.is_finite()
        {
            return Err(to_wit_error(Error::new(
                INVALID_OUTPUT,
                format!("score must be a finite number, got {score}"),
            )));
        }
        Ok(wit::StepOutput {
            result: output.result,
            outcome: output.outcome,
            score: output.score,
            reasons: output
                .reasons
                .into_iter()
                .map(|r: Reason| wit::Reason {
                    code: r.code,
                    message: r.message,
                    weight: r.weight,
                })
                .collect(),
        })
    }

    fn decode_input(input: wit::StepInput) -> Result<Input, Error> {
        let parse = |field: &str, text: &str| {
            serde_json::from_str(text).map_err(|e| {
                Error::new(
                    INVALID_INPUT,
                    format!("input field `{field}` is not valid JSON: {e}"),
                )
            })
        };
        Ok(Input {
            config: parse("config", &input.config)?,
            vars: parse("vars", &input.vars)?,
            case_id: input.case_id,
            node_id: input.node_id,
            business_date: input.business_date,
        })
    }

    fn to_wit_error(e: Error) -> wit::StepError {
        wit::StepError {
            code: e.code,
            message: e.message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::docket::plugin::types as wit;

    struct Echo;

    impl Plugin for Echo {
        fn describe() -> Info {
            Info {
                name: "echo".into(),
                version: "1.2.3".into(),
                config_schema: json!({ "type": "object" }),
                output_schema: json!({}),
            }
        }

        fn run(input: Input) -> Result<Output, Error> {
            if input.config["fail"] == json!(true) {
                return Err(Error::new("asked_to_fail", "config.fail is true"));
            }
            Ok(Output {
                result: json!({ "vars": input.vars, "case": input.case_id }),
                outcome: Some("approve".into()),
                score: input.config["score"]
                    .as_f64()
                    .or_else(|| (input.config["score"] == json!("nan")).then_some(f64::NAN)),
                reasons: vec![Reason {
                    code: "R1".into(),
                    message: "m".into(),
                    weight: 0.5,
                }],
            })
        }
    }

    export_plugin!(Echo);

    fn wit_input(config: &str, vars: &str) -> wit::StepInput {
        wit::StepInput {
            case_id: "c-1".into(),
            node_id: "n".into(),
            config: config.into(),
            vars: vars.into(),
            business_date: "2024-01-31".into(),
        }
    }

    #[test]
    fn describe_serialises_schemas_as_json_text() {
        let info = __private::describe::<Echo>();
        assert_eq!(info.name, "echo");
        assert_eq!(info.version, "1.2.3");
        assert_eq!(info.config_schema, r#"{"type":"object"}"#);
        assert_eq!(info.output_schema, "{}");
    }

    #[test]
    fn run_round_trips_json_documents() {
        let out = __private::run::<Echo>(wit_input("{}", r#"{"amount":5}"#)).unwrap();
        let result: Value = serde_json::from_str(&out.result).unwrap();
        assert_eq!(result, json!({ "vars": { "amount": 5 }, "case": "c-1" }));
        assert_eq!(out.outcome.as_deref(), Some("approve"));
        assert_eq!(out.reasons.len(), 1);
        assert_eq!(out.reasons[0].weight, 0.5);
    }

    #[test]
    fn plugin_errors_keep_their_code() {
        let err = __private::run::<Echo>(wit_input(r#"{"fail":true}"#, "{}")).unwrap_err();
        assert_eq!(err.code, "asked_to_fail");
    }

    #[test]
    fn invalid_input_json_is_an_error_not_a_panic() {
        let err = __private::run::<Echo>(wit_input("{", "{}")).unwrap_err();
        assert_eq!(err.code, __private::INVALID_INPUT);
        assert!(err.message.contains("`config`"), "{}", err.message);
    }

    /// The same plugin on the text interface: reads one variable, writes typed output.
    struct Sum;

    /// How often `Sum::prepare` ran (tests in this module run it on their own thread
    /// each, so each reads its own count).
    fn prepared_count() -> usize {
        PREPARES.with(|n| n.get())
    }

    thread_local! {
        static PREPARES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    impl TextPlugin for Sum {
        type Config = String;

        fn describe() -> Info {
            Echo::describe()
        }

        fn prepare(config: Json<'_>) -> Result<String, Error> {
            #[derive(serde::Deserialize)]
            struct Config<'a> {
                field: &'a str,
            }
            PREPARES.with(|n| n.set(n.get() + 1));
            let config: Config = config
                .parse()
                .map_err(|e| Error::new("bad_config", e.to_string()))?;
            Ok(config.field.to_string())
        }

        fn run(input: &TextInput<'_>, field: Result<&String, Error>) -> Result<TextOutput, Error> {
            if input.business_date.is_empty() {
                return Err(Error::new("no_date", "the business date comes first"));
            }
            let n = input.vars.get(field?).and_then(|v| v.as_f64());
            Ok(TextOutput {
                result: to_json(&json!({ "n": n, "case": input.case_id }))?,
                score: n,
                ..TextOutput::default()
            })
        }
    }

    fn run_sum(config: &str, vars: &str) -> Result<wit::StepOutput, wit::StepError> {
        __private::run_text::<Sum>(&PreparedConfig::new(), wit_input(config, vars))
    }

    #[test]
    fn a_text_plugin_reads_text_and_writes_text() {
        let out = run_sum(r#"{"field":"amount"}"#, r#"{"amount":5}"#).unwrap();
        // Canonical: keys sorted, so the host takes the text as it is.
        assert_eq!(out.result, r#"{"case":"c-1","n":5.0}"#);
        assert_eq!(out.score, Some(5.0));
        let err = run_sum(r#"{"field":1}"#, "{}").unwrap_err();
        assert_eq!(err.code, "bad_config");
        assert_eq!(
            err.message,
            "at /field: invalid type: integer `1`, expected a borrowed string"
        );
        let err = run_sum("{}", "{").unwrap_err();
        assert_eq!(err.code, __private::INVALID_INPUT);
        assert!(err.message.contains("`vars`"), "{}", err.message);
        // A config that is not JSON is the host's fault, not the plugin's.
        let err = run_sum(r#"{"field":"#, "{}").unwrap_err();
        assert_eq!(err.code, __private::INVALID_INPUT);
        assert!(err.message.contains("`config`"), "{}", err.message);
    }

    #[test]
    fn a_prepared_config_is_used_only_for_its_own_text() {
        let prepared = PreparedConfig::<String>::new();
        let config = r#"{"field":"amount"}"#;
        __private::prepare_text::<Sum>(&prepared, config.into()).unwrap();
        assert_eq!(prepared.get(config).map(String::as_str), Some("amount"));
        assert_eq!(prepared_count(), 1);

        let out =
            __private::run_text::<Sum>(&prepared, wit_input(config, r#"{"amount":5}"#)).unwrap();
        assert_eq!(out.score, Some(5.0));
        assert_eq!(
            prepared_count(),
            1,
            "the prepared config is reused, not parsed again"
        );

        // Another text (even one that means the same) is prepared on the fly.
        let spaced = r#"{"field": "amount"}"#;
        let out =
            __private::run_text::<Sum>(&prepared, wit_input(spaced, r#"{"amount":5}"#)).unwrap();
        assert_eq!(out.score, Some(5.0));
        let other = r#"{"field":"limit"}"#;
        let out =
            __private::run_text::<Sum>(&prepared, wit_input(other, r#"{"limit":7}"#)).unwrap();
        assert_eq!(out.score, Some(7.0));
        assert_eq!(prepared_count(), 3);

        // Preparing again keeps the first config.
        __private::prepare_text::<Sum>(&prepared, other.into()).unwrap();
        assert!(prepared.get(other).is_none());
        assert!(prepared.get(config).is_some());
    }

    #[test]
    fn a_failed_preparation_keeps_nothing_and_run_reports_it_in_the_plugins_order() {
        let prepared = PreparedConfig::<String>::new();
        let bad = r#"{"field":1}"#;
        let err = __private::prepare_text::<Sum>(&prepared, bad.into()).unwrap_err();
        assert_eq!(err.code, "bad_config");
        assert!(prepared.get(bad).is_none());
        let err = __private::run_text::<Sum>(&prepared, wit_input(bad, "{}")).unwrap_err();
        assert_eq!(err.code, "bad_config");
        // The plugin checks the date before it looks at the config.
        let mut input = wit_input(bad, "{}");
        input.business_date.clear();
        let err = __private::run_text::<Sum>(&prepared, input).unwrap_err();
        assert_eq!(err.code, "no_date");
        // Invalid JSON is reported as the host's fault by `prepare` too.
        let err = __private::prepare_text::<Sum>(&prepared, "{".into()).unwrap_err();
        assert_eq!(err.code, __private::INVALID_INPUT);
    }

    #[test]
    fn config_texts_compare_byte_for_byte() {
        let base: String = (0..37).map(|i| char::from(b'a' + i % 26)).collect();
        assert!(same_text(&base, &base.clone()));
        assert!(same_text("", ""));
        assert!(!same_text(&base, &base[..36]));
        for at in 0..base.len() {
            let mut other = base.clone().into_bytes();
            other[at] = b'#';
            assert!(
                !same_text(&base, std::str::from_utf8(&other).unwrap()),
                "{at}"
            );
        }
    }

    #[test]
    fn non_finite_scores_are_rejected() {
        // serde_json would turn NaN into null: it must be caught before the host.
        let err = __private::run::<Echo>(wit_input(r#"{"score":"nan"}"#, "{}")).unwrap_err();
        assert_eq!(err.code, __private::INVALID_OUTPUT);
        let ok = __private::run::<Echo>(wit_input(r#"{"score":0.25}"#, "{}")).unwrap();
        assert_eq!(ok.score, Some(0.25));
    }
}

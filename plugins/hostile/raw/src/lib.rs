//! Test-only plugin on the raw `step` world bindings (the SDK's, minus its
//! conversions), so it can break the
//! interface's promises: `config` text selects which promise to break.
//!
//! - `"bad-json"`: a result that is not JSON → the host reports malformed output.
//! - `"huge-reason"`: one reason code of 2 MiB → the host's output limit applies to
//!   every field, not only `result`.
//! - `"unsorted"`: valid JSON that is not canonical (whitespace, keys out of order, a
//!   needless escape, a trailing zero) → the host parses it and stores it canonically.
//! - anything else: a valid, empty result.

use plugin_sdk::bindings;
use plugin_sdk::bindings::docket::plugin::types::{Info, Reason, StepError, StepInput, StepOutput};

struct Raw;

impl bindings::Guest for Raw {
    fn describe() -> Info {
        Info {
            name: "hostile-raw".into(),
            version: "0.1.0".into(),
            config_schema: "{}".into(),
            output_schema: "{}".into(),
        }
    }

    fn run(input: StepInput) -> Result<StepOutput, StepError> {
        let (result, reasons) = if input.config.contains("bad-json") {
            ("{\"score\": 7,".to_string(), vec![])
        } else if input.config.contains("unsorted") {
            (
                "{ \"b\": 1, \"a\": [2.50, \"\\u0041\"] }".to_string(),
                vec![],
            )
        } else if input.config.contains("huge-reason") {
            let reason = Reason {
                code: "X".repeat(2 << 20),
                message: String::new(),
                weight: 0.0,
            };
            ("{}".to_string(), vec![reason])
        } else {
            ("{}".to_string(), vec![])
        };
        Ok(StepOutput {
            result,
            outcome: None,
            score: None,
            reasons,
        })
    }
}

bindings::__export_step_world!(Raw with_types_in plugin_sdk::bindings);

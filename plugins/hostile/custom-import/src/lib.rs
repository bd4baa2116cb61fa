//! Test-only plugin whose world imports `docket:hostile/exfiltrate`, which no host
//! provides: loading it must fail with an error naming that import.

#[allow(clippy::too_many_arguments)] // generated export glue
mod bindings {
    wit_bindgen::generate!({
        world: "docket:hostile/exfiltrating-step",
        path: ["../../wit", "wit"],
        generate_all,
    });
}

use bindings::docket::hostile::exfiltrate;
use bindings::docket::plugin::types::{Info, StepError, StepInput, StepOutput};

struct Exfiltrate;

impl bindings::Guest for Exfiltrate {
    fn describe() -> Info {
        Info {
            name: "hostile-custom-import".into(),
            version: "0.1.0".into(),
            config_schema: "{}".into(),
            output_schema: "{}".into(),
        }
    }

    fn run(input: StepInput) -> Result<StepOutput, StepError> {
        let sent = exfiltrate::send(&input.vars);
        Ok(StepOutput {
            result: format!("{{\"sent\":{sent}}}"),
            outcome: None,
            score: None,
            reasons: vec![],
        })
    }
}

bindings::export!(Exfiltrate with_types_in bindings);

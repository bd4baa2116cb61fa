//! Test-only plugin that misbehaves in `prepare`, the step the host runs once per node
//! config to pre-initialise instances: `config.prepare` picks the misdeed (`loop`,
//! `memory-bomb`, `panic`, or `ok`). `run` itself is well behaved: it echoes the mode.
//!
//! A call whose config was not prepared prepares it on the fly, so a hostile `prepare`
//! makes every call of that config fail the way `prepare` did — a typed step error —
//! while the host keeps serving other configs and plugins.

use plugin_sdk::{Error, Info, Json, TextInput, TextOutput, TextPlugin, json};

pub struct HostilePrepare;

impl TextPlugin for HostilePrepare {
    type Config = String;

    fn describe() -> Info {
        Info {
            name: "hostile-prepare".into(),
            version: "0.1.0".into(),
            config_schema: json!({
                "type": "object",
                "required": ["prepare"],
                "properties": {
                    "prepare": { "enum": ["ok", "loop", "memory-bomb", "panic"] }
                }
            }),
            output_schema: json!({ "type": "object" }),
        }
    }

    fn prepare(config: Json<'_>) -> Result<String, Error> {
        let mode = config
            .get("prepare")
            .and_then(|m| m.as_str())
            .ok_or_else(|| Error::new("bad_config", "`prepare` is missing"))?
            .into_owned();
        match mode.as_str() {
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "memory-bomb" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(std::hint::black_box(vec![0x5Au8; 1 << 20]));
                }
            }
            "panic" => panic!("prepare refused this config on purpose"),
            _ => Ok(mode),
        }
    }

    fn run(_input: &TextInput<'_>, mode: Result<&String, Error>) -> Result<TextOutput, Error> {
        Ok(TextOutput {
            result: json!({ "prepared": mode? }).to_string(),
            outcome: None,
            score: None,
            reasons: Vec::new(),
        })
    }
}

plugin_sdk::export_text_plugin!(HostilePrepare);

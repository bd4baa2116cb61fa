//! Test-only plugin that misbehaves on request: `config.mode` picks the misdeed.
//!
//! The host's integration tests (plugins/host/tests/it) call it to prove that every
//! misdeed becomes a typed step error and that the host keeps serving afterwards.
//! `echo` is the well-behaved mode, used to check the host after hostile calls. `scan`
//! rebuilds the JSON text in `vars.text` from the structural scan alone, as compiled for
//! plugins (with WebAssembly SIMD), so the host's tests can check it against serde_json.

use plugin_sdk::{Error, Info, Input, Output, Plugin, Reason, json, log};

pub struct Misbehave;

impl Plugin for Misbehave {
    fn describe() -> Info {
        Info {
            name: "hostile-misbehave".into(),
            version: "0.1.0".into(),
            config_schema: json!({
                "type": "object",
                "required": ["mode"],
                "properties": {
                    "mode": { "enum": [
                        "echo", "loop", "memory-bomb", "recursion", "panic", "oversized",
                        "error", "log-flood", "print", "sandbox", "scan"
                    ] },
                    "bytes": { "type": "integer", "minimum": 0 }
                }
            }),
            output_schema: json!({ "type": "object" }),
        }
    }

    fn run(input: Input) -> Result<Output, Error> {
        let mode = input.config["mode"].as_str().unwrap_or("echo");
        match mode {
            "echo" => {
                log::info(format!("echo for case {}", input.case_id));
                Ok(Output {
                    result: json!({
                        "case_id": input.case_id,
                        "node_id": input.node_id,
                        "business_date": input.business_date,
                        "vars": input.vars,
                    }),
                    outcome: Some("echoed".into()),
                    score: Some(1.5),
                    reasons: vec![Reason {
                        code: "ECHO".into(),
                        message: "echoed the input".into(),
                        weight: 1.0,
                    }],
                })
            }
            "loop" => spin_forever(),
            "memory-bomb" => {
                // Keep every chunk alive so the guest must grow linear memory until refused.
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    let chunk = vec![0xA5u8; 1 << 20];
                    hoard.push(std::hint::black_box(chunk));
                }
            }
            "recursion" => {
                let depth = recurse(std::hint::black_box(u64::MAX));
                Ok(Output {
                    result: json!({ "depth": depth }),
                    ..Output::default()
                })
            }
            "panic" => panic!("scorecard table is corrupt: row 7 has no bin"),
            "oversized" => {
                let bytes = input.config["bytes"].as_u64().unwrap_or(2 << 20) as usize;
                Ok(Output {
                    result: json!({ "blob": "x".repeat(bytes) }),
                    ..Output::default()
                })
            }
            "error" => Err(Error::new("missing_field", "vars.applicant is required")),
            "log-flood" => {
                for i in 0..100_000 {
                    log::warn(format!("flood line {i} {}", "y".repeat(100)));
                }
                Ok(Output {
                    result: json!({ "flooded": true }),
                    ..Output::default()
                })
            }
            "print" => {
                println!("to stdout");
                eprintln!("to stderr");
                Ok(Output {
                    result: json!({ "printed": true }),
                    ..Output::default()
                })
            }
            "sandbox" => Ok(Output {
                result: sandbox_report(),
                ..Output::default()
            }),
            "scan" => {
                let text = input.vars["text"].as_str().unwrap_or_default();
                Ok(Output {
                    result: json!({ "rebuilt": rebuild(text)? }),
                    ..Output::default()
                })
            }
            other => Err(Error::new("bad_mode", format!("unknown mode `{other}`"))),
        }
    }
}

/// The value of a JSON text, rebuilt from where [`canonical_json::scan::walk`] says
/// members and elements begin and end (scalars are parsed by serde_json).
fn rebuild(text: &str) -> Result<plugin_sdk::Value, Error> {
    use canonical_json::scan::{key, walk};
    use plugin_sdk::Value;
    let text = text.trim();
    let keyed = match text.as_bytes().first() {
        Some(b'{') => true,
        Some(b'[') => false,
        _ => {
            return plugin_sdk::serde_json::from_str(text)
                .map_err(|e| Error::new("bad_scalar", format!("{text}: {e}")));
        }
    };
    let mut members = plugin_sdk::serde_json::Map::new();
    let mut elements = Vec::new();
    let mut failed = None;
    let walked = walk(text, keyed, |literal, value| {
        let rebuilt = rebuild(value).map_err(|e| failed = Some(e)).ok()?;
        match literal {
            Some((literal, escaped)) => {
                members.insert(key(literal, escaped)?.into_owned(), rebuilt);
            }
            None => elements.push(rebuilt),
        }
        Some(())
    });
    if let Some(e) = failed {
        return Err(e);
    }
    if walked.is_none() {
        return Err(Error::new(
            "scan_failed",
            format!("the scan refused {text}"),
        ));
    }
    Ok(if keyed {
        Value::Object(members)
    } else {
        Value::Array(elements)
    })
}

fn spin_forever() -> ! {
    let mut x: u64 = 0;
    loop {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}

/// Recursion the optimiser cannot turn into a loop: each frame keeps a buffer alive
/// across the call.
fn recurse(n: u64) -> u64 {
    let frame = std::hint::black_box([n as u8; 64]);
    if n == 0 {
        return 0;
    }
    let below = recurse(std::hint::black_box(n - 1));
    below.wrapping_add(frame[(n % 64) as usize] as u64)
}

/// What the ambient world looks like from inside the sandbox: the host promises no
/// files, no environment, a clock fixed at the epoch and no real randomness.
fn sandbox_report() -> plugin_sdk::Value {
    use std::collections::hash_map::RandomState;
    use std::hash::BuildHasher;
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(u64::MAX);
    let file = match std::fs::read("/etc/passwd") {
        Ok(bytes) => format!("read {} bytes", bytes.len()),
        Err(e) => format!("error: {e}"),
    };
    let dir = std::fs::read_dir(".")
        .map(|_| "listed".to_string())
        .unwrap_or_else(|e| e.to_string());
    let hash = RandomState::new().hash_one(42u32);
    json!({
        "env_vars": std::env::vars().count(),
        "args": std::env::args().count(),
        "clock_nanos_since_epoch": since_epoch,
        "file": file,
        "dir": dir,
        "hash_of_42": hash.to_string(),
    })
}

plugin_sdk::export_plugin!(Misbehave);

#[cfg(test)]
mod tests {
    use super::*;

    fn input(config: plugin_sdk::Value) -> Input {
        Input {
            case_id: "c".into(),
            node_id: "n".into(),
            config,
            vars: json!({ "x": 1 }),
            business_date: "2024-05-01".into(),
        }
    }

    #[test]
    fn echo_returns_the_input() {
        let out = Misbehave::run(input(json!({ "mode": "echo" }))).unwrap();
        assert_eq!(out.result["vars"], json!({ "x": 1 }));
        assert_eq!(out.outcome.as_deref(), Some("echoed"));
    }

    #[test]
    fn oversized_honours_the_requested_size() {
        let out = Misbehave::run(input(json!({ "mode": "oversized", "bytes": 10 }))).unwrap();
        assert_eq!(out.result["blob"].as_str().unwrap().len(), 10);
    }

    #[test]
    fn unknown_modes_are_plugin_errors() {
        let err = Misbehave::run(input(json!({ "mode": "teleport" }))).unwrap_err();
        assert_eq!(err.code, "bad_mode");
    }
}

//! Test-only plugin that tries to reach the network with `std::net`.
//!
//! On wasm32-wasip2 this makes the component import `wasi:sockets/*`, which the host
//! must refuse when loading it, before any call runs.

use plugin_sdk::{Error, Info, Input, Output, Plugin, json};
use std::io::Write;

pub struct PhoneHome;

impl Plugin for PhoneHome {
    fn describe() -> Info {
        Info {
            name: "hostile-net".into(),
            version: "0.1.0".into(),
            config_schema: json!({ "type": "object" }),
            output_schema: json!({ "type": "object" }),
        }
    }

    fn run(input: Input) -> Result<Output, Error> {
        let address = input.config["address"].as_str().unwrap_or("127.0.0.1:9");
        let mut stream = std::net::TcpStream::connect(address)
            .map_err(|e| Error::new("connect", e.to_string()))?;
        stream
            .write_all(input.vars.to_string().as_bytes())
            .map_err(|e| Error::new("send", e.to_string()))?;
        Ok(Output {
            result: json!({ "sent": true }),
            ..Output::default()
        })
    }
}

plugin_sdk::export_plugin!(PhoneHome);

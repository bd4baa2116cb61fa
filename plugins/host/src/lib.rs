//! The plugin host: loads WebAssembly components and runs them in a sandbox.
//!
//! Architecture invariant: only this crate knows wasmtime. It implements the engine's
//! plugin port (`model::plugin::Plugins`) with [`Registry`]; everything a plugin can
//! do wrong (trap, loop, exhaust memory, return garbage, import what it must not)
//! ends as a typed `StepError`, never as a panic or a stuck thread.
//!
//! - [`Host`]: one wasmtime engine, its epoch ticker and the compiled-component cache.
//! - [`LoadedPlugin`]: a component that passed the import allow-list and `describe()`,
//!   pre-linked so each call is a fresh instance.
//! - [`Registry`]: plugins by `name@version`, bundled and from a directory.
//! - `prepare`: per node config, a snapshot of the plugin after its `prepare(config)`,
//!   so calls start with the config parsed ([`PrepareState`]).

mod bindings {
    wasmtime::component::bindgen!({
        world: "step",
        path: "../wit",
    });
}
mod bundled;
mod cache;
mod call;
mod error;
mod loaded;
mod prepare;
mod registry;
mod sandbox;
mod version;
mod wasi;

pub use call::{Call, LogLevel, LogLine};
pub use error::Error;
pub use loaded::{LoadSource, LoadedPlugin};
pub use prepare::PrepareState;
pub use registry::Registry;
pub use sandbox::{Host, HostConfig};
pub use version::Version;

/// Paths of the test-only hostile components built from plugins/hostile, for the
/// host's own tests and benchmarks. Not part of the API.
#[doc(hidden)]
pub mod test_components {
    /// SDK plugin that misbehaves as `config.mode` says (see plugins/hostile/misbehave).
    pub const MISBEHAVE: &str = env!("DOCKET_TEST_COMPONENT_HOSTILE_MISBEHAVE");
    /// SDK plugin whose `prepare(config)` loops, allocates without end or panics as
    /// `config.prepare` says (see plugins/hostile/prepare).
    pub const PREPARE: &str = env!("DOCKET_TEST_COMPONENT_HOSTILE_PREPARE");
    /// Raw-bindings plugin that returns invalid JSON or oversized reasons on request.
    pub const RAW: &str = env!("DOCKET_TEST_COMPONENT_HOSTILE_RAW");
    /// Plugin that uses `std::net` and so imports `wasi:sockets`.
    pub const NET: &str = env!("DOCKET_TEST_COMPONENT_HOSTILE_NET");
    /// Plugin whose world imports `docket:hostile/exfiltrate`.
    pub const CUSTOM_IMPORT: &str = env!("DOCKET_TEST_COMPONENT_HOSTILE_CUSTOM_IMPORT");
}

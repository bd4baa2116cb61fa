//! The engine's integration tests: one binary, one module per area.

mod acting;
mod flow_fixtures;
mod flow_plugins;
mod runtime;

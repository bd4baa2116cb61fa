//! The engine's integration tests: one binary, one module per area.

mod flow_fixtures;
mod flow_plugins;
mod leases;
mod runtime;

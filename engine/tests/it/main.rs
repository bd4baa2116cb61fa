//! The engine's integration tests: one binary, one module per area.

mod acting;
mod clock;
mod flow_fixtures;
mod flow_plugins;
mod leases;
mod runtime;

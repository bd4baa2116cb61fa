//! End-to-end tests of the `docket` binary. One test binary; one module per area.

mod core_cli;
mod crash;
mod flow_cli;
mod plugin_cli;
mod workflows;

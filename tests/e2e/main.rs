//! End-to-end tests of the `docket` binary. One test binary; one module per area.

mod flow_cli;

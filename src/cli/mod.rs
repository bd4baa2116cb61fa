//! CLI subcommands, one module each.

pub(crate) mod audit;
pub(crate) mod bench;
pub(crate) mod bundled;
pub(crate) mod cases;
pub(crate) mod explain;
pub(crate) mod graph;
pub(crate) mod history;
pub(crate) mod plugin;
pub(crate) mod run;
pub(crate) mod schema;
pub(crate) mod start;
pub(crate) mod tasks;
pub(crate) mod validate;
pub(crate) mod worker;

//! Docket's engine: the store and the runtime around the pure core in `model`.
//!
//! Architecture invariant: no HTTP and no wasmtime in this crate. IO lives here (`store`,
//! `runtime`); flows, expressions and the case state machine live in `model`, which does
//! none. They are re-exported so that `engine::case`, `engine::flow`… name them here too.

pub use model::{case, doc, expr, flow, plugin, schema};
pub mod directory;
pub mod runtime;
pub mod store;
pub mod views;

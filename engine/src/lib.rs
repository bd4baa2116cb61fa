//! Docket's engine: flows, expressions, the case state machine, the store and the runtime.
//!
//! Architecture invariant: no HTTP and no wasmtime in this crate. IO lives at the
//! edges (`store`, `runtime`); `flow`, `expr` and `case` are pure.

pub mod case;
pub mod directory;
pub mod doc;
pub mod expr;
pub mod flow;
pub mod plugin;
pub mod runtime;
pub mod schema;
pub mod store;
pub mod views;

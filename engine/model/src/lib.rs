//! Docket's pure core: flows, expressions, documents, schemas, the plugin port and the
//! case state machine.
//!
//! Architecture invariant: nothing here does IO or reads a clock; time, ids and plugin
//! results arrive as input. The crate depends on neither tokio nor sqlx, so the compiler
//! holds the state machine to that. `engine` adds the store and the runtime around it.

pub mod case;
pub mod doc;
pub mod expr;
pub mod flow;
pub mod plugin;
pub mod schema;

//! Docket's REST surface for approvers and supervisors (axum router, auth, OpenAPI).
//!
//! Architecture invariant: this crate speaks HTTP and calls `engine`; it never touches
//! SQL or wasmtime. The router lands with the REST issue; until then the CLI drives
//! the engine directly (`docket task complete`).

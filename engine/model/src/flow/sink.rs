//! Collects diagnostics while a flow is checked.

use super::diag::{Diagnostic, Severity};
use super::yaml::Pos;

pub(crate) struct Sink {
    pub(crate) file: String,
    pub(crate) out: Vec<Diagnostic>,
    /// Set when a node or target could not be read: graph-wide checks (reachability,
    /// paths to an end, joins) would then only repeat the same problem in other words,
    /// so they are skipped until it is fixed.
    pub(crate) incomplete: bool,
}

impl Sink {
    pub(crate) fn new(file: &str) -> Sink {
        Sink {
            file: file.to_string(),
            out: Vec::new(),
            incomplete: false,
        }
    }

    fn push(
        &mut self,
        severity: Severity,
        pos: Pos,
        code: &'static str,
        message: String,
        help: Option<String>,
    ) {
        self.out.push(Diagnostic {
            file: self.file.clone(),
            line: pos.line,
            column: pos.col,
            severity,
            code,
            message,
            help,
        });
    }

    pub(crate) fn error(
        &mut self,
        pos: Pos,
        code: &'static str,
        message: String,
        help: Option<String>,
    ) {
        self.push(Severity::Error, pos, code, message, help);
    }

    pub(crate) fn warn(
        &mut self,
        pos: Pos,
        code: &'static str,
        message: String,
        help: Option<String>,
    ) {
        self.push(Severity::Warning, pos, code, message, help);
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.out.iter().any(Diagnostic::is_error)
    }
}

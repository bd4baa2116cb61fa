//! Static checks of CEL expressions against what the flow declares.
//!
//! `cel` 0.15 does not type-check, so this module infers a coarse type for each
//! sub-expression — bool, number, string, list, map, null, or unknown — from literals,
//! operators and the `input` schema's declared `type`s (task results are unknown unless
//! the plugin registry gives their output schema). It reports:
//! - operands of `&&`, `||`, `!` and the `?:` condition that are known not to be bool;
//! - comparisons (`==`, `!=`, `<`, `<=`, `>`, `>=`) between two known, different types
//!   (e.g. a string-typed input compared with a number);
//! - arithmetic on known non-numbers (`+` also joins two strings or two lists);
//! - a whole expression of the wrong known type (a route condition that is a number, an
//!   authority that is a string);
//! - variables that no input field or task result defines (a warning: a plugin may still
//!   put them in place, but usually it is a typo).
//!
//! Anything unknown passes: this catches obvious slips, not every runtime error.

use super::codes;
use super::sink::Sink;
use super::yaml::{SourceMap, Yaml};
use crate::expr::{Expr, literal_kind, node_offset, qualified_name};
use crate::schema::{Schema, Type};
use cel::common::ast::{EntryExpr, Expr as Ast, IdedExpr};
use std::collections::{HashMap, HashSet};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum T {
    Bool,
    Number,
    String,
    List,
    Map,
    Null,
    Unknown,
}

impl fmt::Display for T {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            T::Bool => "bool",
            T::Number => "number",
            T::String => "string",
            T::List => "list",
            T::Map => "map",
            T::Null => "null",
            T::Unknown => "unknown",
        })
    }
}

/// What expressions may read.
pub(crate) struct Vars<'s> {
    pub(crate) input: &'s Schema,
    /// Task result names, with the plugin's output schema when the registry gave one.
    pub(crate) results: HashMap<String, Option<Schema>>,
    pub(crate) warn_undefined: bool,
}

impl Vars<'_> {
    fn lookup(&self, path: &[&str]) -> Option<T> {
        let (first, rest) = path.split_first()?;
        if self.input.declares(&[first]) {
            return Some(
                self.input
                    .types_at(path)
                    .map(from_schema)
                    .unwrap_or(T::Unknown),
            );
        }
        match self.results.get(*first) {
            Some(Some(schema)) => {
                Some(schema.types_at(rest).map(from_schema).unwrap_or(T::Unknown))
            }
            Some(None) => Some(T::Unknown),
            None => None,
        }
    }
}

fn from_schema(types: &[Type]) -> T {
    let mapped: HashSet<T> = types
        .iter()
        .map(|t| match t {
            Type::Object => T::Map,
            Type::Array => T::List,
            Type::String => T::String,
            Type::Number | Type::Integer => T::Number,
            Type::Boolean => T::Bool,
            Type::Null => T::Null,
        })
        .collect();
    if mapped.len() == 1 {
        mapped.into_iter().next().unwrap_or(T::Unknown)
    } else {
        T::Unknown
    }
}

struct Checker<'a, 'b> {
    expr: &'a Expr,
    node: &'a Yaml,
    map: &'a SourceMap,
    vars: &'a Vars<'b>,
    sink: &'a mut Sink,
    bound: Vec<String>,
    warned: HashSet<String>,
}

impl Checker<'_, '_> {
    fn at(&self, id: u64) -> super::yaml::Pos {
        let offset = node_offset(self.expr.program(), id).unwrap_or(0);
        self.map.pos_in_scalar(self.node, offset)
    }

    fn type_error(&mut self, id: u64, message: String, help: Option<String>) {
        let pos = self.at(id);
        let help = help.unwrap_or_else(|| TYPE_HELP.to_string());
        self.sink.error(pos, codes::CEL_TYPE, message, Some(help));
    }

    fn expect(&mut self, e: &IdedExpr, want: T, role: &str) {
        let got = self.infer(e);
        if got != T::Unknown && got != want {
            self.type_error(
                e.id,
                format!(
                    "{role} must be {want}, found {got} in `{}`",
                    self.expr.source()
                ),
                None,
            );
        }
    }

    fn infer(&mut self, e: &IdedExpr) -> T {
        if let Some(path) = qualified_name(&e.expr) {
            if self.bound.iter().any(|b| b == path[0]) {
                return T::Unknown;
            }
            return match self.vars.lookup(&path) {
                Some(t) => t,
                None => {
                    if self.vars.warn_undefined && self.warned.insert(path[0].to_string()) {
                        let pos = self.at(e.id);
                        self.sink.warn(
                            pos,
                            codes::UNDEFINED_VARIABLE,
                            format!("variable `{}` is not defined", path[0]),
                            Some(
                                "declare it in `input.properties` or name a task `result` after it"
                                    .into(),
                            ),
                        );
                    }
                    T::Unknown
                }
            };
        }
        match &e.expr {
            Ast::Literal(l) => match literal_kind(l) {
                "bool" => T::Bool,
                "number" => T::Number,
                "string" => T::String,
                "null" => T::Null,
                _ => T::Unknown,
            },
            Ast::List(l) => {
                for el in &l.elements {
                    self.infer(el);
                }
                T::List
            }
            Ast::Map(m) => {
                for entry in &m.entries {
                    self.entry(&entry.expr);
                }
                T::Map
            }
            Ast::Struct(s) => {
                for entry in &s.entries {
                    self.entry(&entry.expr);
                }
                T::Unknown
            }
            Ast::Select(sel) => {
                if sel.test {
                    // `has(x.y)`: x must exist, y may not.
                    self.infer(&sel.operand);
                    T::Bool
                } else {
                    let t = self.infer(&sel.operand);
                    if matches!(t, T::Bool | T::Number | T::String | T::Null) {
                        self.type_error(
                            e.id,
                            format!("`.{}` selects a field of a {t}, which has none", sel.field),
                            None,
                        );
                    }
                    T::Unknown
                }
            }
            Ast::Comprehension(c) => {
                self.infer(&c.iter_range);
                self.infer(&c.accu_init);
                let before = self.bound.len();
                self.bound.push(c.iter_var.clone());
                if let Some(v2) = &c.iter_var2 {
                    self.bound.push(v2.clone());
                }
                self.bound.push(c.accu_var.clone());
                self.infer(&c.loop_cond);
                self.infer(&c.loop_step);
                self.infer(&c.result);
                self.bound.truncate(before);
                T::Unknown
            }
            Ast::Call(call) => self.call(e.id, &call.func_name, call.target.as_deref(), &call.args),
            Ast::Ident(_) | Ast::Unspecified => T::Unknown,
        }
    }

    fn entry(&mut self, e: &EntryExpr) {
        match e {
            EntryExpr::StructField(f) => {
                self.infer(&f.value);
            }
            EntryExpr::MapEntry(m) => {
                self.infer(&m.key);
                self.infer(&m.value);
            }
        }
    }

    fn call(&mut self, id: u64, func: &str, target: Option<&IdedExpr>, args: &[IdedExpr]) -> T {
        match (func, args) {
            ("_&&_" | "_||_", [a, b]) => {
                let op = if func == "_&&_" { "&&" } else { "||" };
                self.expect(a, T::Bool, &format!("the left side of `{op}`"));
                self.expect(b, T::Bool, &format!("the right side of `{op}`"));
                T::Bool
            }
            ("!_", [a]) => {
                self.expect(a, T::Bool, "the operand of `!`");
                T::Bool
            }
            ("_?_:_", [c, a, b]) => {
                self.expect(c, T::Bool, "the condition of `?:`");
                let (ta, tb) = (self.infer(a), self.infer(b));
                if ta == tb { ta } else { T::Unknown }
            }
            ("_==_" | "_!=_" | "_<_" | "_<=_" | "_>_" | "_>=_", [a, b]) => {
                let (ta, tb) = (self.infer(a), self.infer(b));
                let ordering = !matches!(func, "_==_" | "_!=_");
                let comparable = ta == T::Unknown
                    || tb == T::Unknown
                    || ta == tb
                    || (!ordering && (ta == T::Null || tb == T::Null));
                let op = func.trim_matches('_');
                if !comparable {
                    self.type_error(
                        id,
                        format!(
                            "`{op}` compares a {ta} with a {tb} in `{}`",
                            self.expr.source()
                        ),
                        Some(hint(ta, tb)),
                    );
                } else if ordering && matches!(ta, T::Bool | T::List | T::Map | T::Null) {
                    self.type_error(
                        id,
                        format!(
                            "`{op}` cannot order {ta} values in `{}`",
                            self.expr.source()
                        ),
                        None,
                    );
                }
                T::Bool
            }
            ("_+_", [a, b]) => {
                let (ta, tb) = (self.infer(a), self.infer(b));
                if ta != T::Unknown && tb != T::Unknown {
                    let ok = ta == tb && matches!(ta, T::Number | T::String | T::List);
                    if !ok {
                        self.type_error(
                            id,
                            format!(
                                "`+` cannot add a {ta} and a {tb} in `{}`",
                                self.expr.source()
                            ),
                            Some(hint(ta, tb)),
                        );
                        return T::Unknown;
                    }
                }
                if ta != T::Unknown { ta } else { tb }
            }
            ("_-_" | "_*_" | "_/_" | "_%_", [a, b]) => {
                let op = func.trim_matches('_');
                for side in [a, b] {
                    let t = self.infer(side);
                    if !matches!(t, T::Number | T::Unknown) {
                        self.type_error(
                            side.id,
                            format!(
                                "`{op}` needs numbers, found a {t} in `{}`",
                                self.expr.source()
                            ),
                            None,
                        );
                        return T::Unknown;
                    }
                }
                T::Number
            }
            ("-_", [a]) => {
                let t = self.infer(a);
                if !matches!(t, T::Number | T::Unknown) {
                    self.type_error(a.id, format!("`-` needs a number, found a {t}"), None);
                }
                T::Number
            }
            ("@in", [a, b]) => {
                self.infer(a);
                let tb = self.infer(b);
                if !matches!(tb, T::List | T::Map | T::Unknown) {
                    self.type_error(
                        b.id,
                        format!("`in` needs a list or a map on its right, found a {tb}"),
                        None,
                    );
                }
                T::Bool
            }
            ("size", _) => {
                if let Some(t) = target {
                    self.infer(t);
                }
                for a in args {
                    self.infer(a);
                }
                T::Number
            }
            ("contains" | "startsWith" | "endsWith" | "matches", _) => {
                if let Some(t) = target {
                    let tt = self.infer(t);
                    if !matches!(tt, T::String | T::Unknown) {
                        self.type_error(
                            t.id,
                            format!("`{func}` needs a string, found a {tt}"),
                            None,
                        );
                    }
                }
                for a in args {
                    self.infer(a);
                }
                T::Bool
            }
            _ => {
                if let Some(t) = target {
                    self.infer(t);
                }
                for a in args {
                    self.infer(a);
                }
                match func {
                    "int" | "uint" | "double" => T::Number,
                    "string" => T::String,
                    "bool" => T::Bool,
                    _ => T::Unknown,
                }
            }
        }
    }
}

/// Where static types come from, for every type error without a more precise hint.
const TYPE_HELP: &str = "types come from literals and the `type` of `input` properties; fix the expression or the input field's `type`";

fn hint(a: T, b: T) -> String {
    if matches!((a, b), (T::String, T::Number) | (T::Number, T::String)) {
        "convert one side, e.g. `double(x)` or `string(x)`, or fix the input field's `type`".into()
    } else {
        "both sides must have the same type".into()
    }
}

/// Checks `expr` (read from the scalar `node`) and reports what it finds. `want` is the
/// type the place requires (`None`: anything).
pub(crate) fn check(
    sink: &mut Sink,
    map: &SourceMap,
    vars: &Vars<'_>,
    expr: &Expr,
    node: &Yaml,
    want: Option<T>,
    role: &str,
) {
    let mut checker = Checker {
        expr,
        node,
        map,
        vars,
        sink,
        bound: Vec::new(),
        warned: HashSet::new(),
    };
    let root = expr.program().expression();
    let got = checker.infer(root);
    if let Some(want) = want
        && got != T::Unknown
        && got != want
    {
        let pos = node.pos;
        sink_error_whole(checker.sink, pos, role, want, got, expr);
    }
}

fn sink_error_whole(
    sink: &mut Sink,
    pos: super::yaml::Pos,
    role: &str,
    want: T,
    got: T,
    expr: &Expr,
) {
    sink.error(
        pos,
        codes::CEL_TYPE,
        format!(
            "{role} must be a {want}, but `{}` is a {got}",
            expr.source()
        ),
        Some(TYPE_HELP.into()),
    );
}

//! Route conditions and other flow expressions: CEL (`cel` crate), compiled once per flow.
//!
//! Case variables are a JSON object; its top-level fields are CEL variables. Only the
//! variables an expression reads are converted from JSON on evaluation, into a child scope
//! of one per-thread root context (building a fresh standard context costs ~50x the
//! evaluation itself).

use crate::doc::JsonRef;
use canonical_json as canonical;
use cel::common::ast::{EntryExpr, Expr as Ast, IdedExpr, LiteralValue};
use cel::objects::{Key, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

/// Longest expression accepted: conditions are one-liners, and the parser's cost grows
/// with length.
pub const MAX_EXPR_CHARS: usize = 4096;

/// A compiled CEL expression. Cheap to clone (the program is shared).
#[derive(Clone)]
pub struct Expr {
    source: String,
    program: Arc<cel::Program>,
    references: Vec<String>,
    paths: Vec<String>,
    /// Per top-level variable, the part of it the expression can reach (see [`Reach`]).
    reach: Vec<(String, Reach)>,
}

/// The part of a variable an expression reads. Every use of a variable is a chain of
/// field selections (a path) or the variable itself, so handing CEL only the selected
/// fields evaluates the same as handing it the whole document — and a 50-field OCR result
/// read as `docs.outcome` costs one field's conversion, not fifty.
#[derive(Clone, Debug, PartialEq)]
enum Reach {
    /// The whole value (used as itself somewhere, e.g. `size(docs)` or `docs[k]`).
    All,
    /// Only these fields (each reached further down).
    Fields(BTreeMap<String, Reach>),
}

impl Reach {
    fn from_paths<'p>(paths: impl Iterator<Item = &'p str>) -> Reach {
        let mut reach = Reach::Fields(BTreeMap::new());
        for path in paths {
            let mut at = &mut reach;
            for segment in path.split('.') {
                let Reach::Fields(fields) = at else { break };
                at = fields
                    .entry(segment.to_string())
                    .or_insert_with(|| Reach::Fields(BTreeMap::new()));
            }
            *at = Reach::All;
        }
        reach
    }

    /// `value` cut down to what is reached, as CEL.
    fn project(&self, value: &serde_json::Value) -> Value {
        match (self, value) {
            (Reach::Fields(fields), serde_json::Value::Object(o)) => {
                let map: HashMap<Key, Value> = fields
                    .iter()
                    .filter_map(|(k, reach)| {
                        o.get(k)
                            .map(|v| (Key::String(Arc::new(k.clone())), reach.project(v)))
                    })
                    .collect();
                Value::Map(Map { map: Arc::new(map) })
            }
            // Not an object: selecting a field fails in CEL exactly as it would have.
            _ => json_to_cel(value),
        }
    }

    /// [`Reach::project`] of the value of canonical `text`, parsing only what is reached.
    fn project_text(&self, text: &str) -> Value {
        match self {
            Reach::Fields(fields) if text.starts_with('{') => {
                project_members(fields, |k| canonical::member(text, k))
            }
            _ => json_to_cel(&serde_json::from_str(text).expect("canonical text parses")),
        }
    }

    fn project_json(&self, json: JsonRef<'_>) -> Value {
        match (self, json) {
            (_, JsonRef::Value(value)) => self.project(value),
            // A kept document's top level is indexed: each field is one look-up.
            (Reach::Fields(fields), JsonRef::Kept(doc)) if doc.canonical().starts_with('{') => {
                project_members(fields, |k| doc.member(k))
            }
            (_, JsonRef::Kept(doc)) => self.project_text(doc.canonical()),
        }
    }
}

/// The reached `fields` of an object whose members' canonical texts `member` finds, as a
/// CEL map (a field the object lacks is left out, as [`Reach::project`] leaves it out).
fn project_members<'t>(
    fields: &BTreeMap<String, Reach>,
    member: impl Fn(&str) -> Option<&'t str>,
) -> Value {
    let map: HashMap<Key, Value> = fields
        .iter()
        .filter_map(|(k, reach)| {
            let text = member(k)?;
            Some((Key::String(Arc::new(k.clone())), reach.project_text(text)))
        })
        .collect();
    Value::Map(Map { map: Arc::new(map) })
}

/// Why an expression did not compile. `offset` is the position, in characters from the
/// start of the expression source, of the character the problem was found at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at character {offset} of `{source_text}`)")]
pub struct ExprError {
    pub message: String,
    pub offset: usize,
    pub source_text: String,
}

/// Where an evaluation reads the case variables from, by top-level name.
pub trait Variables {
    fn var(&self, name: &str) -> Option<JsonRef<'_>>;
}

/// A JSON object's members; anything else has no variables.
impl Variables for serde_json::Value {
    fn var(&self, name: &str) -> Option<JsonRef<'_>> {
        self.as_object()
            .and_then(|m| m.get(name))
            .map(JsonRef::Value)
    }
}

/// Why an evaluation failed. Every variant names the expression.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    #[error("`{expr}` failed: {message}")]
    Execution { expr: String, message: String },
    #[error("`{expr}` must give true or false, gave {found}")]
    NotBool {
        expr: String,
        found: serde_json::Value,
    },
    #[error("`{expr}` gave a value that has no JSON form ({kind})")]
    NoJson { expr: String, kind: String },
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Expr").field(&self.source).finish()
    }
}

impl PartialEq for Expr {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

thread_local! {
    // One standard-library root context per thread; evaluations bind their variables in a
    // child scope of it.
    static ROOT: cel::Context<'static, 'static> = cel::Context::default();
}

impl Expr {
    /// Parses `src`. Syntax errors carry the character offset inside `src`.
    pub fn compile(src: &str) -> Result<Expr, ExprError> {
        if src.chars().count() > MAX_EXPR_CHARS {
            return Err(ExprError {
                message: format!("expression longer than {MAX_EXPR_CHARS} characters"),
                offset: MAX_EXPR_CHARS,
                source_text: src.into(),
            });
        }
        if src.trim().is_empty() {
            return Err(ExprError {
                message: "empty expression".into(),
                offset: 0,
                source_text: src.into(),
            });
        }
        let program = cel::Program::compile(src).map_err(|errs| {
            let first = errs.errors.into_iter().next();
            let (message, offset) = match first {
                Some(e) => {
                    let offset = line_col_to_offset(src, e.pos.0, e.pos.1);
                    (e.msg, offset)
                }
                None => ("syntax error".to_string(), 0),
            };
            ExprError {
                message,
                offset,
                source_text: src.into(),
            }
        })?;
        let mut walker = RefWalker::default();
        walker.walk(program.expression(), &mut Vec::new());
        let references: Vec<String> = walker.top.into_iter().collect();
        let paths: Vec<String> = walker.paths.into_iter().collect();
        let reach = references
            .iter()
            .map(|name| {
                let under = paths.iter().filter_map(|p| {
                    if p == name {
                        Some("")
                    } else {
                        p.strip_prefix(name.as_str())?.strip_prefix('.')
                    }
                });
                let reach = if under.clone().any(str::is_empty) {
                    Reach::All
                } else {
                    Reach::from_paths(under)
                };
                (name.clone(), reach)
            })
            .collect();
        Ok(Expr {
            source: src.to_string(),
            references,
            paths,
            reach,
            program: Arc::new(program),
        })
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Top-level variable names the expression reads, sorted (macro-bound names such as
    /// `x` in `items.all(x, x > 0)` are not variables and are left out).
    pub fn references(&self) -> &[String] {
        &self.references
    }

    /// Dotted paths the expression reads, sorted, e.g. `["amount", "docs.ok"]`.
    pub fn paths(&self) -> &[String] {
        &self.paths
    }

    /// The compiled program, for static checks (`flow::types`).
    pub(crate) fn program(&self) -> &cel::Program {
        &self.program
    }

    /// Evaluates against `vars`, the case variables (a JSON object, or the case's
    /// [`crate::case::Vars`]).
    pub fn eval<V: Variables + ?Sized>(&self, vars: &V) -> Result<serde_json::Value, EvalError> {
        let value = ROOT.with(|root| {
            let mut scope = root.new_inner_scope();
            for (name, reach) in &self.reach {
                if let Some(v) = vars.var(name) {
                    scope.add_variable_from_value(name.as_str(), reach.project_json(v));
                }
            }
            self.program.execute(&scope)
        });
        let value = value.map_err(|e| EvalError::Execution {
            expr: self.source.clone(),
            message: e.to_string(),
        })?;
        cel_to_json(&value).ok_or_else(|| EvalError::NoJson {
            expr: self.source.clone(),
            kind: format!("{:?}", value.type_of()),
        })
    }

    /// Evaluates and requires a boolean.
    pub fn eval_bool<V: Variables + ?Sized>(&self, vars: &V) -> Result<bool, EvalError> {
        match self.eval(vars)? {
            serde_json::Value::Bool(b) => Ok(b),
            other => Err(EvalError::NotBool {
                expr: self.source.clone(),
                found: other,
            }),
        }
    }
}

/// CEL positions are (1-based line, 1-based column in characters).
fn line_col_to_offset(src: &str, line: isize, col: isize) -> usize {
    let line = line.max(1) as usize;
    let col = col.max(1) as usize;
    let mut offset = 0;
    for (i, l) in src.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            return (offset + col - 1).min(src.chars().count());
        }
        offset += l.chars().count();
    }
    offset.min(src.chars().count())
}

/// Character offset of an AST node inside the source, when the parser recorded one.
pub(crate) fn node_offset(program: &cel::Program, id: u64) -> Option<usize> {
    // The parser records byte offsets; positions elsewhere count characters.
    let info = program.source_info();
    let (start, _) = info.offset_for(id)?;
    let start = start as usize;
    let prefix = info.source.get(..start).unwrap_or(&info.source);
    Some(prefix.chars().count())
}

#[derive(Default)]
struct RefWalker {
    top: BTreeSet<String>,
    paths: BTreeSet<String>,
}

impl RefWalker {
    fn walk(&mut self, e: &IdedExpr, bound: &mut Vec<String>) {
        if let Some(segments) = qualified_name(&e.expr) {
            if !bound.iter().any(|b| b == segments[0]) {
                self.top.insert(segments[0].to_string());
                self.paths.insert(segments.join("."));
            }
            return;
        }
        match &e.expr {
            Ast::Call(call) => {
                if let Some(t) = &call.target {
                    self.walk(t, bound);
                }
                for a in &call.args {
                    self.walk(a, bound);
                }
            }
            Ast::Comprehension(c) => {
                self.walk(&c.iter_range, bound);
                self.walk(&c.accu_init, bound);
                let before = bound.len();
                bound.push(c.iter_var.clone());
                if let Some(v2) = &c.iter_var2 {
                    bound.push(v2.clone());
                }
                bound.push(c.accu_var.clone());
                self.walk(&c.loop_cond, bound);
                self.walk(&c.loop_step, bound);
                self.walk(&c.result, bound);
                bound.truncate(before);
            }
            Ast::List(l) => {
                for el in &l.elements {
                    self.walk(el, bound);
                }
            }
            Ast::Map(m) => {
                for entry in &m.entries {
                    self.walk_entry(&entry.expr, bound);
                }
            }
            Ast::Struct(s) => {
                for entry in &s.entries {
                    self.walk_entry(&entry.expr, bound);
                }
            }
            Ast::Select(sel) => self.walk(&sel.operand, bound),
            Ast::Ident(_) | Ast::Literal(_) | Ast::Unspecified => {}
        }
    }

    fn walk_entry(&mut self, e: &EntryExpr, bound: &mut Vec<String>) {
        match e {
            EntryExpr::StructField(f) => self.walk(&f.value, bound),
            EntryExpr::MapEntry(m) => {
                self.walk(&m.key, bound);
                self.walk(&m.value, bound);
            }
        }
    }
}

/// `a.b.c` as `["a", "b", "c"]`; `None` for anything but an identifier or field
/// selections (not presence tests) on one.
pub(crate) fn qualified_name(e: &Ast) -> Option<Vec<&str>> {
    let mut segments = Vec::new();
    let mut cur = e;
    loop {
        match cur {
            Ast::Ident(name) => {
                segments.push(name.as_str());
                segments.reverse();
                return Some(segments);
            }
            Ast::Select(sel) if !sel.test => {
                segments.push(sel.field.as_str());
                cur = &sel.operand.expr;
            }
            _ => return None,
        }
    }
}

/// Literal type name, for static checks.
pub(crate) fn literal_kind(l: &LiteralValue) -> &'static str {
    match l {
        LiteralValue::Boolean(_) => "bool",
        LiteralValue::Bytes(_) => "bytes",
        LiteralValue::Double(_) | LiteralValue::Int(_) | LiteralValue::UInt(_) => "number",
        LiteralValue::Null => "null",
        LiteralValue::String(_) => "string",
    }
}

/// JSON → CEL. Integral numbers become `int` (or `uint` above `i64::MAX`), others `double`.
pub fn json_to_cel(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::UInt(u)
            } else {
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_json::Value::String(s) => Value::String(Arc::new(s.clone())),
        serde_json::Value::Array(a) => Value::List(Arc::new(a.iter().map(json_to_cel).collect())),
        serde_json::Value::Object(o) => {
            let map: HashMap<Key, Value> = o
                .iter()
                .map(|(k, v)| (Key::String(Arc::new(k.clone())), json_to_cel(v)))
                .collect();
            Value::Map(Map { map: Arc::new(map) })
        }
    }
}

/// CEL → JSON. Maps get their keys sorted so results are deterministic; durations and
/// timestamps become strings. `None` for values with no JSON form (functions, opaques).
pub fn cel_to_json(v: &Value) -> Option<serde_json::Value> {
    Some(match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i) => serde_json::Value::from(*i),
        Value::UInt(u) => serde_json::Value::from(*u),
        Value::Float(f) => serde_json::Number::from_f64(*f).map(serde_json::Value::Number)?,
        Value::String(s) => serde_json::Value::String(s.to_string()),
        Value::Bytes(b) => serde_json::Value::Array(b.iter().map(|x| (*x).into()).collect()),
        Value::List(l) => {
            serde_json::Value::Array(l.iter().map(cel_to_json).collect::<Option<_>>()?)
        }
        Value::Map(m) => {
            let mut sorted = BTreeMap::new();
            for (k, v) in m.map.iter() {
                let key = match k {
                    Key::String(s) => s.to_string(),
                    Key::Int(i) => i.to_string(),
                    Key::Uint(u) => u.to_string(),
                    Key::Bool(b) => b.to_string(),
                };
                sorted.insert(key, cel_to_json(v)?);
            }
            serde_json::Value::Object(sorted.into_iter().collect())
        }
        Value::Duration(d) => serde_json::Value::String(format!("{}s", d.num_seconds())),
        Value::Timestamp(t) => serde_json::Value::String(t.to_rfc3339()),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::Doc;
    use serde_json::json;

    /// The evaluation before projections: every referenced variable converted whole.
    fn eval_whole(e: &Expr, vars: &serde_json::Value) -> Result<serde_json::Value, String> {
        let obj = vars.as_object().unwrap();
        let value = ROOT.with(|root| {
            let mut scope = root.new_inner_scope();
            for name in e.references() {
                if let Some(v) = obj.get(name) {
                    scope.add_variable_from_value(name.as_str(), json_to_cel(v));
                }
            }
            e.program.execute(&scope)
        });
        value
            .map(|v| cel_to_json(&v).unwrap())
            .map_err(|e| e.to_string())
    }

    /// Every variable a document kept as text, as `Doc::parse` keeps a plugin result.
    struct AsKept<'a>(&'a BTreeMap<String, Doc>);

    impl Variables for AsKept<'_> {
        fn var(&self, name: &str) -> Option<JsonRef<'_>> {
            self.0.get(name).map(Doc::json)
        }
    }

    #[test]
    fn projected_variables_evaluate_like_whole_ones() {
        let vars = json!({
            "docs": {"outcome": "pass", "checks": [{"ok": true}, {"ok": false}],
                     "detail": {"id_card": {"confidence": 0.97}}, "n": 3},
            "scoring": {"score": 731, "grade": "B"},
            "amount": 120000,
            "name": "x"
        });
        for src in [
            "docs.outcome == 'pass' && scoring.score >= 720 && amount <= 200000",
            "docs.detail.id_card.confidence > 0.9",
            "docs.checks.all(c, c.ok)",
            "docs.checks.exists(c, c.ok) && size(docs.checks) == 2",
            "has(docs.missing) || has(docs.outcome)",
            "size(docs) == 4",
            "docs['outcome'] == 'pass'",
            "docs.missing == 1",
            "amount.field == 1",
            "docs.detail.id_card.confidence.x == 1",
            "name.size() == 1",
            "scoring.score + docs.n",
            "{'s': scoring.score, 'g': scoring.grade}",
        ] {
            let texts: BTreeMap<String, String> = vars
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), canonical::canonical_json(v)))
                .collect();
            let e = Expr::compile(src).unwrap();
            let projected = e.eval(&vars).map_err(|err| match err {
                EvalError::Execution { message, .. } => message,
                other => other.to_string(),
            });
            assert_eq!(projected, eval_whole(&e, &vars), "{src}");
            let docs: BTreeMap<String, Doc> = texts
                .iter()
                .map(|(k, t)| (k.clone(), Doc::parse(t.clone()).unwrap()))
                .collect();
            let from_kept = e.eval(&AsKept(&docs)).map_err(|err| match err {
                EvalError::Execution { message, .. } => message,
                other => other.to_string(),
            });
            // Variables kept as canonical text (plugin results) evaluate the same.
            assert_eq!(from_kept, projected, "{src} over documents kept as text");
        }
        // Only the reached fields are handed over.
        let e = Expr::compile("docs.outcome == 'pass' && docs.detail.id_card.confidence > 0.5")
            .unwrap();
        let docs = &e.reach.iter().find(|(n, _)| n == "docs").unwrap().1;
        let Value::Map(m) = docs.project(&vars["docs"]) else {
            panic!("a map")
        };
        let mut keys: Vec<String> = m.map.keys().map(|k| format!("{k:?}")).collect();
        keys.sort();
        assert_eq!(keys.len(), 2, "{keys:?}");
    }

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn expr_is_send_sync() {
        assert_send_sync::<Expr>();
    }

    #[test]
    fn evaluates_routes_over_case_variables() {
        let e = Expr::compile("docs.ok && scoring.score >= 720 && amount <= 200000").unwrap();
        assert_eq!(e.references(), ["amount", "docs", "scoring"]);
        assert_eq!(e.paths(), ["amount", "docs.ok", "scoring.score"]);
        let vars = json!({"docs": {"ok": true}, "scoring": {"score": 730}, "amount": 150000});
        assert!(e.eval_bool(&vars).unwrap());
        let vars = json!({"docs": {"ok": true}, "scoring": {"score": 700}, "amount": 150000});
        assert!(!e.eval_bool(&vars).unwrap());
    }

    #[test]
    fn macro_variables_are_not_references() {
        let e = Expr::compile("items.all(x, x > limit)").unwrap();
        assert_eq!(e.references(), ["items", "limit"]);
        assert!(e.eval_bool(&json!({"items": [1, 2], "limit": 0})).unwrap());
    }

    #[test]
    fn syntax_error_points_inside_the_expression() {
        let err = Expr::compile("amount >= = 3").unwrap_err();
        assert_eq!(err.offset, 10, "{err}");
        let err = Expr::compile("a &&\n  (b").unwrap_err();
        assert!(err.offset >= 7, "{err}");
    }

    #[test]
    fn offsets_count_characters_not_bytes() {
        let err = Expr::compile("name == 'é' && = 1").unwrap_err();
        assert_eq!(err.offset, 15, "{err}");
        let e = Expr::compile("'é' == name").unwrap();
        // `name` starts at character 7 (byte 8).
        let root = e.program().expression();
        let cel::common::ast::Expr::Call(call) = &root.expr else {
            panic!("a call")
        };
        assert_eq!(node_offset(e.program(), call.args[1].id), Some(7));
    }

    #[test]
    fn non_bool_and_missing_variable_are_errors() {
        let e = Expr::compile("amount + 1").unwrap();
        assert_eq!(e.eval(&json!({"amount": 1})).unwrap(), json!(2));
        assert!(matches!(
            e.eval_bool(&json!({"amount": 1})),
            Err(EvalError::NotBool { .. })
        ));
        assert!(matches!(
            e.eval(&json!({})),
            Err(EvalError::Execution { .. })
        ));
    }

    #[test]
    fn mixed_int_and_double_compare() {
        let e = Expr::compile("amount <= 200000").unwrap();
        assert!(e.eval_bool(&json!({"amount": 1500.5})).unwrap());
    }
}

//! A spanned YAML tree built from the event parser (granit, through serde-saphyr).
//!
//! Why not deserialize straight into typed structs: serde stops at the first unknown
//! field or wrong shape, and the validator must report every problem at once. The tree
//! keeps every key's and value's position (and scalar style, so positions inside an
//! expression scalar map back to the file), records duplicate keys instead of replacing
//! values, and leaves shape checks to `flow::shape`.

use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, Span};
use std::collections::HashMap;

/// A position in the source: 1-based line, 1-based column in characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub(crate) struct Pos {
    pub(crate) line: usize,
    pub(crate) col: usize,
}

#[derive(Clone, Debug)]
pub(crate) struct Yaml {
    pub(crate) pos: Pos,
    /// Char range of the node's text in the source (for scalars: including quotes).
    pub(crate) range: (usize, usize),
    pub(crate) value: YamlValue,
}

#[derive(Clone, Debug)]
pub(crate) enum YamlValue {
    Scalar { text: String, style: ScalarStyle },
    Seq(Vec<Yaml>),
    Map(Vec<(Yaml, Yaml)>),
}

/// A duplicate key: where it is and where the first one was.
#[derive(Clone, Debug)]
pub(crate) struct Duplicate {
    pub(crate) key: String,
    pub(crate) pos: Pos,
    pub(crate) first: Pos,
}

/// A YAML syntax error.
#[derive(Clone, Debug)]
pub(crate) struct SyntaxError {
    pub(crate) pos: Pos,
    pub(crate) message: String,
}

/// Nodes aliases may add in total: a limit, so a file of nested aliases ("billion
/// laughs") is refused instead of expanding exponentially.
pub(crate) const MAX_ALIAS_NODES: usize = 100_000;

fn count(node: &Yaml) -> usize {
    1 + match &node.value {
        YamlValue::Scalar { .. } => 0,
        YamlValue::Seq(items) => items.iter().map(count).sum(),
        YamlValue::Map(entries) => entries.iter().map(|(k, v)| count(k) + count(v)).sum(),
    }
}

pub(crate) struct Parsed {
    pub(crate) root: Option<Yaml>,
    pub(crate) duplicates: Vec<Duplicate>,
}

fn pos_of(span: &Span) -> Pos {
    Pos {
        line: span.start.line(),
        col: span.start.col() + 1,
    }
}

enum Frame {
    Seq(Yaml, Vec<Yaml>, Option<usize>),
    /// node, entries, pending key, anchor, first position of each key (duplicates are
    /// found by lookup: a flow's `nodes` map can hold thousands of keys).
    Map(
        Yaml,
        Vec<(Yaml, Yaml)>,
        Option<Yaml>,
        Option<usize>,
        HashMap<String, Pos>,
    ),
}

/// Parses the first document of `src` into a tree. Only the first document counts; a
/// second one is a syntax error (a flow file holds one flow).
pub(crate) fn parse(src: &str) -> Result<Parsed, SyntaxError> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, (Yaml, usize)> = HashMap::new();
    let mut expanded = 0usize;
    let mut duplicates = Vec::new();
    let mut root: Option<Yaml> = None;
    let mut documents = 0;
    for item in Parser::new_from_str(src) {
        let (event, span) = item.map_err(|e| SyntaxError {
            pos: Pos {
                line: e.marker().line(),
                col: e.marker().col() + 1,
            },
            message: e.info(),
        })?;
        let complete: Option<(Yaml, Option<usize>)> = match event {
            Event::DocumentStart(..) => {
                documents += 1;
                if documents > 1 {
                    return Err(SyntaxError {
                        pos: pos_of(&span),
                        message: "a flow file holds one YAML document; found a second one".into(),
                    });
                }
                None
            }
            Event::Scalar(text, style, anchor, _tag) => Some((
                Yaml {
                    pos: pos_of(&span),
                    range: (span.start.index(), span.end.index()),
                    value: YamlValue::Scalar {
                        text: text.into_owned(),
                        style,
                    },
                },
                (anchor > 0).then_some(anchor),
            )),
            Event::Alias(id) => {
                let (target, size) = anchors.get(&id).cloned().ok_or_else(|| SyntaxError {
                    pos: pos_of(&span),
                    message: "alias to an unknown anchor".into(),
                })?;
                expanded += size;
                if expanded > MAX_ALIAS_NODES {
                    return Err(SyntaxError {
                        pos: pos_of(&span),
                        message: format!("aliases expand to more than {MAX_ALIAS_NODES} nodes"),
                    });
                }
                // The alias stands where it is written, for positions.
                Some((
                    Yaml {
                        pos: pos_of(&span),
                        range: (span.start.index(), span.end.index()),
                        value: target.value,
                    },
                    None,
                ))
            }
            Event::SequenceStart(_, anchor, _) => {
                let node = Yaml {
                    pos: pos_of(&span),
                    range: (span.start.index(), span.end.index()),
                    value: YamlValue::Seq(Vec::new()),
                };
                stack.push(Frame::Seq(node, Vec::new(), (anchor > 0).then_some(anchor)));
                None
            }
            Event::MappingStart(_, anchor, _) => {
                let node = Yaml {
                    pos: pos_of(&span),
                    range: (span.start.index(), span.end.index()),
                    value: YamlValue::Map(Vec::new()),
                };
                stack.push(Frame::Map(
                    node,
                    Vec::new(),
                    None,
                    (anchor > 0).then_some(anchor),
                    HashMap::new(),
                ));
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(mut node, items, anchor)) => {
                    node.range.1 = span.end.index();
                    node.value = YamlValue::Seq(items);
                    Some((node, anchor))
                }
                _ => None,
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(mut node, entries, _, anchor, _)) => {
                    node.range.1 = span.end.index();
                    node.value = YamlValue::Map(merge_keys(entries));
                    Some((node, anchor))
                }
                _ => None,
            },
            _ => None,
        };
        let Some((node, anchor)) = complete else {
            continue;
        };
        if let Some(a) = anchor {
            anchors.insert(a, (node.clone(), count(&node)));
        }
        match stack.last_mut() {
            Some(Frame::Seq(_, items, _)) => items.push(node),
            Some(Frame::Map(_, entries, pending, _, seen)) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => {
                    // A list or map as a key has no JSON form: refused here, so every
                    // key of the tree is text.
                    let Some(k) = key.as_str() else {
                        return Err(SyntaxError {
                            pos: key.pos,
                            message: format!(
                                "a map key must be a scalar, found {}",
                                key.describe()
                            ),
                        });
                    };
                    if let Some(&first) = seen.get(k) {
                        duplicates.push(Duplicate {
                            key: k.to_string(),
                            pos: key.pos,
                            first,
                        });
                        // The first one stays; the duplicate is reported, never merged.
                        continue;
                    }
                    seen.insert(k.to_string(), key.pos);
                    entries.push((key, node));
                }
            },
            None => {
                if root.is_none() {
                    root = Some(node);
                }
            }
        }
    }
    Ok(Parsed { root, duplicates })
}

/// Applies YAML merge keys (`<<: *defaults`, `<<: [*a, *b]`): the merged maps' entries
/// join the map unless it sets the same key itself (explicit keys win; among merged
/// maps the first wins).
fn merge_keys(entries: Vec<(Yaml, Yaml)>) -> Vec<(Yaml, Yaml)> {
    let is_merge = |k: &Yaml| matches!(&k.value, YamlValue::Scalar { text, style: ScalarStyle::Plain } if text == "<<");
    if !entries.iter().any(|(k, _)| is_merge(k)) {
        return entries;
    }
    let mut out: Vec<(Yaml, Yaml)> = Vec::new();
    let mut merged: Vec<(Yaml, Yaml)> = Vec::new();
    for (k, v) in entries {
        if !is_merge(&k) {
            out.push((k, v));
            continue;
        }
        let sources: Vec<Yaml> = match v.value {
            YamlValue::Map(_) => vec![v],
            YamlValue::Seq(items) => items,
            // Not a map: keep it, so the shape checks report it as an unknown field.
            _ => {
                out.push((k, v));
                continue;
            }
        };
        for src in sources {
            if let YamlValue::Map(m) = src.value {
                merged.extend(m);
            }
        }
    }
    for (k, v) in merged {
        let present = out
            .iter()
            .any(|(ok, _)| ok.as_str().is_some() && ok.as_str() == k.as_str());
        if !present {
            out.push((k, v));
        }
    }
    out
}

impl Yaml {
    /// The scalar text, whatever its style.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.value {
            YamlValue::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(&self.value, YamlValue::Scalar { text, style: ScalarStyle::Plain } if matches!(plain_scalar(text), Scalar::Null))
    }

    pub(crate) fn as_map(&self) -> Option<&[(Yaml, Yaml)]> {
        match &self.value {
            YamlValue::Map(m) => Some(m),
            _ => None,
        }
    }

    pub(crate) fn as_seq(&self) -> Option<&[Yaml]> {
        match &self.value {
            YamlValue::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// A short name of what this node is, for "expected X, found Y" messages.
    pub(crate) fn describe(&self) -> &'static str {
        match &self.value {
            YamlValue::Map(_) => "a map",
            YamlValue::Seq(_) => "a list",
            YamlValue::Scalar { text, style } => {
                if *style != ScalarStyle::Plain {
                    return "a string";
                }
                match plain_scalar(text) {
                    Scalar::Null => "nothing (null)",
                    Scalar::Bool(_) => "a boolean",
                    Scalar::Int(_) | Scalar::Float(_) => "a number",
                    Scalar::Str => "a string",
                }
            }
        }
    }

    /// The node as JSON (YAML 1.2 core schema for plain scalars).
    pub(crate) fn to_json(&self) -> serde_json::Value {
        match &self.value {
            YamlValue::Scalar { text, style } => {
                if *style != ScalarStyle::Plain {
                    return serde_json::Value::String(text.clone());
                }
                match plain_scalar(text) {
                    Scalar::Null => serde_json::Value::Null,
                    Scalar::Bool(b) => serde_json::Value::Bool(b),
                    Scalar::Int(i) => serde_json::Value::from(i),
                    Scalar::Float(f) => serde_json::Number::from_f64(f)
                        .map(serde_json::Value::Number)
                        .unwrap_or(serde_json::Value::String(text.clone())),
                    Scalar::Str => serde_json::Value::String(text.clone()),
                }
            }
            YamlValue::Seq(items) => {
                serde_json::Value::Array(items.iter().map(Yaml::to_json).collect())
            }
            YamlValue::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| {
                        let key = k
                            .as_str()
                            .expect("the parser refuses keys that are not scalars");
                        (key.to_string(), v.to_json())
                    })
                    .collect(),
            ),
        }
    }

    /// The node at a JSON pointer below this one (for mapping schema errors back to the
    /// file); the deepest existing node on the way when the pointer goes further.
    pub(crate) fn at_pointer(&self, pointer: &str) -> &Yaml {
        let mut node = self;
        for seg in pointer.split('/').skip(1) {
            let seg = seg.replace("~1", "/").replace("~0", "~");
            let next = match &node.value {
                YamlValue::Map(entries) => entries
                    .iter()
                    .find(|(k, _)| k.as_str() == Some(seg.as_str()))
                    .map(|(_, v)| v),
                YamlValue::Seq(items) => seg.parse::<usize>().ok().and_then(|i| items.get(i)),
                YamlValue::Scalar { .. } => None,
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        node
    }

    /// The key node at a JSON pointer (the last segment's key), if it exists.
    pub(crate) fn key_at_pointer(&self, pointer: &str) -> Option<&Yaml> {
        let (parent, last) = pointer.rsplit_once('/')?;
        let last = last.replace("~1", "/").replace("~0", "~");
        let parent = self.at_pointer(parent);
        parent
            .as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(last.as_str()))
            .map(|(k, _)| k)
    }
}

pub(crate) enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str,
}

/// YAML 1.2 core schema resolution of a plain scalar.
pub(crate) fn plain_scalar(text: &str) -> Scalar {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "true" | "True" | "TRUE" => return Scalar::Bool(true),
        "false" | "False" | "FALSE" => return Scalar::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Scalar::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
        if let Ok(i) = text.parse::<i64>() {
            return Scalar::Int(i);
        }
        if let Ok(f) = text.parse::<f64>() {
            return Scalar::Float(f);
        }
    }
    if let Some(hex) = text.strip_prefix("0x")
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return Scalar::Int(i);
    }
    if let Some(oct) = text.strip_prefix("0o")
        && let Ok(i) = i64::from_str_radix(oct, 8)
    {
        return Scalar::Int(i);
    }
    let looks_float = digits
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == '.')
        && digits
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'));
    if looks_float && let Ok(f) = text.parse::<f64>() {
        return Scalar::Float(f);
    }
    Scalar::Str
}

/// Maps positions in the source by char index.
pub(crate) struct SourceMap {
    chars: Vec<char>,
    /// Char index where each line starts.
    line_starts: Vec<usize>,
}

impl SourceMap {
    pub(crate) fn new(src: &str) -> SourceMap {
        let chars: Vec<char> = src.chars().collect();
        let mut line_starts = vec![0];
        for (i, c) in chars.iter().enumerate() {
            if *c == '\n' {
                line_starts.push(i + 1);
            }
        }
        SourceMap { chars, line_starts }
    }

    pub(crate) fn pos(&self, index: usize) -> Pos {
        let line = match self.line_starts.binary_search(&index) {
            Ok(l) => l,
            Err(l) => l - 1,
        };
        Pos {
            line: line + 1,
            col: index - self.line_starts[line] + 1,
        }
    }

    /// The file position of the `offset`-th character of a scalar's value. The value's
    /// characters are matched in order against the scalar's source text, so quotes,
    /// escapes, block headers and folded line breaks are skipped over.
    pub(crate) fn pos_in_scalar(&self, node: &Yaml, offset: usize) -> Pos {
        let Some(text) = node.as_str() else {
            return node.pos;
        };
        let (start, end) = node.range;
        let end = end.min(self.chars.len());
        let mut raw = start;
        for (i, c) in text.chars().enumerate() {
            // Find this value character in the source.
            let mut probe = raw;
            while probe < end && self.chars[probe] != c {
                if c == ' ' && self.chars[probe] == '\n' {
                    break;
                }
                probe += 1;
            }
            if probe >= end {
                // Escapes that change the character (\n, \t, \u…): keep the last place.
                probe = raw;
            }
            if i == offset {
                return self.pos(probe);
            }
            raw = (probe + 1).min(end);
        }
        // Just past the end of the value (e.g. "unexpected end of input").
        self.pos(raw.min(end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_positions_and_reports_duplicates() {
        let src = "a: 1\nb:\n  c: [x, 'y']\na: 2\n";
        let parsed = parse(src).unwrap();
        let root = parsed.root.unwrap();
        let map = root.as_map().unwrap();
        assert_eq!(map.len(), 2);
        assert_eq!(map[1].1.pos, Pos { line: 3, col: 3 });
        assert_eq!(parsed.duplicates.len(), 1);
        assert_eq!(parsed.duplicates[0].pos, Pos { line: 4, col: 1 });
        assert_eq!(parsed.duplicates[0].first, Pos { line: 1, col: 1 });
        assert_eq!(map[0].1.to_json(), serde_json::json!(1));
    }

    #[test]
    fn merge_keys_fill_in_without_overriding() {
        let src = "base: &b { kind: task, next: x, plugin: a@1 }\nn:\n  <<: *b\n  next: y\n";
        let root = parse(src).unwrap().root.unwrap();
        let n = &root.as_map().unwrap()[1].1;
        let json = n.to_json();
        assert_eq!(
            json,
            serde_json::json!({"next": "y", "kind": "task", "plugin": "a@1"})
        );
    }

    #[test]
    fn nested_aliases_cannot_explode() {
        let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            src.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
        }
        let err = parse(&src).err().expect("refused");
        assert!(err.message.contains("aliases expand"), "{err:?}");
    }

    #[test]
    fn a_list_or_map_as_a_key_is_refused() {
        for src in ["a:\n  ? [x, y]\n  : 1\n", "? {k: v}\n: 1\n"] {
            let err = parse(src).err().expect("refused");
            assert!(err.message.contains("map key must be a scalar"), "{err:?}");
        }
        let err = parse("a:\n  b: 1\n  ? [x, y]\n  : 2\n")
            .err()
            .expect("refused");
        assert_eq!(err.pos, Pos { line: 3, col: 5 });
    }

    #[test]
    fn syntax_error_has_a_position() {
        let err = parse("a: [1, 2\nb: 3\n").err().unwrap();
        assert!(err.pos.line >= 1, "{err:?}");
    }

    #[test]
    fn positions_inside_quoted_and_block_scalars() {
        let src = "a: \"x && \\\"y\\\" == z\"\nb: |\n  first\n  second && q\n";
        let root = parse(src).unwrap().root.unwrap();
        let sm = SourceMap::new(src);
        let map = root.as_map().unwrap();
        // `z` is character 13 of `x && "y" == z`.
        assert_eq!(sm.pos_in_scalar(&map[0].1, 13), Pos { line: 1, col: 20 });
        // `q` in the block scalar.
        let b = &map[1].1;
        let q = b.as_str().unwrap().chars().position(|c| c == 'q').unwrap();
        assert_eq!(sm.pos_in_scalar(b, q), Pos { line: 4, col: 13 });
    }
}

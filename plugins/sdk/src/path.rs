//! Dot paths into the case variables (`applicant.monthly_income`) and the
//! JSON pointers every error message names.

use serde_json::Value;
use std::fmt;

/// A parsed dot path: non-empty segments; a numeric segment also indexes arrays.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DotPath(Vec<String>);

impl DotPath {
    /// `None` when a segment is empty (`a..b`, leading or trailing dot, empty path).
    pub fn parse(s: &str) -> Option<Self> {
        let segments: Vec<String> = s.split('.').map(str::to_string).collect();
        if segments.iter().any(String::is_empty) {
            return None;
        }
        Some(Self(segments))
    }

    /// The path extended by `other`'s segments.
    pub fn join(&self, other: &DotPath) -> DotPath {
        DotPath(self.0.iter().chain(&other.0).cloned().collect())
    }

    pub fn lookup<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        self.0.iter().try_fold(root, |v, seg| match v {
            Value::Object(map) => map.get(seg),
            Value::Array(items) => seg.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
    }

    /// The same place as a JSON pointer (RFC 6901).
    pub fn pointer(&self) -> String {
        self.0.iter().map(|s| format!("/{}", escape(s))).collect()
    }
}

impl fmt::Display for DotPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("."))
    }
}

/// Escapes one JSON pointer reference token.
pub fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// The JSON pointer of the place a `serde_path_to_error` error points at.
pub fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|seg| match seg {
            Segment::Seq { index } => Some(format!("/{index}")),
            Segment::Map { key } => Some(format!("/{}", escape(key))),
            Segment::Enum { .. } | Segment::Unknown => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parse_lookup_pointer() {
        let vars = json!({"a": {"b/c": [10, {"d~": 4}]}});
        let p = DotPath::parse("a.b/c.1.d~").unwrap();
        assert_eq!(p.lookup(&vars), Some(&json!(4)));
        assert_eq!(p.pointer(), "/a/b~1c/1/d~0");
        assert_eq!(p.to_string(), "a.b/c.1.d~");
        assert_eq!(DotPath::parse("a.b/c.7").unwrap().lookup(&vars), None);
        assert_eq!(DotPath::parse("a.x").unwrap().lookup(&vars), None);
        assert_eq!(DotPath::parse("a.b/c.0.z").unwrap().lookup(&vars), None);
        for bad in ["", ".", "a.", ".a", "a..b"] {
            assert_eq!(DotPath::parse(bad), None, "{bad}");
        }
        let joined = DotPath::parse("a")
            .unwrap()
            .join(&DotPath::parse("b.c").unwrap());
        assert_eq!(joined.to_string(), "a.b.c");
    }
}

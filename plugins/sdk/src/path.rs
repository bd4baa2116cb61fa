//! Dot paths into the case variables (`applicant.monthly_income`) and the
//! JSON pointers every error message names.

use crate::json::{Json, Kind, Vars};
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

    /// [`DotPath::lookup`] in the case variables' text.
    pub fn find<'a>(&self, vars: &Vars<'a>) -> Option<Json<'a>> {
        self.0
            .iter()
            .try_fold(vars.root(), |v, seg| match v.kind() {
                Kind::Object => vars.child(v, seg),
                Kind::Array => seg.parse::<usize>().ok().and_then(|i| v.at(i)),
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

/// Where a value lives in the case variables, always held as a JSON pointer. Config may
/// write a pointer (`/applicant/monthly_income`) or a dotted path (`applicant.monthly_income`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarPath(String);

impl VarPath {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.starts_with('/') {
            return Ok(Self(s.to_string()));
        }
        if s.is_empty() {
            return Err("a variable path must not be empty".into());
        }
        let mut pointer = String::with_capacity(s.len() + 1);
        for segment in s.split('.') {
            if segment.is_empty() {
                return Err(format!("variable path `{s}` has an empty segment"));
            }
            pointer.push('/');
            pointer.push_str(&escape(segment));
        }
        Ok(Self(pointer))
    }

    /// A pointer known to be valid (the defaults a plugin writes into its config types).
    pub fn of(pointer: &str) -> Self {
        Self(pointer.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value at this path; `null` counts as absent.
    pub fn get<'a>(&self, vars: &'a Value) -> Option<&'a Value> {
        vars.pointer(&self.0).filter(|v| !v.is_null())
    }

    /// [`VarPath::get`] in the case variables' text.
    pub fn find<'a>(&self, vars: &Vars<'a>) -> Option<Json<'a>> {
        vars.pointer(&self.0).filter(|v| !v.is_null())
    }
}

impl<'de> serde::Deserialize<'de> for VarPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
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
        let v = VarPath::parse("a.b/c.1.d~").unwrap();
        assert_eq!(v.as_str(), "/a/b~1c/1/d~0");
        assert_eq!(v.get(&vars), Some(&json!(4)));
        assert_eq!(
            VarPath::parse("/a/b~1c/0").unwrap().get(&vars),
            Some(&json!(10))
        );
        assert_eq!(VarPath::of("/n").get(&json!({"n": null})), None);
        assert!(VarPath::parse("").is_err());
        assert!(VarPath::parse("a..b").is_err());
        let text = vars.to_string();
        let in_text = Vars::parse(&text).unwrap();
        for path in [
            "a.b/c.1.d~",
            "a.b/c.7",
            "a.x",
            "a.b/c.0.z",
            "a.b/c.+1.d~",
            "a.b/c.01",
        ] {
            let p = DotPath::parse(path).unwrap();
            assert_eq!(
                p.find(&in_text).map(|j| j.value().unwrap()).as_ref(),
                p.lookup(&vars),
                "{path}"
            );
            let v = VarPath::parse(path).unwrap();
            assert_eq!(
                v.find(&in_text).map(|j| j.value().unwrap()).as_ref(),
                v.get(&vars),
                "{path}"
            );
        }
        let joined = DotPath::parse("a")
            .unwrap()
            .join(&DotPath::parse("b.c").unwrap());
        assert_eq!(joined.to_string(), "a.b.c");
    }
}

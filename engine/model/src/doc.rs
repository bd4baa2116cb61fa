//! [`Doc`]: a JSON document shared by reference that writes its canonical text at most once.
//!
//! A case's input and each step result live in three places at once — the event that
//! brought it, the case variables, and the text handed to the next plugin — and the
//! canonical text of each is needed twice (the next plugin's input, the stored event). A
//! `Doc` is one allocation shared by all of them; its canonical text is made on first use
//! and then copied, not written again.
//!
//! A document can also start as canonical text ([`Doc::parse`] of a plugin's result
//! written by the SDK): it is then kept as that text, and its `Value` is built only if
//! something asks for the whole of it. Routes read the few members they need straight
//! from the text ([`Doc::json`]).

use canonical_json as canonical;
use canonical_json::write_canonical;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::fmt;
use std::ops::{Deref, Range};
use std::sync::{Arc, OnceLock};

/// A shared, immutable JSON document. Dereferences to its [`Value`]; serialises as it.
#[derive(Clone)]
pub struct Doc(Arc<Inner>);

/// At least one of `value` and `canonical` is always set.
struct Inner {
    value: OnceLock<Value>,
    canonical: OnceLock<Box<str>>,
    /// An object's top-level members in key order: each key (unescaped) and where its
    /// value is in the canonical text. Found while checking a text that came canonical,
    /// else on first use.
    members: OnceLock<Vec<Member>>,
}

/// A top-level member of a document: its key, and the byte range of its value's text in
/// the document's canonical text.
pub type Member = (Box<str>, Range<usize>);

/// A JSON document as it is at hand: a value, or canonical text not parsed yet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum JsonRef<'a> {
    Value(&'a Value),
    /// A document kept as canonical text (`canonical_json::canonical_json`; every member of it is
    /// canonical too): [`Doc::member`] finds its top-level members through an index.
    Kept(&'a Doc),
}

impl Doc {
    pub fn new(value: Value) -> Doc {
        Doc(Arc::new(Inner {
            value: OnceLock::from(value),
            canonical: OnceLock::new(),
            members: OnceLock::new(),
        }))
    }

    /// The document in JSON `text`. Canonical text is kept as it is (nothing parsed until
    /// the value is asked for); anything else is parsed now.
    pub fn parse(text: String) -> Result<Doc, serde_json::Error> {
        match canonical::canonical_members(&text) {
            Some(at) => {
                // Keys of recognised text have no escapes: each key is its text.
                let members: Vec<Member> = at
                    .into_iter()
                    .map(|(key, value)| {
                        let key = text
                            .get(key)
                            .expect("the checker's key ranges lie in its text");
                        (key.into(), value)
                    })
                    .collect();
                Ok(Doc(Arc::new(Inner {
                    value: OnceLock::new(),
                    canonical: OnceLock::from(text.into_boxed_str()),
                    members: OnceLock::from(members),
                })))
            }
            None => serde_json::from_str(&text).map(Doc::new),
        }
    }

    /// The value, parsed from the canonical text on first use if the document came as text.
    pub fn value(&self) -> &Value {
        self.0.value.get_or_init(|| parse_kept(&self.0.canonical))
    }

    /// The value if it is at hand, else the document kept as text (parsing nothing).
    pub fn json(&self) -> JsonRef<'_> {
        match self.0.value.get() {
            Some(value) => JsonRef::Value(value),
            None => JsonRef::Kept(self),
        }
    }

    /// An object's top-level members, in key order (none for anything else), found once:
    /// while the text was checked (a document that came as canonical text) or written (a
    /// value); else by walking the text.
    pub fn members(&self) -> &[Member] {
        // Made first, outside the index's initialisation: writing an object's text sets
        // the index too.
        let text = self.canonical();
        self.0.members.get_or_init(|| walk_members(text))
    }

    /// The canonical text of top-level member `key`, for an object: a binary search over
    /// [`Doc::members`], parsing nothing.
    pub fn member(&self, key: &str) -> Option<&str> {
        let members = self.members();
        let at = members.binary_search_by(|(k, _)| (**k).cmp(key)).ok()?;
        self.canonical().get(members[at].1.clone())
    }

    /// The document as canonical JSON (`canonical_json::canonical_json`), made once.
    pub fn canonical(&self) -> &str {
        self.0.canonical.get_or_init(|| {
            let mut out = Vec::with_capacity(256);
            match self.value() {
                // The member index comes with the text (what `members` would walk it for).
                Value::Object(map) => {
                    let mut members = Vec::with_capacity(map.len());
                    canonical::write_object(map, &mut out, |key, at| {
                        members.push((key.into(), at));
                    });
                    let _ = self.0.members.set(members);
                }
                value => write_canonical(value, &mut out),
            }
            String::from_utf8(out)
                .expect("canonical JSON is written from `&str`s and ASCII only")
                .into_boxed_str()
        })
    }

    /// The value, copied only if the document is shared.
    pub fn into_value(self) -> Value {
        match Arc::try_unwrap(self.0) {
            Ok(mut inner) => inner
                .value
                .take()
                .unwrap_or_else(|| parse_kept(&inner.canonical)),
            Err(shared) => Doc(shared).value().clone(),
        }
    }

    /// Whether `self` and `other` are one shared document.
    pub fn ptr_eq(&self, other: &Doc) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// The top-level members of canonical `text`, found by walking it.
fn walk_members(text: &str) -> Vec<Member> {
    canonical::members(text)
        .map(|(key, value)| {
            let start = value.as_ptr() as usize - text.as_ptr() as usize;
            (key.into(), start..start + value.len())
        })
        .collect()
}

/// The value of a document kept as text. Only text `is_canonical` accepted is kept without
/// a value, and such text parses.
fn parse_kept(text: &OnceLock<Box<str>>) -> Value {
    let text = text
        .get()
        .expect("a document without a value keeps its text");
    serde_json::from_str(text).expect("text `is_canonical` accepted parses")
}

impl Deref for Doc {
    type Target = Value;
    fn deref(&self) -> &Value {
        self.value()
    }
}

impl From<Value> for Doc {
    fn from(value: Value) -> Doc {
        Doc::new(value)
    }
}

impl PartialEq for Doc {
    fn eq(&self, other: &Doc) -> bool {
        self.ptr_eq(other) || self.value() == other.value()
    }
}

impl fmt::Debug for Doc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value().fmt(f)
    }
}

/// As the value's JSON (`{:#}` pretty-prints).
impl fmt::Display for Doc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.value(), f)
    }
}

/// Serialises as the value. Into canonical JSON (the event store), the text made once is
/// copied instead.
impl Serialize for Doc {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if canonical::writing() {
            serializer.serialize_newtype_struct(canonical::RAW, self.canonical())
        } else {
            self.value().serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for Doc {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Doc::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use canonical_json::canonical_json;
    use canonical_json::to_canonical_json;
    use serde_json::json;

    #[derive(Serialize)]
    struct Holder {
        z: u8,
        doc: Doc,
        list: Vec<Doc>,
    }

    #[test]
    fn a_doc_writes_as_its_value_everywhere_and_its_text_is_made_once() {
        let value = json!({"b": [1, {"y": "\"", "x": null}], "a": 2.5});
        let doc = Doc::new(value.clone());
        let holder = Holder {
            z: 1,
            doc: doc.clone(),
            list: vec![doc.clone(), Doc::new(json!("s"))],
        };
        let plain = json!({"z": 1, "doc": value, "list": [value, "s"]});
        // serde_json sees the value (in its own order), not the canonical text.
        assert_eq!(serde_json::to_value(&holder).unwrap(), plain);
        assert_eq!(serde_json::to_string(&doc).unwrap(), value.to_string());
        // The canonical writer copies the text made once, and it is the canonical text.
        assert_eq!(
            to_canonical_json(&holder, None).unwrap(),
            canonical_json(&plain)
        );
        assert!(std::ptr::eq(doc.canonical(), holder.doc.canonical()));
        // Outside the canonical writer nothing is raw any more.
        assert_eq!(serde_json::to_value(&doc).unwrap(), value);
        let back: Doc = serde_json::from_str(&serde_json::to_string(&doc).unwrap()).unwrap();
        assert_eq!(back, doc);
        assert_eq!(doc.into_value(), value);
    }

    #[test]
    fn the_member_index_made_while_writing_is_the_one_found_by_walking_the_text() {
        for value in [
            json!({"b": [1, {"y": "\"", "x": null}], "a\"q": 2.5, "": {}, "é": "ü\n", "a": 0}),
            json!({}),
            json!([1, {"a": 2}]),
            json!("s"),
        ] {
            let doc = Doc::new(value.clone());
            let written = doc.members().to_vec();
            let text = doc.canonical();
            assert_eq!(written, walk_members(text), "{value}");
            for (key, at) in &written {
                assert_eq!(Some(&text[at.clone()]), doc.member(key), "{key}");
                assert_eq!(
                    serde_json::from_str::<Value>(&text[at.clone()]).unwrap(),
                    value[&**key]
                );
            }
        }
    }

    #[test]
    fn canonical_text_is_kept_as_it_is_and_parsed_only_when_asked() {
        let text = r#"{"a":[1,2.5,"x\n"],"b":{"c":null}}"#;
        let doc = Doc::parse(text.to_string()).unwrap();
        assert!(matches!(doc.json(), JsonRef::Kept(d) if d.ptr_eq(&doc)));
        assert_eq!(doc.canonical(), text);
        assert_eq!(doc.member("b"), Some(r#"{"c":null}"#));
        assert_eq!(doc.member("a"), Some(r#"[1,2.5,"x\n"]"#));
        assert_eq!(doc.member("c"), None);
        // Asking for the value parses it; the text stays what it was.
        assert_eq!(*doc, json!({"b": {"c": null}, "a": [1, 2.5, "x\n"]}));
        assert_eq!(doc.json(), JsonRef::Value(doc.value()));
        assert_eq!(doc.canonical(), text);
        assert_eq!(
            Doc::parse(text.to_string()).unwrap().into_value(),
            *doc.value()
        );

        // Other text is parsed at once, and written canonically when needed.
        let doc = Doc::parse(r#"{"b": 1, "a": 2}"#.to_string()).unwrap();
        assert!(matches!(doc.json(), JsonRef::Value(_)));
        assert_eq!(doc.canonical(), r#"{"a":2,"b":1}"#);
        assert!(Doc::parse("{\"a\":".to_string()).is_err());
        // Kept text serialises as its value, and canonically as the very text.
        let doc = Doc::parse(text.to_string()).unwrap();
        assert_eq!(to_canonical_json(&doc, None).unwrap(), text);
        assert_eq!(
            serde_json::to_value(&doc).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
    }
}

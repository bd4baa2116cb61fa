//! [`Doc`]: a JSON document shared by reference that writes its canonical text at most once.
//!
//! A case's input and each step result live in three places at once — the event that
//! brought it, the case variables, and the text handed to the next plugin — and the
//! canonical text of each is needed twice (the next plugin's input, the stored event). A
//! `Doc` is one allocation shared by all of them; its canonical text is made on first use
//! and then copied, not written again.

use crate::store::canonical;
use crate::store::chain::write_canonical;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

/// A shared, immutable JSON document. Dereferences to its [`Value`]; serialises as it.
#[derive(Clone)]
pub struct Doc(Arc<Inner>);

struct Inner {
    value: Value,
    canonical: OnceLock<Box<str>>,
}

impl Doc {
    pub fn new(value: Value) -> Doc {
        Doc(Arc::new(Inner {
            value,
            canonical: OnceLock::new(),
        }))
    }

    pub fn value(&self) -> &Value {
        &self.0.value
    }

    /// The document as canonical JSON (`chain::canonical_json`), made once.
    pub fn canonical(&self) -> &str {
        self.0.canonical.get_or_init(|| {
            let mut out = Vec::with_capacity(128);
            write_canonical(&self.0.value, &mut out);
            // Only JSON text (valid UTF-8) was written.
            String::from_utf8(out).unwrap_or_default().into_boxed_str()
        })
    }

    /// The value, copied only if the document is shared.
    pub fn into_value(self) -> Value {
        match Arc::try_unwrap(self.0) {
            Ok(inner) => inner.value,
            Err(shared) => shared.value.clone(),
        }
    }

    /// Whether `self` and `other` are one shared document.
    pub fn ptr_eq(&self, other: &Doc) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Deref for Doc {
    type Target = Value;
    fn deref(&self) -> &Value {
        &self.0.value
    }
}

impl From<Value> for Doc {
    fn from(value: Value) -> Doc {
        Doc::new(value)
    }
}

impl PartialEq for Doc {
    fn eq(&self, other: &Doc) -> bool {
        self.ptr_eq(other) || self.0.value == other.0.value
    }
}

impl fmt::Debug for Doc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.value.fmt(f)
    }
}

/// As the value's JSON (`{:#}` pretty-prints).
impl fmt::Display for Doc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.value, f)
    }
}

/// Serialises as the value. Into canonical JSON (the event store), the text made once is
/// copied instead.
impl Serialize for Doc {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if canonical::writing() {
            serializer.serialize_newtype_struct(canonical::RAW, self.canonical())
        } else {
            self.0.value.serialize(serializer)
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
    use crate::store::canonical::to_canonical_json;
    use crate::store::chain::canonical_json;
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
}

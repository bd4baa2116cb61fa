//! Case variables: one JSON object, the case input overlaid by the results of steps.
//!
//! Nothing is copied to build them: the input is the very [`Doc`] the `CaseStarted` event
//! holds and each step result the one its `StepCompleted` event holds, so cloning the
//! variables (or the state) costs a few reference counts. Plugins get the variables as
//! canonical JSON, put together from each document's canonical text, which is made once
//! and also copied into the stored events.

use crate::doc::{Doc, JsonRef, Member};
use canonical_json::write_str;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

/// The case variables: always a JSON object (an input that is not one counts as `{}`).
#[derive(Clone)]
pub struct Vars {
    /// The case input, as the `CaseStarted` event holds it.
    input: Doc,
    /// Step results by variable name; a name here hides the input member of that name.
    set: BTreeMap<String, Doc>,
}

static EMPTY: OnceLock<Map<String, Value>> = OnceLock::new();

impl Vars {
    /// The variables of a case whose input is `input` (shared, not copied).
    pub fn from_input(input: Doc) -> Vars {
        Vars {
            input,
            set: BTreeMap::new(),
        }
    }

    fn input_map(&self) -> &Map<String, Value> {
        match self.input.value() {
            Value::Object(m) => m,
            _ => EMPTY.get_or_init(Map::new),
        }
    }

    /// The variable `name`, if set.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self.set.get(name) {
            Some(doc) => Some(doc.value()),
            None => self.input_map().get(name),
        }
    }

    /// The variable `name` as it is at hand: a step result kept as canonical text is not
    /// parsed.
    pub fn get_json(&self, name: &str) -> Option<JsonRef<'_>> {
        match self.set.get(name) {
            Some(doc) => Some(doc.json()),
            None => self.input_map().get(name).map(JsonRef::Value),
        }
    }

    /// Sets `name` to `value` (shared, not copied).
    pub fn insert(&mut self, name: String, value: Doc) {
        self.set.insert(name, value);
    }

    /// Every variable, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        let set = &self.set;
        let mut input: Vec<(&String, &Value)> = self
            .input_map()
            .iter()
            .filter(|(k, _)| !set.contains_key(k.as_str()))
            .collect();
        input.sort_unstable_by(|a, b| a.0.cmp(b.0));
        merge(
            input.into_iter().map(|(k, v)| (k.as_str(), v)),
            set.iter().map(|(k, doc)| (k.as_str(), doc.value())),
        )
    }

    /// The variables as one JSON object.
    pub fn to_value(&self) -> Value {
        Value::Object(
            self.iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    /// The variables as canonical JSON (keys sorted at every level), byte for byte what
    /// [`canonical_json::canonical_json`] makes of [`Vars::to_value`].
    pub fn canonical_json(&self) -> String {
        let (text, members): (&str, &[Member]) = if self.input.is_object() {
            let text = self.input.canonical();
            if self.set.is_empty() {
                return text.to_string();
            }
            (text, self.input.members())
        } else {
            ("{}", &[])
        };
        let set = &self.set;
        let input = members
            .iter()
            .filter(|(k, _)| !set.contains_key(&**k))
            .map(|(k, range)| (&**k, &text[range.clone()]));
        let results = set.iter().map(|(k, doc)| (k.as_str(), doc.canonical()));
        let len = text.len()
            + set
                .iter()
                .map(|(k, d)| k.len() + d.canonical().len() + 4)
                .sum::<usize>();
        let mut out = Vec::with_capacity(len);
        out.push(b'{');
        for (i, (key, text)) in merge(input, results).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(key, &mut out);
            out.push(b':');
            out.extend_from_slice(text.as_bytes());
        }
        out.push(b'}');
        String::from_utf8(out).expect("canonical JSON is written from `&str`s and ASCII only")
    }
}

/// Merges two iterators sorted by key, with distinct keys, into one sorted by key.
fn merge<'a, T: 'a>(
    a: impl Iterator<Item = (&'a str, T)>,
    b: impl Iterator<Item = (&'a str, T)>,
) -> impl Iterator<Item = (&'a str, T)> {
    let mut a = a.peekable();
    let mut b = b.peekable();
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(x), Some(y)) if x.0 <= y.0 => a.next(),
        (Some(_), Some(_)) => b.next(),
        (Some(_), None) => a.next(),
        (None, _) => b.next(),
    })
}

impl Default for Vars {
    fn default() -> Self {
        Vars::from_input(Doc::new(Value::Object(Map::new())))
    }
}

impl PartialEq for Vars {
    fn eq(&self, other: &Vars) -> bool {
        self.iter().eq(other.iter())
    }
}

impl fmt::Debug for Vars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// `vars["name"]`: the variable, or `null` when it is not set (as with a JSON object).
impl std::ops::Index<&str> for Vars {
    type Output = Value;
    fn index(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.get(name).unwrap_or(&NULL)
    }
}

/// Serialised as the one JSON object they make (keys sorted).
impl Serialize for Vars {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Vars {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = Map::<String, Value>::deserialize(deserializer)?;
        Ok(Vars::from_input(Doc::new(Value::Object(map))))
    }
}

impl crate::expr::Variables for Vars {
    fn var(&self, name: &str) -> Option<JsonRef<'_>> {
        self.get_json(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use canonical_json::canonical_json;
    use proptest::prelude::*;
    use serde_json::json;

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "[a-z\"\\\\é]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec(("[a-dB_\"\\\\é\u{1}]{0,3}", inner), 0..5)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Whatever the input and the results set over it, the variables read, compare,
        /// serialise and write out as the one object a plain JSON merge makes.
        #[test]
        fn vars_behave_as_the_merged_object(
            input in prop::collection::vec(("[a-dB_\"\\\\é\u{1}]{0,3}", arb_json()), 0..6),
            results in prop::collection::vec(("[a-dB_\"\\\\é\u{1}]{0,3}", arb_json()), 0..4),
        ) {
            let input: Map<String, Value> = input.into_iter().collect();
            let mut merged = input.clone();
            let mut vars = Vars::from_input(Doc::new(Value::Object(input)));
            // Canonical texts made before a result is set must not go stale.
            let _ = vars.canonical_json();
            for (k, v) in results {
                merged.insert(k.clone(), v.clone());
                vars.insert(k, Doc::new(v));
                let merged = Value::Object(merged.clone());
                prop_assert_eq!(vars.canonical_json(), canonical_json(&merged));
                prop_assert_eq!(vars.to_value(), merged.clone());
            }
            let merged = Value::Object(merged);
            prop_assert_eq!(vars.canonical_json(), canonical_json(&merged));
            prop_assert_eq!(serde_json::to_value(&vars).unwrap(), merged.clone());
            let back: Vars = serde_json::from_value(merged.clone()).unwrap();
            prop_assert_eq!(&back, &vars);
            for (k, v) in merged.as_object().unwrap() {
                prop_assert_eq!(vars.get(k), Some(v));
                prop_assert_eq!(&vars[k.as_str()], v);
            }
            prop_assert_eq!(vars.get("zz-not-there"), None);
        }
    }

    #[test]
    fn a_result_hides_the_input_member_of_its_name_and_clones_share_it() {
        let mut vars = Vars::from_input(Doc::new(json!({"a": 1, "b": {"y": 2, "x": 1}})));
        let result = Doc::new(json!({"score": 7}));
        vars.insert("a".into(), result.clone());
        let clone = vars.clone();
        assert!(clone.set["a"].ptr_eq(&result));
        assert_eq!(clone["a"], json!({"score": 7}));
        assert_eq!(
            clone.canonical_json(),
            r#"{"a":{"score":7},"b":{"x":1,"y":2}}"#
        );
        assert!(Vars::from_input(Doc::new(json!([1]))) == Vars::default());
        assert_eq!(
            Vars::from_input(Doc::new(json!([1]))).canonical_json(),
            "{}"
        );
    }

    #[test]
    fn a_result_kept_as_text_is_read_without_parsing_it() {
        let mut vars = Vars::from_input(Doc::new(json!({"amount": 5})));
        let text = r#"{"outcome":"pass","score":720}"#;
        vars.insert("docs".into(), Doc::parse(text.to_string()).unwrap());
        let kept = |vars: &Vars| matches!(vars.get_json("docs"), Some(JsonRef::Kept(d)) if d.canonical() == text);
        assert!(kept(&vars));
        assert_eq!(vars.get_json("amount"), Some(JsonRef::Value(&json!(5))));
        assert_eq!(
            vars.canonical_json(),
            r#"{"amount":5,"docs":{"outcome":"pass","score":720}}"#
        );
        assert!(kept(&vars), "writing the variables out parses nothing");
        assert_eq!(vars["docs"]["score"], json!(720));
    }
}

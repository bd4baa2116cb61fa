//! Case variables: one JSON object, the case input overlaid by the results of steps.
//!
//! Nothing is copied to build them: the input is the very document the `CaseStarted`
//! event holds and each step result the one its `StepCompleted` event holds, all shared
//! through `Arc`s, so cloning the variables (or the state) costs a few reference counts.
//! Plugins get the variables as canonical JSON; each variable's text is made once and
//! kept with it, so the variables of a case with several steps are not written out again
//! for every call.

use crate::store::chain::{write_canonical, write_str};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

/// One shared value and, once asked for, its canonical JSON text.
#[derive(Clone)]
struct Shared {
    value: Arc<Value>,
    text: Arc<OnceLock<Box<str>>>,
}

impl Shared {
    fn new(value: Arc<Value>) -> Shared {
        Shared {
            value,
            text: Arc::default(),
        }
    }
}

/// The case variables: always a JSON object (an input that is not one counts as `{}`).
#[derive(Clone)]
pub struct Vars {
    /// The case input (a JSON object), as the `CaseStarted` event holds it.
    input: Arc<Value>,
    /// The input's members sorted by key, each with its canonical text; made on first use
    /// and shared by every clone of these variables.
    input_texts: Arc<OnceLock<Vec<(String, Box<str>)>>>,
    /// Step results by variable name; a name here hides the input member of that name.
    set: BTreeMap<String, Shared>,
}

static EMPTY: OnceLock<Map<String, Value>> = OnceLock::new();

fn canonical(value: &Value) -> Box<str> {
    let mut out = Vec::with_capacity(128);
    write_canonical(value, &mut out);
    // Only JSON text (valid UTF-8) was written.
    String::from_utf8(out).unwrap_or_default().into_boxed_str()
}

impl Vars {
    /// The variables of a case whose input is `input` (shared, not copied).
    pub fn from_input(input: Arc<Value>) -> Vars {
        Vars {
            input,
            input_texts: Arc::default(),
            set: BTreeMap::new(),
        }
    }

    fn input_map(&self) -> &Map<String, Value> {
        match &*self.input {
            Value::Object(m) => m,
            _ => EMPTY.get_or_init(Map::new),
        }
    }

    /// The variable `name`, if set.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self.set.get(name) {
            Some(s) => Some(&s.value),
            None => self.input_map().get(name),
        }
    }

    /// Sets `name` to `value` (shared, not copied).
    pub fn insert(&mut self, name: String, value: Arc<Value>) {
        self.set.insert(name, Shared::new(value));
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
            set.iter().map(|(k, s)| (k.as_str(), &*s.value)),
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
    /// [`crate::store::chain::canonical_json`] makes of [`Vars::to_value`].
    pub fn canonical_json(&self) -> String {
        let texts = self.input_texts.get_or_init(|| {
            let mut texts: Vec<(String, Box<str>)> = self
                .input_map()
                .iter()
                .map(|(k, v)| (k.clone(), canonical(v)))
                .collect();
            texts.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            texts
        });
        let set = &self.set;
        let input = texts
            .iter()
            .filter(|(k, _)| !set.contains_key(k.as_str()))
            .map(|(k, t)| (k.as_str(), &**t));
        let results = set
            .iter()
            .map(|(k, s)| (k.as_str(), &**s.text.get_or_init(|| canonical(&s.value))));
        let len: usize = texts
            .iter()
            .map(|(k, t)| k.len() + t.len() + 4)
            .sum::<usize>()
            + set.len() * 64;
        let mut out = Vec::with_capacity(len + 2);
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
        // Only JSON text (valid UTF-8) was written.
        String::from_utf8(out).unwrap_or_default()
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
        Vars::from_input(Arc::new(Value::Object(Map::new())))
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
        Ok(Vars::from_input(Arc::new(Value::Object(map))))
    }
}

impl crate::expr::Variables for Vars {
    fn var(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::chain::canonical_json;
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
                prop::collection::vec(("[a-dB_]{0,3}", inner), 0..5)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Whatever the input and the results set over it, the variables read, compare,
        /// serialise and write out as the one object a plain JSON merge makes.
        #[test]
        fn vars_behave_as_the_merged_object(
            input in prop::collection::vec(("[a-dB_]{0,3}", arb_json()), 0..6),
            results in prop::collection::vec(("[a-dB_]{0,3}", arb_json()), 0..4),
        ) {
            let input: Map<String, Value> = input.into_iter().collect();
            let mut merged = input.clone();
            let mut vars = Vars::from_input(Arc::new(Value::Object(input)));
            // Canonical texts made before a result is set must not go stale.
            let _ = vars.canonical_json();
            for (k, v) in results {
                merged.insert(k.clone(), v.clone());
                vars.insert(k, Arc::new(v));
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
        let mut vars = Vars::from_input(Arc::new(json!({"a": 1, "b": {"y": 2, "x": 1}})));
        let result = Arc::new(json!({"score": 7}));
        vars.insert("a".into(), result.clone());
        let clone = vars.clone();
        assert_eq!(Arc::strong_count(&result), 3);
        assert_eq!(clone["a"], json!({"score": 7}));
        assert_eq!(
            clone.canonical_json(),
            r#"{"a":{"score":7},"b":{"x":1,"y":2}}"#
        );
        assert!(Vars::from_input(Arc::new(json!([1]))) == Vars::default());
    }
}

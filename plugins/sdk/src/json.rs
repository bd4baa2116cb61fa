//! Reading the host's JSON text without building a `serde_json::Value` tree first.
//!
//! A step gets its config and case variables as JSON text. Turning all of it into
//! `Value`s costs an allocation per string, array and object (and a hash per key) for
//! parts the plugin never reads — earlier steps' results, descriptions, documents — and
//! in a fresh instance per call that is most of the call. [`Json`] is a value inside the
//! text, found by scanning and parsed only when read: into a typed struct
//! ([`Json::parse`], borrowing strings where it can), a `Value` ([`Json::value`]) or a
//! number ([`Json::as_f64`]). [`Vars`] indexes the case variables' top level once, since
//! every look-up starts there.
//!
//! Typed parsing runs plain serde first and repeats with `serde_path_to_error` only when
//! that fails, so the common case pays nothing for errors that name the JSON pointer.

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

/// A typed parse that failed: where (a JSON pointer relative to the parsed value, `""`
/// for the value itself) and serde's message, without serde_json's `at line … column …`
/// (positions in the host's text mean nothing to a flow author).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub pointer: String,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "at {}: {}", self.pointer, self.message)
        }
    }
}

impl std::error::Error for ParseError {}

/// serde_json's message without the position it appends for errors found in text.
pub fn message_of(e: &serde_json::Error) -> String {
    let text = e.to_string();
    if e.line() == 0 {
        return text;
    }
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    match text.strip_suffix(&suffix) {
        Some(message) => message.to_string(),
        None => text,
    }
}

/// Parses `text` as `T`; on failure, names the JSON pointer of the offending value.
pub fn parse_str<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, ParseError> {
    match serde_json::from_str::<T>(text) {
        Ok(value) => Ok(value),
        Err(plain) => Err(explain::<T>(text, &plain)),
    }
}

/// The same parse again, tracking the path, for the error message.
fn explain<'a, T: Deserialize<'a>>(text: &'a str, plain: &serde_json::Error) -> ParseError {
    let mut de = serde_json::Deserializer::from_str(text);
    let tracked = serde_path_to_error::deserialize::<_, T>(&mut de);
    match tracked {
        Err(e) => ParseError {
            pointer: crate::path::pointer_of(e.path()),
            message: message_of(e.inner()),
        },
        // Only trailing characters fail the plain parse but not the tracked one.
        Ok(_) => ParseError {
            pointer: String::new(),
            message: message_of(plain),
        },
    }
}

/// What a JSON value is, from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

/// One JSON value inside a document's text; parsed only as far as it is read.
#[derive(Clone, Copy)]
pub struct Json<'a>(&'a str);

impl fmt::Debug for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

impl<'a> Json<'a> {
    /// A whole document: checks its syntax in one pass, building nothing.
    pub fn document(text: &'a str) -> Result<Self, ParseError> {
        serde_json::from_str::<&RawValue>(text)
            .map(|raw| Json(raw.get()))
            .map_err(|e| ParseError {
                pointer: String::new(),
                message: e.to_string(),
            })
    }

    /// A document whose syntax was not checked: text the host sends, which is always
    /// written by serde_json. A typed [`Json::parse`] still fails cleanly on bad syntax;
    /// look-ups into it find nothing.
    pub fn unchecked(text: &'a str) -> Self {
        Json(text.trim_start())
    }

    /// The value's JSON text.
    pub fn text(self) -> &'a str {
        self.0
    }

    pub fn kind(self) -> Kind {
        match self.text().as_bytes().first() {
            Some(b'n') => Kind::Null,
            Some(b't' | b'f') => Kind::Bool,
            Some(b'"') => Kind::String,
            Some(b'[') => Kind::Array,
            Some(b'{') => Kind::Object,
            _ => Kind::Number,
        }
    }

    pub fn is_null(self) -> bool {
        self.kind() == Kind::Null
    }

    /// The member `key` of an object (the last one when the text repeats a key, as
    /// `serde_json::Value` keeps it); `None` for anything that is not an object.
    pub fn get(self, key: &str) -> Option<Json<'a>> {
        if self.kind() != Kind::Object {
            return None;
        }
        if let Some(members) = scan::members(self.text()) {
            return member(&members, key);
        }
        let mut de = serde_json::Deserializer::from_str(self.text());
        de::Deserializer::deserialize_map(&mut de, FindMember(key)).ok()?
    }

    /// Element `index` of an array; `None` for anything that is not an array.
    pub fn at(self, index: usize) -> Option<Json<'a>> {
        if self.kind() != Kind::Array {
            return None;
        }
        if let Some(elements) = scan::elements(self.text()) {
            return elements.get(index).copied();
        }
        let mut de = serde_json::Deserializer::from_str(self.text());
        de::Deserializer::deserialize_seq(&mut de, FindElement(index)).ok()?
    }

    /// An object's members in text order; empty for anything that is not an object.
    pub fn members(self) -> Vec<(Cow<'a, str>, Json<'a>)> {
        if self.kind() != Kind::Object {
            return Vec::new();
        }
        if let Some(members) = scan::members(self.text()) {
            return members;
        }
        serde_json::from_str::<Members<'a>>(self.text())
            .map(|m| m.0)
            .unwrap_or_default()
    }

    /// An array's elements; empty for anything that is not an array.
    pub fn elements(self) -> Vec<Json<'a>> {
        if self.kind() != Kind::Array {
            return Vec::new();
        }
        if let Some(elements) = scan::elements(self.text()) {
            return elements;
        }
        serde_json::from_str::<Vec<Json<'a>>>(self.text()).unwrap_or_default()
    }

    /// The value parsed into `T`; errors name the pointer inside this value.
    pub fn parse<T: Deserialize<'a>>(self) -> Result<T, ParseError> {
        parse_str(self.text())
    }

    /// The value as a `serde_json::Value` (for small values, or code that wants a tree).
    pub fn value(self) -> Result<Value, ParseError> {
        self.parse()
    }

    /// A number as `f64` (as `Value::as_f64` gives it); `None` for anything else.
    pub fn as_f64(self) -> Option<f64> {
        if self.kind() != Kind::Number {
            return None;
        }
        serde_json::from_str::<serde_json::Number>(self.text())
            .ok()?
            .as_f64()
    }

    /// A string's contents (borrowed unless it has escapes); `None` for anything else.
    pub fn as_str(self) -> Option<Cow<'a, str>> {
        if self.kind() != Kind::String {
            return None;
        }
        serde_json::from_str::<Key<'a>>(self.text())
            .ok()
            .map(|k| k.0)
    }

    /// The value at a JSON pointer (RFC 6901) below this one, looked up as
    /// `serde_json::Value::pointer` does.
    pub fn pointer(self, pointer: &str) -> Option<Json<'a>> {
        if pointer.is_empty() {
            return Some(self);
        }
        let rest = pointer.strip_prefix('/')?;
        rest.split('/').try_fold(self, |target, token| {
            let token = unescape(token);
            match target.kind() {
                Kind::Object => target.get(&token),
                Kind::Array => pointer_index(&token).and_then(|i| target.at(i)),
                _ => None,
            }
        })
    }
}

/// `~1` → `/`, then `~0` → `~`, in that order (RFC 6901).
fn unescape(token: &str) -> Cow<'_, str> {
    if token.contains('~') {
        Cow::Owned(token.replace("~1", "/").replace("~0", "~"))
    } else {
        Cow::Borrowed(token)
    }
}

/// An array index in a JSON pointer: digits, no sign, no leading zero.
fn pointer_index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
        return None;
    }
    token.parse().ok()
}

/// A key or string, borrowed from the text when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_string())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

struct FindMember<'k>(&'k str);

impl<'de> Visitor<'de> for FindMember<'_> {
    type Value = Option<Json<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let value: Json<'de> = map.next_value()?;
            if key.0 == self.0 {
                found = Some(value);
            }
        }
        Ok(found)
    }
}

struct FindElement(usize);

impl<'de> Visitor<'de> for FindElement {
    type Value = Option<Json<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        let mut i = 0;
        while let Some(value) = seq.next_element::<Json<'de>>()? {
            if i == self.0 {
                found = Some(value);
            }
            i += 1;
        }
        Ok(found)
    }
}

struct Members<'a>(Vec<(Cow<'a, str>, Json<'a>)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    let value: Json<'de> = map.next_value()?;
                    members.push((key.0, value));
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(MembersVisitor)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Json<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <&'a RawValue>::deserialize(d).map(|raw| Json(raw.get()))
    }
}

/// Deserialises an object's members from `(key, value)` pairs already split out of the
/// text (e.g. the keys a plugin routes to different structs): `T` sees an ordinary
/// object, so `deny_unknown_fields` and defaults work as usual.
pub fn parse_members<'a, T: Deserialize<'a>>(
    members: &[(Cow<'a, str>, Json<'a>)],
) -> Result<T, ParseError> {
    let plain = T::deserialize(MembersDeserializer(members));
    match plain {
        Ok(value) => Ok(value),
        Err(plain) => {
            let tracked = serde_path_to_error::deserialize::<_, T>(MembersDeserializer(members));
            Err(match tracked {
                Err(e) => ParseError {
                    pointer: crate::path::pointer_of(e.path()),
                    message: message_of(e.inner()),
                },
                Ok(_) => ParseError {
                    pointer: String::new(),
                    message: message_of(&plain),
                },
            })
        }
    }
}

/// A map deserializer over borrowed members whose values are raw JSON text.
struct MembersDeserializer<'m, 'a>(&'m [(Cow<'a, str>, Json<'a>)]);

impl<'de, 'm> de::Deserializer<'de> for MembersDeserializer<'m, 'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_map(MembersAccess {
            members: self.0.iter(),
            value: None,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct MembersAccess<'m, 'a> {
    members: std::slice::Iter<'m, (Cow<'a, str>, Json<'a>)>,
    value: Option<Json<'a>>,
}

impl<'de> MapAccess<'de> for MembersAccess<'_, 'de> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let Some((key, value)) = self.members.next() else {
            return Ok(None);
        };
        self.value = Some(*value);
        let key = match key {
            Cow::Borrowed(k) => seed.deserialize(de::value::BorrowedStrDeserializer::new(k)),
            Cow::Owned(k) => seed.deserialize(de::value::StrDeserializer::new(k)),
        };
        key.map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        let value = self
            .value
            .take()
            .ok_or_else(|| de::Error::custom("a value was asked for before its key"))?;
        seed.deserialize(&mut serde_json::Deserializer::from_str(value.text()))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.members.len())
    }
}

/// Look-ups into the host's text: [`canonical_json::scan`] finds where members and
/// elements start and end from brackets, quotes, commas and colons alone; numbers,
/// literals and escapes are left to the typed parse of what is read. `None` when the
/// structure is broken; callers then fall back to serde_json, whose error or result
/// stands. Several times cheaper than serde_json's validating skip over the parts of the
/// case variables a plugin does not read.
mod scan {
    use super::Json;
    use canonical_json::scan::{key, walk};
    use std::borrow::Cow;

    pub(super) fn members(text: &str) -> Option<Vec<(Cow<'_, str>, Json<'_>)>> {
        let mut members = Vec::with_capacity(8);
        walk(text, true, |literal, value| {
            let (literal, escaped) = literal?;
            members.push((key(literal, escaped)?, Json(value)));
            Some(())
        })?;
        Some(members)
    }

    pub(super) fn elements(text: &str) -> Option<Vec<Json<'_>>> {
        let mut elements = Vec::with_capacity(8);
        walk(text, false, |_, value| {
            elements.push(Json(value));
            Some(())
        })?;
        Some(elements)
    }
}

/// The case variables: an object whose top-level members are indexed once, since every
/// look-up starts there; objects below are indexed the first time a look-up goes
/// through them (a plugin reads several fields of `applicant`, say).
#[derive(Debug, Clone)]
pub struct Vars<'a> {
    root: Json<'a>,
    top: MemberList<'a>,
    /// Members of the nested objects looked into so far, by the object's text.
    nested: RefCell<Vec<(&'a str, MemberList<'a>)>>,
}

/// An object's members in text order.
type MemberList<'a> = Vec<(Cow<'a, str>, Json<'a>)>;

/// The last member named `key` (as `serde_json::Value` keeps a repeated key).
fn member<'a>(members: &[(Cow<'a, str>, Json<'a>)], key: &str) -> Option<Json<'a>> {
    members
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| *v)
}

impl<'a> Vars<'a> {
    /// Indexes the top level of `text`. Only its structure is checked (brackets,
    /// quotes, commas and colons, which is all a look-up relies on): what the plugin
    /// reads is checked by its typed parse, and the host only ever sends text that
    /// serde_json wrote. Text whose structure is broken gets serde_json's error.
    pub fn parse(text: &'a str) -> Result<Self, ParseError> {
        let root = Json::unchecked(text);
        if root.kind() != Kind::Object {
            return Json::document(text).map(Self::new);
        }
        let root = Json(root.text().trim_end());
        if let Some(top) = scan::members(root.text()) {
            return Ok(Self {
                root,
                top,
                nested: RefCell::default(),
            });
        }
        let error = |e: serde_json::Error| ParseError {
            pointer: String::new(),
            message: e.to_string(),
        };
        let mut de = serde_json::Deserializer::from_str(text);
        let top = Members::deserialize(&mut de).map_err(error)?.0;
        de.end().map_err(error)?;
        Ok(Self {
            root,
            top,
            nested: RefCell::default(),
        })
    }

    pub fn new(root: Json<'a>) -> Self {
        Self {
            top: root.members(),
            root,
            nested: RefCell::default(),
        }
    }

    pub fn root(&self) -> Json<'a> {
        self.root
    }

    /// A top-level variable (the last one of that name).
    pub fn get(&self, key: &str) -> Option<Json<'a>> {
        member(&self.top, key)
    }

    /// Member `key` of `object` (a value inside these variables), through the index.
    pub fn child(&self, object: Json<'a>, key: &str) -> Option<Json<'a>> {
        if object.kind() != Kind::Object {
            return None;
        }
        if std::ptr::eq(object.text(), self.root.text()) {
            return self.get(key);
        }
        let mut nested = self.nested.borrow_mut();
        let at = match nested
            .iter()
            .position(|(text, _)| std::ptr::eq(*text, object.text()))
        {
            Some(at) => at,
            None => {
                nested.push((object.text(), object.members()));
                nested.len() - 1
            }
        };
        member(&nested[at].1, key)
    }

    /// The value at a JSON pointer, looked up as `serde_json::Value::pointer` does.
    pub fn pointer(&self, pointer: &str) -> Option<Json<'a>> {
        if pointer.is_empty() {
            return Some(self.root);
        }
        let rest = pointer.strip_prefix('/')?;
        rest.split('/').try_fold(self.root, |target, token| {
            let token = unescape(token);
            match target.kind() {
                Kind::Object => self.child(target, &token),
                Kind::Array => pointer_index(&token).and_then(|i| target.at(i)),
                _ => None,
            }
        })
    }

    /// The whole document as a `Value`.
    pub fn value(&self) -> Result<Value, ParseError> {
        self.root.value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn look_ups_agree_with_value_pointer() {
        let doc = json!({
            "a": {"b/c": [10, {"d~": 4, "e": null}], "s": "x\"y"},
            "n": 1.5,
            "": {"": 7},
            "arr": [[1, 2], {"k": true}]
        });
        let text = doc.to_string();
        let vars = Vars::parse(&text).unwrap();
        for pointer in [
            "",
            "/a",
            "/a/b~1c",
            "/a/b~1c/0",
            "/a/b~1c/1/d~0",
            "/a/b~1c/1/e",
            "/a/b~1c/01",
            "/a/b~1c/+1",
            "/a/b~1c/7",
            "/a/s",
            "/n",
            "/n/x",
            "/",
            "//",
            "/arr/0/1",
            "/arr/1/k",
            "/missing",
            "a",
        ] {
            let expected = doc.pointer(pointer).cloned();
            let got = vars.pointer(pointer).map(|j| j.value().unwrap());
            assert_eq!(got, expected, "{pointer}");
            let got = vars.root().pointer(pointer).map(|j| j.value().unwrap());
            assert_eq!(got, expected, "{pointer} from the root");
        }
        assert_eq!(vars.get("n").unwrap().as_f64(), Some(1.5));
        assert_eq!(vars.pointer("/a/s").unwrap().as_str().unwrap(), "x\"y");
        assert_eq!(vars.get("a").unwrap().as_f64(), None);
        assert_eq!(vars.get("a").unwrap().kind(), Kind::Object);
        assert_eq!(vars.value().unwrap(), doc);
    }

    #[test]
    fn a_repeated_key_reads_as_its_last_value() {
        let text = r#"{"k": 1, "o": {"x": 1, "x": 2}, "k": 3}"#;
        let vars = Vars::parse(text).unwrap();
        let value: Value = serde_json::from_str(text).unwrap();
        assert_eq!(vars.get("k").unwrap().as_f64(), Some(3.0));
        assert_eq!(vars.pointer("/o/x").unwrap().as_f64(), Some(2.0));
        assert_eq!(value.pointer("/o/x"), Some(&json!(2)));
    }

    #[test]
    fn members_and_elements_keep_text_order() {
        let j = Json::document(r#"{"b": [1, "two", null], "a\u0041": {}}"#).unwrap();
        let members = j.members();
        assert_eq!(members[0].0, "b");
        assert!(matches!(members[1].0, Cow::Owned(_)));
        assert_eq!(members[1].0, "aA");
        let elements = members[0].1.elements();
        assert_eq!(
            elements.iter().map(|e| e.kind()).collect::<Vec<_>>(),
            [Kind::Number, Kind::String, Kind::Null]
        );
        assert!(j.elements().is_empty());
        assert!(elements[0].members().is_empty());
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Typed<'a> {
        name: &'a str,
        #[serde(default)]
        limits: Vec<Limit>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Limit {
        max: f64,
    }

    #[test]
    fn typed_parse_errors_match_the_value_deserialiser() {
        for doc in [
            json!({"name": "a", "limits": [{"max": 1}, {"max": "x"}]}),
            json!({"name": "a", "limits": [{"max": 1}, {"mx": 2}]}),
            json!({"limits": []}),
            json!({"name": 5}),
            json!([1]),
        ] {
            let text = doc.to_string();
            let from_text = Json::document(&text).unwrap().parse::<Typed>().unwrap_err();
            let from_value = serde_path_to_error::deserialize::<_, Typed>(&doc).unwrap_err();
            assert_eq!(
                from_text.pointer,
                crate::path::pointer_of(from_value.path()),
                "{doc}"
            );
            assert_eq!(from_text.message, from_value.inner().to_string(), "{doc}");
        }
        let ok: Typed = parse_str(r#"{"name": "b", "limits": [{"max": 2}]}"#).unwrap();
        assert_eq!(ok.name, "b");
    }

    #[test]
    fn split_members_deserialise_like_an_object() {
        let j = Json::document(r#"{"name": "n", "extra": 1, "limits": [{"max": "x"}]}"#).unwrap();
        let members: Vec<_> = j
            .members()
            .into_iter()
            .filter(|(k, _)| k != "extra")
            .collect();
        let e = parse_members::<Typed>(&members).unwrap_err();
        assert_eq!(e.pointer, "/limits/0/max");
        assert_eq!(e.message, "invalid type: string \"x\", expected f64");
        let ok = parse_members::<Typed>(&members[..1]).unwrap();
        assert_eq!(ok.name, "n");
        let e = parse_members::<Typed>(&j.members()).unwrap_err();
        assert!(e.message.starts_with("unknown field `extra`"), "{e}");
    }

    /// A pseudo-random JSON value: nested objects and arrays, keys and strings with
    /// escapes and non-ASCII text, numbers of every shape.
    fn random_value(seed: &mut u64, depth: u32) -> Value {
        fn next(seed: &mut u64) -> u64 {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed
        }
        let texts = [
            "",
            "a",
            "k\"q",
            "back\\slash",
            "tab\tnew\nline",
            "ünï ✓",
            "}]{[,:",
            "\u{1}",
        ];
        match next(seed) % if depth == 0 { 5 } else { 7 } {
            0 => Value::Null,
            1 => Value::Bool(next(seed).is_multiple_of(2)),
            2 => json!((next(seed) % 2000) as i64 - 1000),
            3 => {
                let sign = if next(seed).is_multiple_of(2) {
                    1.0
                } else {
                    -1.0
                };
                json!(f64::from_bits(next(seed) >> 2) * sign)
            }
            4 => json!(texts[(next(seed) % 8) as usize]),
            5 => Value::Array(
                (0..next(seed) % 5)
                    .map(|_| random_value(seed, depth - 1))
                    .collect(),
            ),
            _ => Value::Object(
                (0..next(seed) % 5)
                    .map(|i| {
                        let key = format!("{}{i}", texts[(next(seed) % 8) as usize]);
                        (key, random_value(seed, depth - 1))
                    })
                    .collect(),
            ),
        }
    }

    /// Members or elements as serde_json finds them (the scan's fallback).
    fn serde_parts(j: Json<'_>) -> Vec<(Option<String>, String)> {
        match j.kind() {
            Kind::Object => serde_json::from_str::<Members>(j.text())
                .unwrap()
                .0
                .into_iter()
                .map(|(k, v)| (Some(k.into_owned()), v.text().to_string()))
                .collect(),
            Kind::Array => serde_json::from_str::<Vec<Json>>(j.text())
                .unwrap()
                .into_iter()
                .map(|v| (None, v.text().to_string()))
                .collect(),
            _ => Vec::new(),
        }
    }

    fn scanned_parts(j: Json<'_>) -> Vec<(Option<String>, String)> {
        match j.kind() {
            Kind::Object => scan::members(j.text())
                .unwrap()
                .into_iter()
                .map(|(k, v)| (Some(k.into_owned()), v.text().to_string()))
                .collect(),
            Kind::Array => scan::elements(j.text())
                .unwrap()
                .into_iter()
                .map(|v| (None, v.text().to_string()))
                .collect(),
            _ => Vec::new(),
        }
    }

    fn assert_scan_agrees(j: Json<'_>) {
        let parts = serde_parts(j);
        assert_eq!(scanned_parts(j), parts, "{}", j.text());
        for (_, value) in &parts {
            assert_scan_agrees(Json::document(value).unwrap());
        }
    }

    #[test]
    fn the_structural_scan_finds_what_serde_json_finds() {
        let mut seed = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..500 {
            let doc = random_value(&mut seed, 4);
            for text in [
                doc.to_string(),
                serde_json::to_string_pretty(&doc).unwrap(),
                canonical_json::canonical_json(&doc),
            ] {
                let j = Json::document(&text).unwrap();
                assert_scan_agrees(j);
                if j.kind() == Kind::Object {
                    let vars = Vars::parse(&text).unwrap();
                    assert_eq!(vars.value().unwrap(), doc);
                    for (key, value) in doc.as_object().unwrap() {
                        assert_eq!(&vars.get(key).unwrap().value().unwrap(), value);
                        assert_eq!(&j.get(key).unwrap().value().unwrap(), value);
                    }
                }
            }
        }
    }

    #[test]
    fn broken_structure_is_left_to_serde_json() {
        for bad in [
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            r#"{"a":1} x"#,
            r#"{"a":"#,
            r#"{"a":1"#,
            r#"{1:2}"#,
            r#"{"a":}"#,
            r#"{"a":"x}"#,
            r#"{"a":[1,2}"#,
            r#"{"a":1 "b":2}"#,
            r#"{"a":@}"#,
        ] {
            assert!(scan::members(bad).is_none(), "{bad}");
            assert!(Vars::parse(bad).is_err(), "{bad}");
        }
        for bad in ["[1,]", "[1 2]", "[,1]", "[1", "[1]]"] {
            assert!(scan::elements(bad).is_none(), "{bad}");
        }
        // What the scan does not check is left to the typed parse of what is read.
        let vars = Vars::parse(r#"{"a":tru,"b":2}"#).unwrap();
        assert_eq!(vars.get("b").unwrap().as_f64(), Some(2.0));
        assert!(vars.get("a").unwrap().parse::<bool>().is_err());
    }

    #[test]
    fn invalid_text_is_an_error() {
        assert!(Json::document("{").is_err());
        assert!(Vars::parse("[1,]").is_err());
        assert!(Json::document(" {} ").is_ok());
    }
}

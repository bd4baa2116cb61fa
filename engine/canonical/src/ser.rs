//! Canonical JSON straight from `Serialize` types: the same text as
//! `canonical_json(&serde_json::to_value(x)?)` (object keys sorted at every level,
//! no whitespace, serde_json's number and string formats), without building the `Value`
//! tree first. Events are written this way on every transition, and building their
//! trees (every key a `String`, every object an index map) cost more than the rest.
//!
//! Everything is written straight to the output. An object's members are written as they
//! come; only when a key arrives out of order are the object's members copied aside once
//! and written back sorted (Rust structs and sorted maps never need it).

use crate::write_str;
use serde::ser::{self, Impossible, Serialize};
use std::borrow::Cow;
use std::fmt;

/// Why a value has no JSON form (a map key that is not a string or a number, a 128-bit
/// integer, or the value's own `Serialize` failing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalError(String);

impl fmt::Display for CanonicalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CanonicalError {}

impl ser::Error for CanonicalError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        CanonicalError(msg.to_string())
    }
}

/// The name of the newtype struct by which a value hands this writer its canonical text,
/// ready made (see [`writing`] and the engine's `Doc`).
pub const RAW: &str = "$docket::canonical::raw";

thread_local! {
    static WRITING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread is inside [`to_canonical_json`]: a value that keeps its canonical
/// text may then serialise as `serialize_newtype_struct(RAW, text)`, which is copied as it
/// is. Only this writer ever sees that form.
pub fn writing() -> bool {
    WRITING.with(|w| w.get())
}

/// Sets [`writing`] for its lifetime (restoring what was there, on unwinding too).
struct Writing(bool);

impl Writing {
    fn start() -> Writing {
        Writing(WRITING.with(|w| w.replace(true)))
    }
}

impl Drop for Writing {
    fn drop(&mut self) {
        WRITING.with(|w| w.set(self.0));
    }
}

/// `value` as canonical JSON text. `skip_key` leaves out one member of the top-level
/// object (the event store keeps an event's `type` tag in its own column).
pub fn to_canonical_json<T: Serialize + ?Sized>(
    value: &T,
    skip_key: Option<&'static str>,
) -> Result<String, CanonicalError> {
    let mut out = Vec::with_capacity(512);
    let writing = Writing::start();
    value.serialize(Canonical {
        out: &mut out,
        skip_key,
    })?;
    drop(writing);
    // Only JSON text (valid UTF-8: keys and strings come from `str`) was written.
    String::from_utf8(out).map_err(|e| CanonicalError(e.to_string()))
}

struct Canonical<'a> {
    out: &'a mut Vec<u8>,
    skip_key: Option<&'static str>,
}

impl<'a> Canonical<'a> {
    fn nested(out: &'a mut Vec<u8>) -> Self {
        Canonical {
            out,
            skip_key: None,
        }
    }

    fn number<N: Serialize>(self, n: N) -> Result<(), CanonicalError> {
        serde_json::to_writer(&mut *self.out, &n).map_err(|e| CanonicalError(e.to_string()))
    }

    /// An object of about `len` members (serde's length hint: members are tracked, not
    /// just written, in case they come out of order).
    fn object(self, len: usize) -> Object<'a> {
        let open = self.out.len();
        self.out.push(b'{');
        Object {
            out: self.out,
            skip_key: self.skip_key,
            open,
            members: Vec::with_capacity(len.min(64)),
            sorted: true,
            key: None,
        }
    }
}

/// Serializer methods that write an integer as serde_json does.
macro_rules! integers {
    ($($m:ident($t:ty)),*) => {
        $(fn $m(self, v: $t) -> Result<()> {
            self.number(v)
        })*
    };
}

type Result<T, E = CanonicalError> = std::result::Result<T, E>;

impl<'a> ser::Serializer for Canonical<'a> {
    type Ok = ();
    type Error = CanonicalError;
    type SerializeSeq = Array<'a>;
    type SerializeTuple = Array<'a>;
    type SerializeTupleStruct = Array<'a>;
    type SerializeTupleVariant = Variant<Array<'a>>;
    type SerializeMap = Object<'a>;
    type SerializeStruct = Object<'a>;
    type SerializeStructVariant = Variant<Object<'a>>;

    fn serialize_bool(self, v: bool) -> Result<()> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    integers!(
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128)
    );
    fn serialize_f32(self, v: f32) -> Result<()> {
        // `to_value` widens an f32 to f64 before formatting; so does this.
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<()> {
        if v.is_finite() {
            self.number(v)
        } else {
            self.out.extend_from_slice(b"null");
            Ok(())
        }
    }
    fn serialize_char(self, v: char) -> Result<()> {
        let mut buf = [0u8; 4];
        write_str(v.encode_utf8(&mut buf), self.out);
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<()> {
        write_str(v, self.out);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        let mut seq = ser::Serializer::serialize_seq(self, Some(v.len()))?;
        for b in v {
            ser::SerializeSeq::serialize_element(&mut seq, b)?;
        }
        ser::SerializeSeq::end(seq)
    }
    fn serialize_none(self) -> Result<()> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<()> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<()> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<()> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<()> {
        if name == RAW {
            if self.skip_key.is_some() {
                return Err(CanonicalError("ready-made text has no key to skip".into()));
            }
            return value.serialize(RawText(self.out));
        }
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<()> {
        open_variant(self.out, variant);
        value.serialize(Canonical::nested(self.out))?;
        self.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Array<'a>> {
        self.out.push(b'[');
        Ok(Array {
            out: self.out,
            first: true,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Array<'a>> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Array<'a>> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Variant<Array<'a>>> {
        open_variant(self.out, variant);
        Ok(Variant(
            Canonical::nested(self.out).serialize_seq(Some(len))?,
        ))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Object<'a>> {
        Ok(self.object(len.unwrap_or(8)))
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Object<'a>> {
        Ok(self.object(len))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Variant<Object<'a>>> {
        open_variant(self.out, variant);
        Ok(Variant(Canonical::nested(self.out).object(len)))
    }
}

/// `{"variant":` — what serde_json writes before a variant's content.
fn open_variant(out: &mut Vec<u8>, variant: &str) {
    out.push(b'{');
    write_str(variant, out);
    out.push(b':');
}

struct Array<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl Array<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        value.serialize(Canonical::nested(self.out))
    }

    fn close(self) {
        self.out.push(b']');
    }
}

/// The three array-shaped serde traits: each element in turn, then `]`.
macro_rules! array_trait {
    ($trait:ident, $method:ident) => {
        impl ser::$trait for Array<'_> {
            type Ok = ();
            type Error = CanonicalError;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
                self.element(value)
            }
            fn end(self) -> Result<()> {
                self.close();
                Ok(())
            }
        }
    };
}

array_trait!(SerializeSeq, serialize_element);
array_trait!(SerializeTuple, serialize_element);
array_trait!(SerializeTupleStruct, serialize_field);

/// An object: members are written to `out` as they come, and sorted at `end` only if they
/// did not come in key order.
struct Object<'a> {
    out: &'a mut Vec<u8>,
    skip_key: Option<&'static str>,
    /// Where the object's `{` is in `out`.
    open: usize,
    /// Key and the range in `out` of each member's `"key":value`, in arrival order.
    members: Vec<(Cow<'static, str>, usize, usize)>,
    /// Whether every key so far came after the one before it.
    sorted: bool,
    /// The key of a map entry whose value comes next.
    key: Option<String>,
}

impl<'a> Object<'a> {
    fn member<T: Serialize + ?Sized>(&mut self, key: Cow<'static, str>, value: &T) -> Result<()> {
        if self.skip_key == Some(key.as_ref()) {
            return Ok(());
        }
        if let Some((last, ..)) = self.members.last() {
            self.sorted &= *last <= key;
            self.out.push(b',');
        }
        let start = self.out.len();
        write_str(&key, self.out);
        self.out.push(b':');
        value.serialize(Canonical::nested(self.out))?;
        self.members.push((key, start, self.out.len()));
        Ok(())
    }

    /// Sorts the members by key if they did not come so (a stable sort, as before), and
    /// closes the object; hands back the output buffer.
    fn close(self) -> &'a mut Vec<u8> {
        let Object {
            out,
            open,
            mut members,
            sorted,
            ..
        } = self;
        if !sorted {
            let body = out.split_off(open + 1);
            let base = open + 1;
            members.sort_by(|a, b| a.0.cmp(&b.0));
            for (i, (_, start, end)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(&body[start - base..end - base]);
            }
        }
        out.push(b'}');
        out
    }
}

impl ser::SerializeMap for Object<'_> {
    type Ok = ();
    type Error = CanonicalError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        self.key = Some(key.serialize(KeySerializer)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let key = self
            .key
            .take()
            .ok_or_else(|| CanonicalError("a map value came without its key".into()))?;
        self.member(Cow::Owned(key), value)
    }
    fn end(self) -> Result<()> {
        self.close();
        Ok(())
    }
}

impl ser::SerializeStruct for Object<'_> {
    type Ok = ();
    type Error = CanonicalError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        self.member(Cow::Borrowed(key), value)
    }
    fn end(self) -> Result<()> {
        self.close();
        Ok(())
    }
}

/// `{"variant": …}` around an array or an object.
struct Variant<S>(S);

impl ser::SerializeTupleVariant for Variant<Array<'_>> {
    type Ok = ();
    type Error = CanonicalError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.0.element(value)
    }
    fn end(self) -> Result<()> {
        let Variant(array) = self;
        array.out.extend_from_slice(b"]}");
        Ok(())
    }
}

impl ser::SerializeStructVariant for Variant<Object<'_>> {
    type Ok = ();
    type Error = CanonicalError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        self.0.member(Cow::Borrowed(key), value)
    }
    fn end(self) -> Result<()> {
        let Variant(object) = self;
        object.close().push(b'}');
        Ok(())
    }
}

/// Takes a ready-made canonical text (a `str`) and copies it as it is.
struct RawText<'a>(&'a mut Vec<u8>);

/// The methods for arrays, maps and structs of a serializer that takes only plain values:
/// each fails with `$error()`.
macro_rules! no_compounds {
    ($error:ident) => {
        fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq> {
            Err($error())
        }
        fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> {
            Err($error())
        }
        fn serialize_tuple_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleStruct> {
            Err($error())
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant> {
            Err($error())
        }
        fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap> {
            Err($error())
        }
        fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct> {
            Err($error())
        }
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant> {
            Err($error())
        }
    };
}

/// Raw text serializer methods that refuse anything but a string.
macro_rules! not_text {
    ($($m:ident($t:ty)),*) => {
        $(fn $m(self, _: $t) -> Result<()> {
            Err(raw_error())
        })*
    };
}

fn raw_error() -> CanonicalError {
    CanonicalError("ready-made canonical text must be a string".into())
}

impl ser::Serializer for RawText<'_> {
    type Ok = ();
    type Error = CanonicalError;
    type SerializeSeq = Impossible<(), CanonicalError>;
    type SerializeTuple = Impossible<(), CanonicalError>;
    type SerializeTupleStruct = Impossible<(), CanonicalError>;
    type SerializeTupleVariant = Impossible<(), CanonicalError>;
    type SerializeMap = Impossible<(), CanonicalError>;
    type SerializeStruct = Impossible<(), CanonicalError>;
    type SerializeStructVariant = Impossible<(), CanonicalError>;

    fn serialize_str(self, v: &str) -> Result<()> {
        self.0.extend_from_slice(v.as_bytes());
        Ok(())
    }
    not_text!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str)
    );
    fn serialize_none(self) -> Result<()> {
        Err(raw_error())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<()> {
        Err(raw_error())
    }
    fn serialize_unit(self) -> Result<()> {
        Err(raw_error())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<()> {
        Err(raw_error())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, _: &T) -> Result<()> {
        Err(raw_error())
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<()> {
        Err(raw_error())
    }
    no_compounds!(raw_error);
}

/// Map keys: strings as they are, numbers and booleans as their text (as serde_json does).
struct KeySerializer;

/// Key serializer methods that turn the key into its text, and ones that refuse it.
macro_rules! key_methods {
    (text: $($m:ident($t:ty)),*; refused: $($r:ident($u:ty)),*) => {
        $(fn $m(self, v: $t) -> Result<String> {
            Ok(v.to_string())
        })*
        $(fn $r(self, _: $u) -> Result<String> {
            Err(key_error())
        })*
    };
}

fn key_error() -> CanonicalError {
    CanonicalError("a JSON object key must be a string".into())
}

impl ser::Serializer for KeySerializer {
    type Ok = String;
    type Error = CanonicalError;
    type SerializeSeq = Impossible<String, CanonicalError>;
    type SerializeTuple = Impossible<String, CanonicalError>;
    type SerializeTupleStruct = Impossible<String, CanonicalError>;
    type SerializeTupleVariant = Impossible<String, CanonicalError>;
    type SerializeMap = Impossible<String, CanonicalError>;
    type SerializeStruct = Impossible<String, CanonicalError>;
    type SerializeStructVariant = Impossible<String, CanonicalError>;

    fn serialize_str(self, v: &str) -> Result<String> {
        Ok(v.to_string())
    }
    key_methods!(
        text: serialize_bool(bool), serialize_i8(i8), serialize_i16(i16), serialize_i32(i32),
            serialize_i64(i64), serialize_u8(u8), serialize_u16(u16), serialize_u32(u32),
            serialize_u64(u64), serialize_char(char);
        refused: serialize_f32(f32), serialize_f64(f64), serialize_bytes(&[u8])
    );
    fn serialize_none(self) -> Result<String> {
        Err(key_error())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<String> {
        Err(key_error())
    }
    fn serialize_unit(self) -> Result<String> {
        Err(key_error())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<String> {
        Err(key_error())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<String> {
        Ok(variant.to_string())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<String> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<String> {
        Err(key_error())
    }
    no_compounds!(key_error);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical_json;
    use serde::Serialize;
    use serde_json::json;
    use std::collections::{BTreeMap, HashMap};

    /// The reference: build the tree, then write it canonically.
    fn via_value<T: Serialize>(x: &T) -> String {
        canonical_json(&serde_json::to_value(x).unwrap())
    }

    #[derive(Serialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Tagged {
        Zeta {
            b: Option<u32>,
            a: Vec<Inner>,
            #[serde(skip_serializing_if = "Option::is_none")]
            skipped: Option<String>,
        },
    }

    #[derive(Serialize)]
    struct Inner {
        z: f64,
        y: f32,
        x: char,
        w: (i64, bool),
        v: Kind,
        u: Wrap,
        t: BTreeMap<u32, &'static str>,
        s: serde_json::Value,
    }

    #[derive(Serialize)]
    enum Kind {
        Unit,
        New(u8),
        Tuple(u8, String),
        Struct { b: u8, a: u8 },
    }

    #[derive(Serialize)]
    struct Wrap(Vec<u8>);

    fn inner(v: Kind) -> Inner {
        Inner {
            z: -1.5e-7,
            y: 0.1,
            x: '"',
            w: (i64::MIN, true),
            v,
            u: Wrap(vec![1, 2]),
            t: BTreeMap::from([(10, "ten"), (9, "nine")]),
            s: json!({"b": [1, {"d": null, "c": "é\u{1}"}], "a": f64::MAX, "ab": 1u64 << 63}),
        }
    }

    #[test]
    fn writes_what_the_value_tree_writes() {
        let x = Tagged::Zeta {
            b: None,
            a: vec![
                inner(Kind::Unit),
                inner(Kind::New(7)),
                inner(Kind::Tuple(1, "x".into())),
                inner(Kind::Struct { b: 2, a: 1 }),
            ],
            skipped: None,
        };
        assert_eq!(to_canonical_json(&x, None).unwrap(), via_value(&x));
        let without_type = to_canonical_json(&x, Some("type")).unwrap();
        let mut tree = serde_json::to_value(&x).unwrap();
        tree.as_object_mut().unwrap().remove("type");
        assert_eq!(without_type, canonical_json(&tree));
        let floats = vec![f64::NAN, f64::INFINITY, 0.0, -0.0, 1e300, 5e-324];
        assert_eq!(
            to_canonical_json(&floats, None).unwrap(),
            via_value(&floats)
        );
        let keys: HashMap<i32, bool> = HashMap::from([(-1, true), (20, false), (3, true)]);
        assert_eq!(to_canonical_json(&keys, None).unwrap(), via_value(&keys));
    }

    #[test]
    fn non_string_keys_are_refused() {
        let m: BTreeMap<Vec<u8>, u8> = BTreeMap::from([(vec![1], 1)]);
        assert!(to_canonical_json(&m, None).is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_json_document_is_written_as_canonical_json_writes_it(v in crate::tests::arb_json()) {
            proptest::prop_assert_eq!(to_canonical_json(&v, None).unwrap(), canonical_json(&v));
        }
    }
}

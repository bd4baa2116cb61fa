//! Docket's canonical JSON: object keys sorted (by their UTF-8 bytes) at every level, no
//! insignificant whitespace, numbers and strings written exactly as serde_json writes
//! them. Equal documents always give equal bytes, so their hashes are equal too.
//!
//! The engine stores and hashes events in this form; the plugin SDK writes results in it,
//! and the host takes a result that [`is_canonical`] as it is instead of parsing and
//! writing it again.

mod check;
pub mod scan;
mod ser;

pub use check::{MemberAt, canonical_members, is_canonical, member, members};
pub use ser::{CanonicalError, to_canonical_json};
#[doc(hidden)]
pub use ser::{RAW, writing};

use serde_json::{Map, Value};
use std::ops::Range;

/// Serialises JSON with object keys sorted at every level and no insignificant
/// whitespace, so that equal documents always give equal bytes (and equal hashes).
pub fn canonical_json(value: &Value) -> String {
    let mut out = Vec::with_capacity(256);
    write_canonical(value, &mut out);
    String::from_utf8(out).expect("canonical JSON is written from `&str`s and ASCII only")
}

/// [`canonical_json`] appended to a byte buffer (no intermediate strings).
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => write_object(map, out, |_, _| {}),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        Value::String(s) => write_str(s, out),
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            serde_json::to_writer(&mut *out, n).expect("writing a number into a Vec cannot fail")
        }
    }
}

/// [`write_canonical`] of an object, handing `member` each key and the byte range of its
/// value's text in `out`, in the order written (by key): an index of the object's members
/// without walking the text again.
pub fn write_object<'v>(
    map: &'v Map<String, Value>,
    out: &mut Vec<u8>,
    mut member: impl FnMut(&'v str, Range<usize>),
) {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.push(b'{');
    for (i, (key, value)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(key, out);
        out.push(b':');
        let start = out.len();
        write_canonical(value, out);
        member(key, start..out.len());
    }
    out.push(b'}');
}

/// A JSON string literal, escaped exactly as serde_json does (the hashes of stored
/// events depend on it): `"` and `\` escaped, control characters as `\b \t \n \f \r`
/// or `\u00XX`, everything else (non-ASCII included) as it is. Runs of plain bytes are
/// copied at once.
pub fn write_str(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // `bytes[plain..i]` is copied as it is when the next escape (or the end) comes.
    let mut plain = 0;
    let mut at = 0;
    while at < bytes.len() {
        // Sixteen bytes at a time; the last few padded with spaces, which need no escape.
        let mut stops = match bytes[at..].first_chunk::<{ scan::BLOCK }>() {
            Some(block) => scan::escapes(block),
            None => {
                let mut block = [b' '; scan::BLOCK];
                block[..bytes.len() - at].copy_from_slice(&bytes[at..]);
                scan::escapes(&block)
            }
        };
        while stops != 0 {
            let i = at + stops.trailing_zeros() as usize;
            stops &= stops - 1;
            let b = bytes[i];
            let escape: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0x08 => b"\\b",
                0x0c => b"\\f",
                _ => &[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(b >> 4) as usize],
                    HEX[(b & 0xf) as usize],
                ],
            };
            out.extend_from_slice(&bytes[plain..i]);
            out.extend_from_slice(escape);
            plain = i + 1;
        }
        at += scan::BLOCK;
    }
    out.extend_from_slice(&bytes[plain..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// JSON documents for the property tests: every kind of number (floats of every
    /// magnitude, and short decimals), strings with characters that need escapes, objects
    /// whose keys come out of order and need escapes too.
    pub(crate) fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            (-1000i32..1000, -3i32..3).prop_map(|(m, e)| Value::from(f64::from(m) * 10f64.powi(e))),
            "\\PC{0,8}|[\\x00-\\x1f\"\\\\/a-zé中]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map("[a-e\"\\\\é\\x01]{0,3}|\\PC{0,3}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().rev().collect())),
            ]
        })
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let a = json!({"b": 1, "a": {"z": [3, {"y": true, "x": null}], "c": "é\n"}});
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"c":"é\n","z":[3,{"x":null,"y":true}]},"b":1}"#
        );
    }

    #[test]
    fn canonical_json_escapes_like_serde_json() {
        let v = json!({"q\"k": "tab\t\u{1}\"", "n": [1.5, -0, 1e300, null, false]});
        assert_eq!(
            canonical_json(&v),
            r#"{"n":[1.5,0,1e+300,null,false],"q\"k":"tab\t\u0001\""}"#
        );
        let back: Value = serde_json::from_str(&canonical_json(&v)).expect("canonical text parses");
        assert_eq!(back, v);
    }

    #[test]
    fn every_ascii_character_is_escaped_like_serde_json() {
        let all: String = (0u8..0x80).map(char::from).collect();
        let mut out = Vec::new();
        write_str(&all, &mut out);
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            serde_json::to_string(&all).expect("serde_json writes a string")
        );
    }

    proptest::proptest! {
        #[test]
        fn strings_are_escaped_like_serde_json(s in "\\PC*|[\\x00-\\x1f\"\\\\a-zé中]*") {
            let mut out = Vec::new();
            write_str(&s, &mut out);
            proptest::prop_assert_eq!(
                String::from_utf8(out).expect("UTF-8"),
                serde_json::to_string(&s).expect("serde_json writes a string")
            );
        }
    }
}

//! The per-case hash chain: canonical JSON, the stored time format and the event hash.
//!
//! `hash = SHA-256(prev_hash ‖ case_id ‖ seq ‖ type ‖ payload ‖ at)` where every field is
//! the exact text stored in its column, each prefixed by its length (8 bytes, big endian)
//! so that no two different rows hash the same bytes.

use super::Time;
use chrono::SecondsFormat;
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// `prev_hash` of a case's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Serialises JSON with object keys sorted at every level and no insignificant
/// whitespace, so that equal documents always give equal bytes (and equal hashes).
pub fn canonical_json(value: &Value) -> String {
    let mut out = Vec::with_capacity(256);
    write_canonical(value, &mut out);
    // Only JSON text (valid UTF-8) was written.
    String::from_utf8(out).unwrap_or_default()
}

/// [`canonical_json`] appended to a byte buffer (no intermediate strings).
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(key, out);
                out.push(b':');
                write_canonical(value, out);
            }
            out.push(b'}');
        }
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
        // Writing a number into a Vec cannot fail.
        Value::Number(n) => {
            let _ = serde_json::to_writer(&mut *out, n);
        }
    }
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
    let mut i = 0;
    while i < bytes.len() {
        // Eight bytes at a time while none of them needs escaping.
        if let Some(word) = bytes[i..].first_chunk::<8>()
            && !needs_escape(u64::from_le_bytes(*word))
        {
            i += 8;
            continue;
        }
        let b = bytes[i];
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ],
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[plain..i]);
        out.extend_from_slice(escape);
        i += 1;
        plain = i;
    }
    out.extend_from_slice(&bytes[plain..]);
    out.push(b'"');
}

/// Whether any of the eight bytes of `word` is a control character, `"` or `\\`
/// (exact, with the usual has-zero-byte / has-byte-less-than bit tricks).
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    (below_space | zero(quote) | zero(backslash)) != 0
}

/// The stored form of an event time: RFC 3339, UTC, microseconds, `Z`.
pub fn format_time(at: Time) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The hash of one event over the exact stored texts.
pub fn event_hash(
    prev_hash: &str,
    case_id: &Uuid,
    seq: i64,
    kind: &str,
    payload: &str,
    at: &str,
) -> String {
    let mut hasher = Sha256::new();
    let mut id_buf = Uuid::encode_buffer();
    let case_id = case_id.hyphenated().encode_lower(&mut id_buf);
    let seq = seq.to_string();
    for field in [prev_hash, case_id, &seq, kind, payload, at] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    lower_hex(&hasher.finalize())
}

/// Lower-case hex of `bytes` (what `hex::encode` gives, without its per-character iterator).
fn lower_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        let back: Value = serde_json::from_str(&canonical_json(&v)).unwrap_or_default();
        assert_eq!(back, v);
    }

    #[test]
    fn every_ascii_character_is_escaped_like_serde_json() {
        let all: String = (0u8..0x80).map(char::from).collect();
        let mut out = Vec::new();
        write_str(&all, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap_or_default(),
            serde_json::to_string(&all).unwrap_or_default()
        );
    }

    proptest::proptest! {
        #[test]
        fn strings_are_escaped_like_serde_json(s in "\\PC*|[\\x00-\\x1f\"\\\\a-zé中]*") {
            let mut out = Vec::new();
            write_str(&s, &mut out);
            proptest::prop_assert_eq!(
                String::from_utf8(out).unwrap_or_default(),
                serde_json::to_string(&s).unwrap_or_default()
            );
        }
    }

    #[test]
    fn hex_is_hex_encode() {
        let bytes: Vec<u8> = (0u8..=255).collect();
        assert_eq!(lower_hex(&bytes), hex::encode(&bytes));
    }

    #[test]
    fn hash_changes_with_every_field_and_field_boundaries_matter() {
        let id = Uuid::nil();
        let base = event_hash(GENESIS, &id, 1, "t", "{}", "2026-01-01T00:00:00.000000Z");
        assert_ne!(
            base,
            event_hash(GENESIS, &id, 2, "t", "{}", "2026-01-01T00:00:00.000000Z")
        );
        assert_ne!(
            base,
            event_hash(GENESIS, &id, 1, "u", "{}", "2026-01-01T00:00:00.000000Z")
        );
        assert_ne!(
            base,
            event_hash(GENESIS, &id, 1, "t", "[]", "2026-01-01T00:00:00.000000Z")
        );
        // Moving a byte from one field to the next must change the hash.
        assert_ne!(
            event_hash(GENESIS, &id, 1, "ab", "c", "x"),
            event_hash(GENESIS, &id, 1, "a", "bc", "x")
        );
    }
}

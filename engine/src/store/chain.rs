//! The per-case hash chain: the stored time format and the event hash.
//!
//! `hash = SHA-256(prev_hash ‖ case_id ‖ seq ‖ type ‖ payload ‖ at)` where every field is
//! the exact text stored in its column, each prefixed by its length (8 bytes, big endian)
//! so that no two different rows hash the same bytes.

use super::Time;
use chrono::SecondsFormat;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// `prev_hash` of a case's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

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

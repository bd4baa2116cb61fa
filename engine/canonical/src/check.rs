//! Reading canonical text without building a `Value`: [`is_canonical`] tells whether a
//! text is already in canonical form, [`members`] and [`member`] walk an object's text.

use crate::scan;
use std::borrow::Cow;
use std::ops::Range;

/// Deepest nesting [`is_canonical`] accepts (serde_json refuses documents nested deeper
/// than 128; a deeper canonical text is merely not recognised as such).
const MAX_DEPTH: usize = 100;

/// Whether `text` is canonical JSON: exactly what [`crate::canonical_json`] writes of the
/// value serde_json parses from it (so that value parses without error). Reads the text
/// once and allocates nothing. `false` says nothing more than "not recognised": a caller
/// then parses the text and writes it out canonically itself.
///
/// Recognised: no whitespace; object keys without escapes, in strictly increasing byte
/// order (so no duplicates); strings escaped exactly as serde_json escapes them; numbers
/// written exactly as serde_json writes the number it reads from them; nesting up to 100.
pub fn is_canonical(text: &str) -> bool {
    Checker::new(text, false).run().is_some()
}

/// The byte ranges of a top-level member's key (without its quotes) and of its value.
pub type MemberAt = (Range<usize>, Range<usize>);

/// [`is_canonical`], and where the top-level members of a canonical object are, found in
/// the same pass: `None` when `text` is not recognised as canonical; no members for any
/// other value. Keys of recognised text have no escapes: each key's range is its text.
pub fn canonical_members(text: &str) -> Option<Vec<MemberAt>> {
    Checker::new(text, true).run()
}

struct Checker<'a> {
    b: &'a [u8],
    i: usize,
    scratch: Vec<u8>,
    /// The top-level members, when asked for.
    top: Option<Vec<MemberAt>>,
}

impl<'a> Checker<'a> {
    fn new(text: &'a str, members: bool) -> Self {
        Checker {
            b: text.as_bytes(),
            i: 0,
            scratch: Vec::new(),
            top: members.then(Vec::new),
        }
    }

    fn run(mut self) -> Option<Vec<MemberAt>> {
        (self.value(0) && self.i == self.b.len()).then(|| self.top.unwrap_or_default())
    }

    fn value(&mut self, depth: usize) -> bool {
        match self.b.get(self.i) {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().is_some(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => false,
        }
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        let found = self.b[self.i..].starts_with(word);
        self.i += word.len();
        found
    }

    fn object(&mut self, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        self.i += 1;
        if self.b.get(self.i) == Some(&b'}') {
            self.i += 1;
            return true;
        }
        let mut previous: Option<&[u8]> = None;
        loop {
            let start = self.i + 1;
            // A key with escapes would sort by its unescaped text: not recognised.
            if self.string() != Some(false) {
                return false;
            }
            let key_at = start..self.i - 1;
            let key = &self.b[key_at.clone()];
            if previous.is_some_and(|p| p >= key) {
                return false;
            }
            previous = Some(key);
            if self.b.get(self.i) != Some(&b':') {
                return false;
            }
            self.i += 1;
            let value_start = self.i;
            if !self.value(depth) {
                return false;
            }
            if depth == 1
                && let Some(top) = &mut self.top
            {
                top.push((key_at, value_start..self.i));
            }
            match self.b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return true;
                }
                _ => return false,
            }
        }
    }

    fn array(&mut self, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        self.i += 1;
        if self.b.get(self.i) == Some(&b']') {
            self.i += 1;
            return true;
        }
        loop {
            if !self.value(depth) {
                return false;
            }
            match self.b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return true;
                }
                _ => return false,
            }
        }
    }

    /// A string literal escaped as `write_str` escapes: `Some(whether it has escapes)`.
    fn string(&mut self) -> Option<bool> {
        if self.b.get(self.i) != Some(&b'"') {
            return None;
        }
        let mut i = self.i + 1;
        let mut escaped = false;
        loop {
            i = scan::skip_to_escape(self.b, i);
            match *self.b.get(i)? {
                b'"' => {
                    self.i = i + 1;
                    return Some(escaped);
                }
                0x00..=0x1f => return None,
                b'\\' => {
                    escaped = true;
                    match *self.b.get(i + 1)? {
                        b'"' | b'\\' | b'n' | b'r' | b't' | b'b' | b'f' => i += 2,
                        b'u' => {
                            // Only control characters without a short escape, as `\u00xx`
                            // in lowercase hex.
                            let hex = self.b.get(i + 2..i + 6)?;
                            let high = match hex {
                                [b'0', b'0', b'0', _] => 0,
                                [b'0', b'0', b'1', _] => 16,
                                _ => return None,
                            };
                            let low = match hex[3] {
                                c @ b'0'..=b'9' => c - b'0',
                                c @ b'a'..=b'f' => c - b'a' + 10,
                                _ => return None,
                            };
                            if matches!(high + low, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d) {
                                return None;
                            }
                            i += 6;
                        }
                        _ => return None,
                    }
                }
                _ => i += 1,
            }
        }
    }

    fn number(&mut self) -> bool {
        let start = self.i;
        let len = self.b[start..]
            .iter()
            .position(|c| !matches!(c, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
            .unwrap_or(self.b.len() - start);
        self.i = start + len;
        let Ok(token) = std::str::from_utf8(&self.b[start..self.i]) else {
            return false;
        };
        canonical_number(token, &mut self.scratch)
    }
}

/// Whether `token` is exactly what serde_json writes of the number it reads from it.
fn canonical_number(token: &str, scratch: &mut Vec<u8>) -> bool {
    let negative = token.starts_with('-');
    let digits = &token[usize::from(negative)..];
    if !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) {
        // An integer: serde_json keeps it as a u64 (an i64 when negative) if it fits, and
        // writes it back digit for digit; `-0` becomes `-0.0`, a leading zero is invalid.
        if digits.len() > 1 && digits.starts_with('0') || negative && digits == "0" {
            return false;
        }
        return if negative {
            token.parse::<i64>().is_ok()
        } else {
            token.parse::<u64>().is_ok()
        };
    }
    // A fraction or an exponent: serde_json reads an f64 (correctly rounded, as `str::parse`
    // is, with `float_roundtrip`) and writes it back in its shortest form. A token that is
    // exactly that form is valid JSON and reads back to the same f64.
    let Ok(float) = token.parse::<f64>() else {
        return false;
    };
    scratch.clear();
    serde_json::to_writer(&mut *scratch, &float).is_ok() && scratch == token.as_bytes()
}

/// The members of a canonical object's text, in order: each key (unescaped) and the text
/// of its value. Nothing for a text that is not an object.
pub fn members(text: &str) -> Members<'_> {
    let at = if text.starts_with('{') && text.len() > 2 {
        1
    } else {
        text.len()
    };
    Members { text, at }
}

/// The text of the value of member `key` of a canonical object's text (members are sorted
/// by key, so the search stops at the first key past it).
pub fn member<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    members(text)
        .take_while(|(k, _)| k.as_ref() <= key)
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// See [`members`].
pub struct Members<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Iterator for Members<'a> {
    type Item = (Cow<'a, str>, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.text.as_bytes();
        if self.at >= b.len() {
            return None;
        }
        let (key_end, escaped) = scan::string_end(b, self.at)?;
        let key = scan::key(self.text.get(self.at..key_end)?, escaped)?;
        let start = key_end + 1;
        let end = scan::value_end(b, start)?;
        let value = self.text.get(start..end)?;
        self.at = if b.get(end) == Some(&b',') {
            end + 1
        } else {
            b.len()
        };
        Some((key, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical_json;
    use crate::tests::arb_json;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    /// The promise: a recognised text is the canonical text of what it parses to.
    fn assert_sound(text: &str) -> Result<(), TestCaseError> {
        if is_canonical(text) {
            let parsed: Result<Value, _> = serde_json::from_str(text);
            prop_assert!(parsed.is_ok(), "recognised but does not parse: {text}");
            prop_assert_eq!(canonical_json(&parsed.unwrap()), text);
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn canonical_text_is_recognised_unless_a_key_has_escapes(v in arb_json()) {
            let text = canonical_json(&v);
            assert_sound(&text)?;
            if !text.contains("\\") {
                prop_assert!(is_canonical(&text), "not recognised: {}", text);
            }
        }

        #[test]
        fn other_writings_of_a_document_are_never_taken_for_canonical(v in arb_json()) {
            for text in [
                serde_json::to_string(&v).unwrap(),
                serde_json::to_string_pretty(&v).unwrap(),
                format!(" {}", canonical_json(&v)),
            ] {
                assert_sound(&text)?;
            }
        }

        #[test]
        fn no_text_is_wrongly_recognised(
            text in "[\\[\\]{}:,\"\\\\ unlrtefa0-9.eE+\\-]{0,24}|\\{(\"[a-c]{0,2}\":[0-9.eE+\\-]{1,6},?){0,3}\\}"
        ) {
            assert_sound(&text)?;
        }

        #[test]
        fn numbers_are_judged_like_serde_json(token in "-?(0|[1-9][0-9]{0,20}|0[0-9]{1,3})(\\.[0-9]{1,4})?([eE][+\\-]?[0-9]{1,3})?") {
            let mut scratch = Vec::new();
            let generic = serde_json::from_str::<serde_json::Number>(&token)
                .ok()
                .map(|n| serde_json::to_string(&n).unwrap() == token)
                .unwrap_or(false);
            prop_assert_eq!(canonical_number(&token, &mut scratch), generic, "{}", token);
        }

        #[test]
        fn members_walk_an_object(v in arb_json()) {
            let text = canonical_json(&v);
            let walked: Vec<(String, Value)> = members(&text)
                .map(|(k, t)| (k.into_owned(), serde_json::from_str(t).unwrap()))
                .collect();
            let expected: Vec<(String, Value)> = match &v {
                Value::Object(m) => {
                    let mut e: Vec<_> = m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                    e.sort_by(|a, b| a.0.cmp(&b.0));
                    e
                }
                _ => Vec::new(),
            };
            for (key, value) in &expected {
                let found = member(&text, key).map(|t| serde_json::from_str::<Value>(t).unwrap());
                prop_assert_eq!(found.as_ref(), Some(value));
            }
            prop_assert_eq!(member(&text, "\u{10ffff}"), None);
            if let Some(at) = canonical_members(&text) {
                let indexed: Vec<(&str, &str)> = at.iter().map(|(k, v)| (&text[k.clone()], &text[v.clone()])).collect();
                let scanned: Vec<(String, &str)> = members(&text).map(|(k, v)| (k.into_owned(), v)).collect();
                prop_assert_eq!(indexed.len(), scanned.len());
                for ((ik, iv), (sk, sv)) in indexed.iter().zip(&scanned) {
                    prop_assert_eq!(*ik, sk.as_str());
                    prop_assert_eq!(iv, sv);
                }
            }
            prop_assert_eq!(walked, expected);
        }
    }

    #[test]
    fn examples() {
        for yes in [
            r#"{"a":1,"b":[true,null,"x\n\u0001"],"c":{"d":-2.5e-7}}"#,
            "0",
            "-1",
            "-0.0",
            "1.0",
            "1e+300",
            r#""é中""#,
            "[]",
            "{}",
            "18446744073709551615",
            "-9223372036854775808",
        ] {
            assert!(is_canonical(yes), "{yes}");
            assert_eq!(canonical_json(&serde_json::from_str(yes).unwrap()), yes);
        }
        for no in [
            r#"{"b":1,"a":2}"#,
            r#"{"a":1,"a":2}"#,
            r#"{"a": 1}"#,
            r#"{"a\u0041":1}"#,
            r#""\u0041""#,
            r#""\/""#,
            r#""\u000a""#,
            r#""\u001F""#,
            r#""\ud800""#,
            "\"\u{1}\"",
            "-0",
            "1.50",
            "1E+300",
            "1e300",
            "01",
            "18446744073709551616",
            "-9223372036854775809",
            "1 ",
            "",
            "tru",
            "[1,]",
            "{\"a\":1,}",
            "nul",
        ] {
            assert!(!is_canonical(no), "{no}");
        }
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(!is_canonical(&deep));
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(is_canonical(&ok));
    }

    #[test]
    fn canonical_members_are_found_while_checking() {
        let text = r#"{"a":[1,{"z":2}],"b":"x","c":{"d":null}}"#;
        let at = canonical_members(text).unwrap();
        let found: Vec<(&str, &str)> = at
            .iter()
            .map(|(k, v)| (&text[k.clone()], &text[v.clone()]))
            .collect();
        assert_eq!(
            found,
            [
                ("a", r#"[1,{"z":2}]"#),
                ("b", "\"x\""),
                ("c", r#"{"d":null}"#)
            ]
        );
        assert_eq!(canonical_members("[1]"), Some(vec![]));
        assert_eq!(canonical_members("{}"), Some(vec![]));
        assert_eq!(canonical_members(r#"{"b":1,"a":2}"#), None);
    }

    #[test]
    fn member_finds_values_and_escaped_keys() {
        let text = canonical_json(
            &json!({"a\"b": 1, "docs": {"outcome": "pass", "n": [1, {"x": 2}]}, "z": null}),
        );
        assert_eq!(member(&text, "a\"b"), Some("1"));
        assert_eq!(
            member(&text, "docs").and_then(|d| member(d, "outcome")),
            Some("\"pass\"")
        );
        assert_eq!(member(&text, "z"), Some("null"));
        assert_eq!(member(&text, "missing"), None);
        assert_eq!(member("[1,2]", "a"), None);
        assert_eq!(members("{}").count(), 0);
    }
}

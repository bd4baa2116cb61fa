//! Where the members of an object or the elements of an array start and end, found
//! from brackets, quotes, commas and colons alone: numbers, literals and escapes are not
//! checked (a typed parse of what is read checks them). `None` when that structure is
//! broken (or the text has anything after the value). Insignificant whitespace is
//! skipped, so this walks any JSON text: the plugin SDK's look-ups into the host's text,
//! and [`crate::members`] over canonical text.

use std::borrow::Cow;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any byte of `word` is `byte`.
fn has_byte(word: u64, byte: u8) -> bool {
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & HIGHS != 0
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// The eight bytes at `i`, if there are eight.
fn word(b: &[u8], i: usize) -> Option<u64> {
    b.get(i..)
        .and_then(|rest| rest.first_chunk::<8>())
        .map(|w| u64::from_le_bytes(*w))
}

/// The index after the string literal that starts (with its quote) at `i`, and
/// whether it has escapes.
pub fn string_end(b: &[u8], mut i: usize) -> Option<(usize, bool)> {
    i += 1;
    let mut escaped = false;
    loop {
        if let Some(word) = word(b, i)
            && !has_byte(word, b'"')
            && !has_byte(word, b'\\')
        {
            i += 8;
            continue;
        }
        match *b.get(i)? {
            b'"' => return Some((i + 1, escaped)),
            b'\\' => {
                escaped = true;
                i += 2;
            }
            _ => i += 1,
        }
    }
}

/// Whether any byte of `word` may be a quote or a bracket. `| 0x20` folds `[` and `]`
/// onto `{` and `}` (and only control characters, which JSON text never holds
/// unescaped, onto the quote).
fn may_be_structural(word: u64) -> bool {
    let folded = word | (ONES * 0x20);
    has_byte(folded, b'"') || has_byte(folded, b'{') || has_byte(folded, b'}')
}

/// The index after the value that starts at `i`.
pub fn value_end(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => string_end(b, i).map(|(end, _)| end),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = i;
            loop {
                if let Some(word) = word(b, i)
                    && !may_be_structural(word)
                {
                    i += 8;
                    continue;
                }
                match *b.get(i)? {
                    b'"' => {
                        i = string_end(b, i)?.0;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
            let len = b[i..]
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(b.len() - i);
            Some(i + len)
        }
        _ => None,
    }
}

/// The values of a container's text (`{...}` or `[...]`, nothing around it), each
/// handed to `each` with the index where it starts; `keyed`: an object, each value
/// preceded by a key and a colon (`each` gets the key's literal, quotes included,
/// and whether it has escapes).
pub fn walk<'a>(
    text: &'a str,
    keyed: bool,
    mut each: impl FnMut(Option<(&'a str, bool)>, &'a str) -> Option<()>,
) -> Option<()> {
    let b = text.as_bytes();
    let (open, close) = if keyed { (b'{', b'}') } else { (b'[', b']') };
    if b.first() != Some(&open) {
        return None;
    }
    let mut i = skip_ws(b, 1);
    if b.get(i) == Some(&close) {
        return (i + 1 == b.len()).then_some(());
    }
    loop {
        let key = if keyed {
            if b.get(i) != Some(&b'"') {
                return None;
            }
            let (end, escaped) = string_end(b, i)?;
            let key = text.get(i..end)?;
            i = skip_ws(b, end);
            if b.get(i) != Some(&b':') {
                return None;
            }
            i = skip_ws(b, i + 1);
            Some((key, escaped))
        } else {
            None
        };
        let end = value_end(b, i)?;
        each(key, text.get(i..end)?)?;
        i = skip_ws(b, end);
        match b.get(i)? {
            b',' => i = skip_ws(b, i + 1),
            c if *c == close => return (i + 1 == b.len()).then_some(()),
            _ => return None,
        }
    }
}

/// A key's literal (quotes included) as its text: borrowed unless it has escapes.
pub fn key(literal: &str, escaped: bool) -> Option<Cow<'_, str>> {
    if escaped {
        serde_json::from_str::<String>(literal).ok().map(Cow::Owned)
    } else {
        literal.get(1..literal.len() - 1).map(Cow::Borrowed)
    }
}

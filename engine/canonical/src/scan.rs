//! Where the members of an object or the elements of an array start and end, found
//! from brackets, quotes, commas and colons alone: numbers, literals and escapes are not
//! checked (a typed parse of what is read checks them). `None` when that structure is
//! broken (or the text has anything after the value). Insignificant whitespace is
//! skipped, so this walks any JSON text: the plugin SDK's look-ups into the host's text,
//! and [`crate::members`] over canonical text.

use std::borrow::Cow;

/// Where one 16-byte block holds the characters a scan stops at: bit `k` of a mask is
/// set when byte `k` is that character. Brackets are folded (`[` with `{`, `]` with
/// `}`): the scan does not check that they match, only that they nest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Block {
    quote: u32,
    escape: u32,
    open: u32,
    close: u32,
}

pub(crate) const BLOCK: usize = 16;

/// The block as one SIMD vector (compiled to a single `v128.load`).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn vector(b: &[u8; BLOCK]) -> core::arch::wasm32::v128 {
    core::arch::wasm32::u8x16(
        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
        b[14], b[15],
    )
}

/// [`Block`] with WebAssembly's `simd128` (plugins are built with it): a few
/// instructions per 16 bytes and no branch, where a byte-at-a-time loop takes a branch
/// per byte that the CPU mispredicts at every quote. JSON has a quote every few bytes,
/// so skipping runs of plain bytes gains little; classifying 16 at once is what pays.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn block(b: &[u8; BLOCK]) -> Block {
    use core::arch::wasm32::{u8x16_bitmask, u8x16_eq, u8x16_splat, v128_or};
    let v = vector(b);
    let folded = v128_or(v, u8x16_splat(0x20));
    let mask = |v, c| u32::from(u8x16_bitmask(u8x16_eq(v, u8x16_splat(c))));
    Block {
        quote: mask(v, b'"'),
        escape: mask(v, b'\\'),
        open: mask(folded, b'{'),
        close: mask(folded, b'}'),
    }
}

/// [`Block`] without SIMD: each 8-byte word compared with every character at once
/// (a byte of `word ^ splat(c)` is zero where the word holds `c`), branch-free.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn block(b: &[u8; BLOCK]) -> Block {
    let (lo, hi) = words(b);
    let eq = |w: u64, c: u8| gather(zero_bytes(w ^ (ONES * u64::from(c))));
    let mask = |c: u8, fold: u64| eq(lo | fold, c) | eq(hi | fold, c) << 8;
    let fold = ONES * 0x20;
    Block {
        quote: mask(b'"', 0),
        escape: mask(b'\\', 0),
        open: mask(b'{', fold),
        close: mask(b'}', fold),
    }
}

/// Bit `k` set where byte `k` of the block must be escaped in a JSON string: `"`, `\\`
/// and control characters.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(crate) fn escapes(b: &[u8; BLOCK]) -> u32 {
    use core::arch::wasm32::{u8x16_bitmask, u8x16_eq, u8x16_lt, u8x16_splat, v128_or};
    let v = vector(b);
    let stops = v128_or(
        v128_or(
            u8x16_eq(v, u8x16_splat(b'"')),
            u8x16_eq(v, u8x16_splat(b'\\')),
        ),
        u8x16_lt(v, u8x16_splat(0x20)),
    );
    u32::from(u8x16_bitmask(stops))
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
pub(crate) fn escapes(b: &[u8; BLOCK]) -> u32 {
    let (lo, hi) = words(b);
    let mask = |w: u64| {
        // Control characters are the bytes whose top three bits are clear.
        let stops = zero_bytes(w ^ (ONES * u64::from(b'"')))
            | zero_bytes(w ^ (ONES * u64::from(b'\\')))
            | zero_bytes(w & (ONES * 0xe0));
        gather(stops)
    };
    mask(lo) | mask(hi) << 8
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
const ONES: u64 = 0x0101_0101_0101_0101;

/// The block as two little-endian words.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn words(b: &[u8; BLOCK]) -> (u64, u64) {
    let (lo, hi) = b.split_at(8);
    let word = |half: &[u8]| u64::from_le_bytes(half.try_into().expect("half a block is 8 bytes"));
    (word(lo), word(hi))
}

/// The high bit of each byte of `x` that is zero, and only of those.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn zero_bytes(x: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    !(((x & LOW7) + LOW7) | x | LOW7)
}

/// The eight high bits of `x` as the low eight bits of the result.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn gather(x: u64) -> u32 {
    ((x >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32
}

/// [`Block`] a byte at a time: the reference the other forms are tested against.
#[cfg(test)]
fn block_bytewise(b: &[u8; BLOCK]) -> Block {
    let mut m = Block {
        quote: 0,
        escape: 0,
        open: 0,
        close: 0,
    };
    for (k, c) in b.iter().enumerate() {
        let bit = 1 << k;
        match c | 0x20 {
            _ if *c == b'"' => m.quote |= bit,
            _ if *c == b'\\' => m.escape |= bit,
            b'{' => m.open |= bit,
            b'}' => m.close |= bit,
            _ => {}
        }
    }
    m
}

/// The 16 bytes at `i`, if there are 16.
fn block_at(b: &[u8], i: usize) -> Option<Block> {
    b.get(i..)?.first_chunk::<BLOCK>().map(block)
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// The first index from `i` whose byte `stops` marks in its block, or where fewer than
/// 16 bytes are left (the caller goes on a byte at a time from there).
fn skip_until(b: &[u8], mut i: usize, stops: impl Fn(&[u8; BLOCK]) -> u32) -> usize {
    while let Some(block) = b.get(i..).and_then(|rest| rest.first_chunk::<BLOCK>()) {
        let marked = stops(block);
        if marked != 0 {
            return i + marked.trailing_zeros() as usize;
        }
        i += BLOCK;
    }
    i
}

/// [`skip_until`] a byte that a JSON string must escape (`"`, `\\`, control characters).
pub(crate) fn skip_to_escape(b: &[u8], i: usize) -> usize {
    skip_until(b, i, escapes)
}

/// The index after the string literal that starts (with its quote) at `i`, and
/// whether it has escapes.
pub fn string_end(b: &[u8], mut i: usize) -> Option<(usize, bool)> {
    i += 1;
    let mut escaped = false;
    loop {
        i = skip_until(b, i, |bytes| {
            let m = block(bytes);
            m.quote | m.escape
        });
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

/// Where a container scan is: how deep, and whether inside a string literal (and then
/// whether the next byte is escaped).
#[derive(Default)]
struct Nesting {
    depth: usize,
    in_string: bool,
    escaped_next: bool,
}

impl Nesting {
    /// Takes the structural byte `c`; `true` when it closes the outermost container.
    fn take(&mut self, c: u8) -> bool {
        if self.escaped_next {
            self.escaped_next = false;
        } else if self.in_string {
            match c {
                b'"' => self.in_string = false,
                b'\\' => self.escaped_next = true,
                _ => {}
            }
        } else {
            match c | 0x20 {
                _ if c == b'"' => self.in_string = true,
                b'{' => self.depth += 1,
                b'}' => {
                    self.depth -= 1;
                    return self.depth == 0;
                }
                _ => {}
            }
        }
        false
    }
}

/// The index after the container (`{...}` or `[...]`) that starts at `i`: 16 bytes at
/// a time, visiting only the quotes, backslashes and brackets among them.
fn container_end(b: &[u8], mut i: usize) -> Option<usize> {
    let mut at = Nesting::default();
    while let Some(m) = block_at(b, i) {
        let mut stops = m.quote | m.escape | m.open | m.close;
        if at.escaped_next {
            // The block's first byte is escaped, whatever it is.
            stops |= 1;
        }
        while stops != 0 {
            let k = stops.trailing_zeros() as usize;
            stops &= stops - 1;
            if at.take(b[i + k]) {
                return Some(i + k + 1);
            }
            if at.escaped_next && k + 1 < BLOCK {
                // The escaped byte is in this block: skip it here.
                at.escaped_next = false;
                stops &= !(1 << (k + 1));
            }
        }
        i += BLOCK;
    }
    while let Some(&c) = b.get(i) {
        let stop = at.escaped_next || matches!(c, b'"' | b'\\' | b'{' | b'}' | b'[' | b']');
        if stop && at.take(c) {
            return Some(i + 1);
        }
        i += 1;
    }
    None
}

/// The index after the value that starts at `i`.
pub fn value_end(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => string_end(b, i).map(|(end, _)| end),
        b'{' | b'[' => container_end(b, i),
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Bytes a scan must tell apart: the structural ones, those one bit away from them
    /// (what folding or a sloppy compare would confuse), and plain text.
    const ALPHABET: &[u8] = b"\"\\{}[]\x02\x7c\x3c\x5b\x7b\x5d\x7d\xa2\xdc\xfb ,:a0n\n";

    fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop::sample::select(ALPHABET), 0..max)
    }

    /// The scan of a container a byte at a time, as it was before blocks.
    fn container_end_bytewise(b: &[u8], i: usize) -> Option<usize> {
        let mut depth = 0usize;
        let mut i = i;
        loop {
            match *b.get(i)? {
                b'"' => {
                    i += 1;
                    loop {
                        match *b.get(i)? {
                            b'"' => break,
                            b'\\' => i += 2,
                            _ => i += 1,
                        }
                    }
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

    proptest! {
        #[test]
        fn the_simd_block_classifies_like_the_bytewise_one(b in prop::array::uniform16(prop::sample::select(ALPHABET))) {
            prop_assert_eq!(block(&b), block_bytewise(&b));
        }

        #[test]
        fn escapes_are_found_like_a_byte_at_a_time(b in prop::array::uniform16(any::<u8>())) {
            let expected = b
                .iter()
                .enumerate()
                .filter(|(_, c)| matches!(c, b'"' | b'\\' | 0x00..=0x1f))
                .fold(0, |m, (k, _)| m | 1 << k);
            prop_assert_eq!(escapes(&b), expected);
        }

        #[test]
        fn container_ends_agree_with_the_bytewise_scan(body in bytes(80), lead in 0usize..20) {
            // Escapes and quotes land at every offset from a block's edge.
            let mut b = vec![b' '; lead];
            b.push(b'{');
            b.extend(&body);
            prop_assert_eq!(container_end(&b, lead), container_end_bytewise(&b, lead));
        }

        #[test]
        fn string_ends_agree_with_the_bytewise_scan(body in bytes(60)) {
            let mut b = vec![b'"'];
            b.extend(&body);
            let mut i = 1;
            let mut escaped = false;
            let expected = loop {
                match b.get(i) {
                    None => break None,
                    Some(b'"') => break Some((i + 1, escaped)),
                    Some(b'\\') => { escaped = true; i += 2 }
                    Some(_) => i += 1,
                }
            };
            prop_assert_eq!(string_end(&b, 0), expected);
        }
    }

    #[test]
    fn an_escape_on_a_block_edge_carries_into_the_next_block() {
        for pad in 0..40 {
            let text = format!("{{\"k\":\"{}\\\"}}\",\"l\":[1]}}", "x".repeat(pad));
            let b = text.as_bytes();
            assert_eq!(container_end(b, 0), Some(b.len()), "{text}");
            assert_eq!(container_end(b, 0), container_end_bytewise(b, 0));
        }
    }
}

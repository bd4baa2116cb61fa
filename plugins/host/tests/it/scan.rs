//! The structural JSON scan and the canonical string escaping as plugins run them:
//! compiled to WebAssembly with SIMD (a different classifier from the one native tests
//! exercise), checked against serde_json.

use super::*;

/// A pseudo-random JSON value: nested objects and arrays; strings with escapes, quotes,
/// brackets, backslashes and non-ASCII text, short and longer than a 16-byte block.
fn random_value(seed: &mut u64, depth: u32) -> Value {
    fn next(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }
    const TEXTS: [&str; 10] = [
        "",
        "k\"q",
        "back\\slash\\",
        "tab\tnew\nline",
        "ünï ✓ {[ \"quoted\" ]}",
        "}]{[,:",
        "\u{1}\\\"",
        "a long plain run of text that spans several blocks",
        "\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\"",
        "x",
    ];
    let text = |seed: &mut u64| {
        let n = next(seed) as usize;
        // A prefix of 0–15 bytes moves escapes and quotes across block edges.
        format!(
            "{}{}",
            &"0123456789abcdef"[..n % 16],
            TEXTS[(n >> 8) % TEXTS.len()]
        )
    };
    match next(seed) % if depth == 0 { 5 } else { 7 } {
        0 => Value::Null,
        1 => Value::Bool(next(seed).is_multiple_of(2)),
        2 => json!((next(seed) % 2000) as i64 - 1000),
        3 => json!(f64::from_bits(next(seed) >> 2)),
        4 => json!(text(seed)),
        5 => Value::Array(
            (0..next(seed) % 6)
                .map(|_| random_value(seed, depth - 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..next(seed) % 6)
                .map(|i| (format!("{}{i}", text(seed)), random_value(seed, depth - 1)))
                .collect(),
        ),
    }
}

/// Whether no key anywhere in `v` needs an escape.
fn plain_keys(v: &Value) -> bool {
    match v {
        Value::Object(map) => map.iter().all(|(k, v)| {
            !k.bytes().any(|c| matches!(c, b'"' | b'\\' | 0x00..=0x1f)) && plain_keys(v)
        }),
        Value::Array(items) => items.iter().all(plain_keys),
        _ => true,
    }
}

#[test]
fn the_scan_compiled_into_plugins_finds_what_serde_json_finds() {
    let mut seed = 0x9e37_79b9_7f4a_7c15;
    let (mut checked, mut kept) = (0, 0);
    while checked < 300 {
        let value = random_value(&mut seed, 4);
        if !(value.is_object() || value.is_array()) {
            continue;
        }
        for text in [
            serde_json::to_string(&value).unwrap(),
            serde_json::to_string_pretty(&value).unwrap(),
        ] {
            let call = misbehave().call(
                &StepInput::new(
                    "case-1",
                    "node-a",
                    &json!({ "mode": "scan" }),
                    &json!({ "text": text }),
                    "2024-03-31",
                ),
                &answer_limits(),
            );
            let result = call
                .report
                .output
                .unwrap_or_else(|e| panic!("{e}\nfor {text}"))
                .result;
            // The guest wrote it canonically (its escapes included): taken as it came,
            // not parsed (looking into it below parses it). Text with a key that needs
            // escaping is always parsed (keys sort by their unescaped text).
            assert!(
                !plain_keys(&value) || matches!(result.json(), model::doc::JsonRef::Kept(_)),
                "not canonical: {text}"
            );
            kept += usize::from(plain_keys(&value));
            assert_eq!(result["rebuilt"], value, "for {text}");
        }
        checked += 1;
    }
    assert!(kept > 100, "only {kept} documents without escaped keys");
}

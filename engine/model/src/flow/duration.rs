//! Durations as designers write them: `500ms`, `2s`, `4h`, `1d`, `1h30m`.

use std::time::Duration;

/// Parses a duration: one or more `<whole number><unit>` parts, units `d`, `h`, `m`, `s`,
/// `ms`, each at most once and from largest to smallest. Zero is refused: a zero wait,
/// SLA or timeout is always a slip.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    const UNITS: [(&str, u64); 5] = [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let text = s.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    let mut rest = text;
    let mut total: u64 = 0;
    let mut last_unit: Option<usize> = None;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("`{text}`: expected a whole number at `{rest}`"));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{text}`: number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.chars().take_while(char::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        if unit.is_empty() {
            return Err(format!(
                "`{text}`: missing unit after {number} (use ms, s, m, h or d)"
            ));
        }
        let Some(index) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(format!(
                "`{text}`: unknown unit `{unit}` (use ms, s, m, h or d)"
            ));
        };
        if last_unit.is_some_and(|l| l >= index) {
            return Err(format!(
                "`{text}`: units must go from largest to smallest, each once (e.g. `1h30m`)"
            ));
        }
        last_unit = Some(index);
        total = number
            .checked_mul(UNITS[index].1)
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(|| format!("`{text}`: duration too large"))?;
        rest = &rest[unit_len..];
    }
    if total == 0 {
        return Err(format!("`{text}`: a duration must be more than zero"));
    }
    Ok(Duration::from_millis(total))
}

/// The shortest designer spelling of a duration (`5400s` → `1h30m`).
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis() as u64;
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_designer_durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("4h"), Ok(Duration::from_secs(4 * 3600)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1s500ms");
    }

    #[test]
    fn refuses_slips() {
        for bad in [
            "",
            "10",
            "5 minutes",
            "1.5h",
            "30m1h",
            "1h1h",
            "0s",
            "2w",
            "h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad} accepted");
        }
    }
}

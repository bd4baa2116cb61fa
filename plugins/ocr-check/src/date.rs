//! Calendar dates as printed on documents: parsing, ordering and day arithmetic.
//!
//! A plugin gets no clock, so every "today" is the case's business date; this module
//! is the little proleptic-Gregorian arithmetic the checks need, without a date crate.

use std::fmt;

/// A valid Gregorian calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: i32,
    month: u8,
    day: u8,
}

/// What an expiry field says: a last valid day, or no expiry at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    On(Date),
    /// `长期` / "long-term": the document does not expire (e.g. ID cards of people over 46).
    Never,
}

/// Words documents print instead of an end date when they do not expire.
const NO_EXPIRY_WORDS: [&str; 6] = [
    "长期",
    "长期有效",
    "永久",
    "long-term",
    "longterm",
    "permanent",
];

impl Date {
    /// A date if `year-month-day` exists in the Gregorian calendar (years 1..=9999).
    pub fn new(year: i32, month: u32, day: u32) -> Option<Self> {
        if !(1..=9999).contains(&year) || !(1..=12).contains(&month) {
            return None;
        }
        let month = month as u8;
        if day == 0 || day > u32::from(days_in_month(year, month)) {
            return None;
        }
        Some(Self {
            year,
            month,
            day: day as u8,
        })
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> u32 {
        u32::from(self.month)
    }

    pub fn day(self) -> u32 {
        u32::from(self.day)
    }

    /// Strict `YYYY-MM-DD`, the format of a business date.
    pub fn parse_iso(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        Self::new(
            number(&s[0..4])? as i32,
            number(&s[5..7])?,
            number(&s[8..10])?,
        )
    }

    /// `YYYYMMDD`, as embedded in an ID number.
    pub fn parse_compact(s: &str) -> Option<Self> {
        if s.len() != 8 {
            return None;
        }
        Self::new(
            number(&s[0..4])? as i32,
            number(&s[4..6])?,
            number(&s[6..8])?,
        )
    }

    /// A date as OCR reads it off a document: `2035-03-07`, `2035.03.07`, `2035/3/7`,
    /// `20350307` or `2035年3月7日`. Surrounding whitespace is ignored.
    pub fn parse_document(s: &str) -> Option<Self> {
        let s = s.trim();
        if let Some(d) = Self::parse_compact(s) {
            return Some(d);
        }
        let s = s.strip_suffix('日').unwrap_or(s);
        let parts: Vec<&str> = s.split(['-', '.', '/', '年', '月']).collect();
        if parts.len() != 3 || parts[0].len() != 4 || parts[1].len() > 2 || parts[2].len() > 2 {
            return None;
        }
        Self::new(
            number(parts[0])? as i32,
            number(parts[1])?,
            number(parts[2])?,
        )
    }

    /// Days since 1970-01-01 (negative before). Howard Hinnant's `days_from_civil`.
    pub fn day_number(self) -> i64 {
        let (m, d) = (i64::from(self.month), i64::from(self.day));
        let y = i64::from(self.year) - i64::from(m <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// `other - self` in days.
    pub fn days_until(self, other: Date) -> i64 {
        other.day_number() - self.day_number()
    }

    /// Completed years from `self` (a birth date) to `on`; a 29 February birthday
    /// counts as reached on 1 March in common years.
    pub fn age_on(self, on: Date) -> i32 {
        let had_birthday = (on.month, on.day) >= (self.month, self.day);
        on.year - self.year - i32::from(!had_birthday)
    }
}

impl Expiry {
    /// An expiry field: a date, a no-expiry word, or a validity period
    /// `start-end` / `start至end` whose end is either (ID cards print `2015.03.07-2035.03.07`).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if let Some(e) = Self::parse_end(s) {
            return Some(e);
        }
        for sep in ["至", "~", "～", "—", "–"] {
            if let Some((start, end)) = s.split_once(sep) {
                return Self::parse_range(start, end);
            }
        }
        // '-' also separates the parts of an ISO date: try every split point.
        s.match_indices('-')
            .find_map(|(i, _)| Self::parse_range(&s[..i], &s[i + 1..]))
    }

    fn parse_range(start: &str, end: &str) -> Option<Self> {
        let start = Date::parse_document(start)?;
        match Self::parse_end(end)? {
            Expiry::On(end) if end < start => None,
            e => Some(e),
        }
    }

    fn parse_end(s: &str) -> Option<Self> {
        let s = s.trim();
        if NO_EXPIRY_WORDS.iter().any(|w| s.eq_ignore_ascii_case(w)) {
            return Some(Expiry::Never);
        }
        Date::parse_document(s).map(Expiry::On)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// ASCII digits only (no sign, no spaces), at most 4 of them.
fn number(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse_iso(s).unwrap()
    }

    #[test]
    fn calendar_validity() {
        assert!(Date::new(2024, 2, 29).is_some());
        assert!(Date::new(2023, 2, 29).is_none());
        assert!(Date::new(1900, 2, 29).is_none(), "1900 is not a leap year");
        assert!(Date::new(2000, 2, 29).is_some(), "2000 is a leap year");
        assert!(Date::new(2024, 4, 31).is_none());
        assert!(Date::new(2024, 13, 1).is_none());
        assert!(Date::new(2024, 0, 1).is_none());
        assert!(Date::new(2024, 1, 0).is_none());
        assert!(Date::new(0, 1, 1).is_none());
    }

    #[test]
    fn iso_is_strict() {
        assert_eq!(d("2025-03-07").to_string(), "2025-03-07");
        for bad in [
            "2025-3-7",
            "2025/03/07",
            "20250307",
            "2025-03-07 ",
            "+025-03-07",
            "2025-02-30",
        ] {
            assert_eq!(Date::parse_iso(bad), None, "{bad}");
        }
    }

    #[test]
    fn document_formats() {
        let want = d("2035-03-07");
        for s in [
            "2035-03-07",
            "2035.03.07",
            "2035/3/7",
            "20350307",
            "2035年3月7日",
            " 2035.03.07 ",
        ] {
            assert_eq!(Date::parse_document(s), Some(want), "{s}");
        }
        for bad in [
            "35.03.07",
            "2035.03",
            "2035.003.07",
            "2035-02-30",
            "March 7 2035",
            "",
        ] {
            assert_eq!(Date::parse_document(bad), None, "{bad}");
        }
    }

    #[test]
    fn day_numbers_and_differences() {
        assert_eq!(d("1970-01-01").day_number(), 0);
        assert_eq!(d("2000-03-01").day_number(), 11_017);
        assert_eq!(d("1969-12-31").day_number(), -1);
        assert_eq!(d("2024-02-28").days_until(d("2024-03-01")), 2);
        assert_eq!(d("2023-02-28").days_until(d("2023-03-01")), 1);
        assert_eq!(d("2025-01-01").days_until(d("2024-01-01")), -366);
    }

    #[test]
    fn ages() {
        let birth = d("1990-03-07");
        assert_eq!(birth.age_on(d("2025-03-06")), 34);
        assert_eq!(birth.age_on(d("2025-03-07")), 35);
        let leapling = d("2004-02-29");
        assert_eq!(leapling.age_on(d("2022-02-28")), 17);
        assert_eq!(leapling.age_on(d("2022-03-01")), 18);
    }

    #[test]
    fn expiry_forms() {
        let end = Expiry::On(d("2035-03-07"));
        assert_eq!(Expiry::parse("2035-03-07"), Some(end));
        assert_eq!(Expiry::parse("2015.03.07-2035.03.07"), Some(end));
        assert_eq!(Expiry::parse("2015-03-07-2035-03-07"), Some(end));
        assert_eq!(Expiry::parse("2015-03-07至2035-03-07"), Some(end));
        assert_eq!(Expiry::parse("长期"), Some(Expiry::Never));
        assert_eq!(Expiry::parse("2015.03.07-长期"), Some(Expiry::Never));
        assert_eq!(Expiry::parse("Long-Term"), Some(Expiry::Never));
        // An end before the start is not a validity period.
        assert_eq!(Expiry::parse("2035.03.07-2015.03.07"), None);
        assert_eq!(Expiry::parse("2015.03.07-"), None);
        assert_eq!(Expiry::parse("soon"), None);
    }
}

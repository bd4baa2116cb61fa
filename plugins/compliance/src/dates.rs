//! Calendar dates without a clock: parsing `YYYY-MM-DD`, day arithmetic, ages, maturity.

use std::fmt;

/// A proleptic Gregorian calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

pub(crate) fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub(crate) fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        _ => 28,
    }
}

impl Date {
    /// A date from its parts, or `None` when the day does not exist.
    pub fn new(year: i32, month: u32, day: u32) -> Option<Self> {
        let valid = (1..=9999).contains(&year)
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month);
        valid.then_some(Self { year, month, day })
    }

    /// Parses exactly `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = &s[r];
            part.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| part.parse().ok())?
        };
        Self::new(num(0..4)? as i32, num(5..7)?, num(8..10)?)
    }

    /// Parses `YYYY-MM-DD`, or an RFC 3339 timestamp whose date part is taken as is
    /// (credit-report query records often carry a time of day).
    pub fn parse_date_or_timestamp(s: &str) -> Option<Self> {
        match s.as_bytes().get(10) {
            None => Self::parse(s),
            Some(b'T' | b't' | b' ') => Self::parse(&s[..10]),
            Some(_) => None,
        }
    }

    /// Days since 1970-01-01 (negative before). Howard Hinnant's `days_from_civil`.
    pub fn day_number(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `n` days since 1970-01-01. Howard Hinnant's `civil_from_days`.
    pub fn from_day_number(n: i64) -> Option<Self> {
        let z = n + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Self::new(i32::try_from(year).ok()?, month, day)
    }

    /// The date `days` earlier, if it is still a supported date.
    pub fn minus_days(self, days: i64) -> Option<Self> {
        Self::from_day_number(self.day_number() - days)
    }

    /// The same day `months` later; the day is clamped to the end of a shorter month
    /// (2024-01-31 + 1 month = 2024-02-29), as loan maturity dates are.
    pub fn add_months(self, months: u32) -> Option<Self> {
        let index = i64::from(self.year) * 12 + i64::from(self.month) - 1 + i64::from(months);
        let year = i32::try_from(index.div_euclid(12)).ok()?;
        let month = index.rem_euclid(12) as u32 + 1;
        if year > 9999 {
            return None;
        }
        Self::new(year, month, self.day.min(days_in_month(year, month)))
    }

    /// Age in whole years on `on` of someone born on `self`. A 29 February birthday
    /// counts as reached on 1 March in common years.
    pub fn age_on(self, on: Date) -> i64 {
        let years = i64::from(on.year) - i64::from(self.year);
        if (on.month, on.day) < (self.month, self.day) {
            years - 1
        } else {
            years
        }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn parses_only_real_dates() {
        assert_eq!(
            d("2024-02-29"),
            Date {
                year: 2024,
                month: 2,
                day: 29
            }
        );
        for bad in [
            "2023-02-29",
            "1900-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-04-31",
            "2024-4-01",
            "20240401",
            "2024-04-01T",
            "２０２４-04-01",
            "+024-04-01",
            "0000-01-01",
        ] {
            assert_eq!(Date::parse(bad), None, "{bad}");
        }
        assert_eq!(
            Date::parse("2000-02-29"),
            Some(Date {
                year: 2000,
                month: 2,
                day: 29
            })
        );
    }

    #[test]
    fn timestamps_keep_their_date() {
        assert_eq!(
            Date::parse_date_or_timestamp("2024-05-01T23:59:59+08:00"),
            Some(d("2024-05-01"))
        );
        assert_eq!(
            Date::parse_date_or_timestamp("2024-05-01 08:00"),
            Some(d("2024-05-01"))
        );
        assert_eq!(Date::parse_date_or_timestamp("2024-05-01X"), None);
    }

    #[test]
    fn day_numbers_match_the_unix_epoch() {
        assert_eq!(d("1970-01-01").day_number(), 0);
        assert_eq!(
            d("2000-03-01").day_number() - d("2000-02-28").day_number(),
            2
        );
        assert_eq!(d("2024-01-01").day_number(), 19_723);
        assert_eq!(d("1969-12-31").day_number(), -1);
    }

    #[test]
    fn day_numbers_round_trip() {
        for s in [
            "1970-01-01",
            "2000-02-29",
            "2024-12-31",
            "1900-03-01",
            "0001-01-01",
            "9999-12-31",
        ] {
            assert_eq!(Date::from_day_number(d(s).day_number()), Some(d(s)), "{s}");
        }
        assert_eq!(d("2024-03-01").minus_days(1), Some(d("2024-02-29")));
        assert_eq!(d("2024-05-01").minus_days(89), Some(d("2024-02-02")));
        assert_eq!(d("0001-01-01").minus_days(1), None);
    }

    #[test]
    fn months_clamp_to_month_end() {
        assert_eq!(d("2024-01-31").add_months(1), Some(d("2024-02-29")));
        assert_eq!(d("2023-01-31").add_months(1), Some(d("2023-02-28")));
        assert_eq!(d("2024-11-15").add_months(14), Some(d("2026-01-15")));
        assert_eq!(d("2024-05-20").add_months(0), Some(d("2024-05-20")));
        assert_eq!(d("9999-06-01").add_months(12), None);
    }

    #[test]
    fn ages_turn_on_the_birthday() {
        let born = d("1990-06-15");
        assert_eq!(born.age_on(d("2008-06-14")), 17);
        assert_eq!(born.age_on(d("2008-06-15")), 18);
        let leapling = d("2004-02-29");
        assert_eq!(leapling.age_on(d("2022-02-28")), 17);
        assert_eq!(leapling.age_on(d("2022-03-01")), 18);
        assert_eq!(leapling.age_on(d("2024-02-29")), 20);
    }
}

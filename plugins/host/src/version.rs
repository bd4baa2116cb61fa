//! Plugin versions: `MAJOR.MINOR.PATCH[-pre][+build]`, ordered by semantic-version
//! precedence so the registry can pick the newest build of a major.

use std::cmp::Ordering;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    /// Pre-release identifiers (after `-`), empty for a release.
    pub pre: String,
}

impl Version {
    pub fn parse(s: &str) -> Result<Self, String> {
        let without_build = s.split_once('+').map_or(s, |(v, _)| v);
        let (core, pre) = match without_build.split_once('-') {
            Some((core, pre)) if !pre.is_empty() => (core, pre.to_string()),
            Some(_) => return Err(format!("version `{s}` has an empty pre-release part")),
            None => (without_build, String::new()),
        };
        let parts: Vec<&str> = core.split('.').collect();
        let [major, minor, patch] = parts.as_slice() else {
            return Err(format!(
                "version `{s}` must be MAJOR.MINOR.PATCH, e.g. `1.2.0`"
            ));
        };
        let number = |part: &str| {
            let leading_zero = part.len() > 1 && part.starts_with('0');
            match part.parse::<u64>() {
                Ok(n) if !leading_zero => Ok(n),
                _ => Err(format!("version `{s}`: `{part}` is not a version number")),
            }
        };
        Ok(Self {
            major: number(major)?,
            minor: number(minor)?,
            patch: number(patch)?,
            pre,
        })
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                // A release outranks its pre-releases.
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_pre(&self.pre, &other.pre),
            })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Semver rule: dot-separated identifiers, numeric ones compared as numbers and
/// ranked below alphanumeric ones; a longer list wins when all else is equal.
fn compare_pre(a: &str, b: &str) -> Ordering {
    let mut a_ids = a.split('.');
    let mut b_ids = b.split('.');
    loop {
        match (a_ids.next(), b_ids.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let order = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(x), Ok(y)) => x.cmp(&y),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => x.cmp(y),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn parses_and_orders_by_precedence() {
        let mut versions: Vec<Version> = [
            "1.10.0",
            "1.2.0",
            "1.2.0-rc.1",
            "1.2.0-alpha",
            "1.2.0-rc.10",
            "0.9.9",
            "1.2.1",
        ]
        .into_iter()
        .map(v)
        .collect();
        versions.sort();
        let sorted: Vec<String> = versions.iter().map(Version::to_string).collect();
        assert_eq!(
            sorted,
            [
                "0.9.9",
                "1.2.0-alpha",
                "1.2.0-rc.1",
                "1.2.0-rc.10",
                "1.2.0",
                "1.2.1",
                "1.10.0"
            ]
        );
    }

    #[test]
    fn build_metadata_is_ignored() {
        assert_eq!(v("2.0.1+abc"), v("2.0.1"));
    }

    #[test]
    fn rejects_what_is_not_semver() {
        for bad in [
            "1", "1.2", "1.2.3.4", "v1.2.3", "1.02.3", "1.2.3-", "a.b.c", "",
        ] {
            assert!(Version::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}

//! Check-character algorithms of PRC identity numbers (GB 11643), unified social credit
//! codes (GB 32100) and bank card numbers (Luhn), plus the normalisation OCR text needs
//! before it is compared.

use crate::date::Date;
use std::fmt;

/// GB 11643 weights of the first 17 characters (2^(17-i) mod 11).
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// ISO 7064 MOD 11-2: the check character for each remainder 0..=10.
const ID_CHECK_CHARS: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
/// Two-digit province codes in use (GB/T 2260), including Taiwan, Hong Kong and Macao.
const PROVINCE_CODES: [u8; 34] = [
    11, 12, 13, 14, 15, // Beijing, Tianjin, Hebei, Shanxi, Inner Mongolia
    21, 22, 23, // Liaoning, Jilin, Heilongjiang
    31, 32, 33, 34, 35, 36, 37, // Shanghai … Shandong
    41, 42, 43, 44, 45, 46, // Henan … Hainan
    50, 51, 52, 53, 54, // Chongqing … Tibet
    61, 62, 63, 64, 65, // Shaanxi … Xinjiang
    71, 81, 82, // Taiwan, Hong Kong, Macao
];
/// Birth years before this are treated as misreads, not as people applying for credit.
const EARLIEST_BIRTH_YEAR: i32 = 1900;

/// GB 32100 alphabet: digits and capitals without I, O, Z, S, V; a symbol's value is its index.
const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// GB 32100 weights of the first 17 characters (3^i mod 31).
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Shortest and longest primary account numbers (ISO/IEC 7812).
const CARD_LENGTHS: std::ops::RangeInclusive<usize> = 12..=19;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
        }
    }
}

/// What a valid resident identity number says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdFacts {
    /// The six-digit administrative region code of the place of registration.
    pub region_code: String,
    pub birth_date: Date,
    /// From the parity of the 17th digit (odd: male).
    pub sex: Sex,
}

/// Why an identity number is not valid, most basic problem first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdProblem {
    /// Not 17 digits followed by a digit or `X`.
    Format(String),
    /// The first two digits are not a province code.
    Region(String),
    /// Digits 7–14 are not a plausible birth date.
    BirthDate(String),
    Checksum {
        expected: char,
        found: char,
    },
}

impl fmt::Display for IdProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdProblem::Format(why) | IdProblem::Region(why) | IdProblem::BirthDate(why) => {
                f.write_str(why)
            }
            IdProblem::Checksum { expected, found } => write!(
                f,
                "check character is `{found}` but the first 17 digits require `{expected}` (ISO 7064 MOD 11-2)"
            ),
        }
    }
}

/// The GB 11643 check character of 17 ASCII digits.
pub fn id_check_char(first17: &[u8; 17]) -> char {
    let sum: u32 = first17
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    ID_CHECK_CHARS[(sum % 11) as usize]
}

/// Checks an 18-character resident identity number (already normalised: see
/// [`normalise_code`]) against GB 11643 and the business date `today`.
pub fn check_id_number(id: &str, today: Date) -> Result<IdFacts, IdProblem> {
    let b = id.as_bytes();
    if b.len() == 15 && b.iter().all(u8::is_ascii_digit) {
        return Err(IdProblem::Format(
            "is a 15-digit first-generation number; an 18-character second-generation number is required"
                .into(),
        ));
    }
    if b.len() != 18 {
        return Err(IdProblem::Format(format!(
            "has {} characters; a resident identity number has 18",
            id.chars().count()
        )));
    }
    let first17: &[u8; 17] = b[..17].try_into().expect("18 bytes");
    if !first17.iter().all(u8::is_ascii_digit) || !(b[17].is_ascii_digit() || b[17] == b'X') {
        return Err(IdProblem::Format(
            "must be 17 digits followed by a digit or `X`".into(),
        ));
    }
    let province: u8 = id[..2].parse().expect("digits");
    if !PROVINCE_CODES.contains(&province) {
        return Err(IdProblem::Region(format!(
            "region code {} starts with {province:02}, which is not a province code",
            &id[..6]
        )));
    }
    let birth = &id[6..14];
    let birth_date = Date::parse_compact(birth).ok_or_else(|| {
        IdProblem::BirthDate(format!("birth date digits {birth} are not a calendar date"))
    })?;
    if birth_date > today {
        return Err(IdProblem::BirthDate(format!(
            "birth date {birth_date} is after the business date {today}"
        )));
    }
    if birth_date.year() < EARLIEST_BIRTH_YEAR {
        return Err(IdProblem::BirthDate(format!(
            "birth date {birth_date} is before {EARLIEST_BIRTH_YEAR}"
        )));
    }
    let expected = id_check_char(first17);
    let found = char::from(b[17]);
    if expected != found {
        return Err(IdProblem::Checksum { expected, found });
    }
    let sex = if (b[16] - b'0') % 2 == 1 {
        Sex::Male
    } else {
        Sex::Female
    };
    Ok(IdFacts {
        region_code: id[..6].to_string(),
        birth_date,
        sex,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreditCodeProblem {
    /// Wrong length or a character outside the GB 32100 alphabet.
    Format(String),
    Checksum {
        expected: char,
        found: char,
    },
}

impl fmt::Display for CreditCodeProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CreditCodeProblem::Format(why) => f.write_str(why),
            CreditCodeProblem::Checksum { expected, found } => write!(
                f,
                "check character is `{found}` but the first 17 characters require `{expected}` (GB 32100)"
            ),
        }
    }
}

fn uscc_value(c: u8) -> Option<u32> {
    USCC_ALPHABET.iter().position(|&a| a == c).map(|i| i as u32)
}

/// The GB 32100 check character of 17 characters from the alphabet; `None` when one
/// is outside it.
pub fn credit_code_check_char(first17: &[u8]) -> Option<char> {
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0;
    for (&c, w) in first17.iter().zip(USCC_WEIGHTS) {
        sum += uscc_value(c)? * w;
    }
    Some(char::from(USCC_ALPHABET[((31 - sum % 31) % 31) as usize]))
}

/// Checks an 18-character unified social credit code (already normalised).
pub fn check_credit_code(code: &str) -> Result<(), CreditCodeProblem> {
    let count = code.chars().count();
    if count != 18 {
        return Err(CreditCodeProblem::Format(format!(
            "has {count} characters; a unified social credit code has 18"
        )));
    }
    if let Some((i, c)) = code
        .chars()
        .enumerate()
        .find(|&(_, c)| !c.is_ascii() || uscc_value(c as u8).is_none())
    {
        return Err(CreditCodeProblem::Format(format!(
            "character `{c}` at position {} is not in the GB 32100 alphabet (digits and capitals except I, O, Z, S, V)",
            i + 1
        )));
    }
    let b = code.as_bytes();
    let expected = credit_code_check_char(&b[..17]).expect("alphabet checked");
    let found = char::from(b[17]);
    if expected != found {
        return Err(CreditCodeProblem::Checksum { expected, found });
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardProblem {
    Format(String),
    Checksum,
}

impl fmt::Display for CardProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CardProblem::Format(why) => f.write_str(why),
            CardProblem::Checksum => f.write_str("fails the Luhn check"),
        }
    }
}

/// Luhn (ISO/IEC 7812-1) over ASCII digits, the last being the check digit.
pub fn luhn_valid(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &c)| {
            let d = u32::from(c - b'0');
            if i % 2 == 1 {
                let d2 = d * 2;
                if d2 > 9 { d2 - 9 } else { d2 }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Checks a bank card number (already normalised: spaces and dashes removed).
pub fn check_card_number(number: &str) -> Result<(), CardProblem> {
    let b = number.as_bytes();
    if !b.iter().all(u8::is_ascii_digit) {
        return Err(CardProblem::Format("must contain only digits".into()));
    }
    if !CARD_LENGTHS.contains(&b.len()) {
        return Err(CardProblem::Format(format!(
            "has {} digits; a card number has {} to {}",
            b.len(),
            CARD_LENGTHS.start(),
            CARD_LENGTHS.end()
        )));
    }
    if !luhn_valid(b) {
        return Err(CardProblem::Checksum);
    }
    Ok(())
}

/// Full-width forms (U+FF01..=U+FF5E) and the ideographic space to their ASCII twins:
/// OCR of Chinese documents returns either.
fn half_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// An identifier as OCR read it → its canonical form: half-width, no spaces or dashes,
/// upper case (`x` → `X`).
pub fn normalise_code(s: &str) -> String {
    s.chars()
        .map(half_width)
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// A name or other text → the form two readings of it are compared in: half-width,
/// no whitespace, no middle dots (`买买提·艾力` is written with any of several dots, or
/// none), ASCII case folded.
pub fn normalise_text(s: &str) -> String {
    s.chars()
        .map(half_width)
        .filter(|c| !c.is_whitespace() && !matches!(c, '·' | '•' | '・' | '.' | '‧'))
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> Date {
        Date::parse_iso("2025-06-30").unwrap()
    }

    /// Builds a valid number from its first 17 digits.
    fn with_check(first17: &str) -> String {
        let b: &[u8; 17] = first17.as_bytes().try_into().unwrap();
        format!("{first17}{}", id_check_char(b))
    }

    #[test]
    fn published_id_examples_are_valid() {
        // The example number of GB 11643 itself, with an X check character.
        let facts = check_id_number("11010519491231002X", today()).unwrap();
        assert_eq!(facts.region_code, "110105");
        assert_eq!(facts.birth_date.to_string(), "1949-12-31");
        assert_eq!(facts.sex, Sex::Female);
        let facts = check_id_number("440524188001010014", Date::parse_iso("2025-01-01").unwrap());
        assert!(
            matches!(facts, Err(IdProblem::BirthDate(_))),
            "1880 is implausible: {facts:?}"
        );
    }

    #[test]
    fn every_remainder_maps_to_its_check_char() {
        // Vary the sequence digits until each of the 11 remainders has been seen once.
        let mut seen = std::collections::BTreeSet::new();
        for seq in 0..1000 {
            let id = with_check(&format!("11010119900307{seq:03}"));
            let check = id.chars().last().unwrap();
            seen.insert(check);
            assert!(check_id_number(&id, today()).is_ok(), "{id}");
        }
        assert_eq!(seen.len(), 11, "{seen:?}");
        assert!(seen.contains(&'X'));
    }

    #[test]
    fn id_single_digit_changes_are_caught() {
        let good = with_check("32010619851128401");
        for pos in 0..18 {
            let mut b = good.clone().into_bytes();
            b[pos] = if b[pos] == b'0' { b'1' } else { b'0' };
            let bad = String::from_utf8(b).unwrap();
            assert!(
                check_id_number(&bad, today()).is_err(),
                "{bad} (changed position {pos})"
            );
        }
    }

    #[test]
    fn id_adjacent_transpositions_are_caught() {
        let good = with_check("32010619851128401");
        let b = good.as_bytes();
        for pos in 0..17 {
            if b[pos] == b[pos + 1] {
                continue;
            }
            let mut t = b.to_vec();
            t.swap(pos, pos + 1);
            let bad = String::from_utf8(t).unwrap();
            assert!(check_id_number(&bad, today()).is_err(), "{bad}");
        }
    }

    #[test]
    fn id_format_problems() {
        let cases = [
            ("", "has 0 characters"),
            ("11010519491231002", "has 17 characters"),
            ("11010519491231002XX", "has 19 characters"),
            ("110105194912310", "15-digit first-generation"),
            ("11010519491231002x", "digit or `X`"), // lower case: callers normalise first
            ("1101051949123100AX", "digit or `X`"),
            ("X10105194912310021", "digit or `X`"),
            ("１１０１０５１９４９１２３１００２Ｘ", "has 18 characters"), // full-width, not normalised
        ];
        for (id, want) in cases {
            match check_id_number(id, today()) {
                Err(IdProblem::Format(why)) => assert!(why.contains(want), "{id}: {why}"),
                other => panic!("{id}: {other:?}"),
            }
        }
    }

    #[test]
    fn id_region_must_be_a_province() {
        for prefix in [
            "00", "10", "16", "20", "24", "30", "38", "47", "55", "60", "66", "70", "72", "80",
            "83", "99",
        ] {
            let id = with_check(&format!("{prefix}010519900307123"));
            assert!(
                matches!(check_id_number(&id, today()), Err(IdProblem::Region(_))),
                "{id}"
            );
        }
        for prefix in [
            "11", "15", "21", "23", "31", "37", "41", "46", "50", "54", "61", "65", "71", "81",
            "82",
        ] {
            let id = with_check(&format!("{prefix}010519900307123"));
            assert!(check_id_number(&id, today()).is_ok(), "{id}");
        }
    }

    #[test]
    fn id_birth_date_boundaries() {
        let on = |birth: &str| check_id_number(&with_check(&format!("110105{birth}123")), today());
        assert!(on("20250630").is_ok(), "born on the business date");
        assert!(
            matches!(on("20250701"), Err(IdProblem::BirthDate(w)) if w.contains("after the business date"))
        );
        assert!(
            matches!(on("19900230"), Err(IdProblem::BirthDate(w)) if w.contains("not a calendar date"))
        );
        assert!(matches!(on("19901301"), Err(IdProblem::BirthDate(_))));
        assert!(on("20000229").is_ok(), "2000 was a leap year");
        assert!(
            matches!(on("19000229"), Err(IdProblem::BirthDate(_))),
            "1900 was not"
        );
        assert!(on("19000101").is_ok());
        assert!(matches!(on("18991231"), Err(IdProblem::BirthDate(_))));
    }

    #[test]
    fn id_checksum_problem_names_both_chars() {
        let good = with_check("11010519900307123");
        let last = good.chars().last().unwrap();
        let wrong = if last == '0' { '1' } else { '0' };
        let bad = format!("{}{wrong}", &good[..17]);
        assert_eq!(
            check_id_number(&bad, today()),
            Err(IdProblem::Checksum {
                expected: last,
                found: wrong
            })
        );
    }

    #[test]
    fn id_sex_from_seventeenth_digit() {
        let male = check_id_number(&with_check("11010519900307123"), today()).unwrap();
        let female = check_id_number(&with_check("11010519900307124"), today()).unwrap();
        assert_eq!((male.sex, female.sex), (Sex::Male, Sex::Female));
    }

    #[test]
    fn published_credit_codes_are_valid() {
        // Codes printed on public business licences, one with a letter check character.
        for code in [
            "91350100M000100Y43",
            "91110000600037341L",
            "91440300MA5DC4RG2G",
        ] {
            assert_eq!(check_credit_code(code), Ok(()), "{code}");
        }
    }

    #[test]
    fn credit_code_single_changes_and_alphabet() {
        let good = "91350100M000100Y43";
        for pos in 0..18 {
            for &c in USCC_ALPHABET {
                let mut b = good.as_bytes().to_vec();
                if b[pos] == c {
                    continue;
                }
                b[pos] = c;
                let bad = String::from_utf8(b).unwrap();
                assert!(check_credit_code(&bad).is_err(), "{bad}");
            }
        }
        for forbidden in ['I', 'O', 'Z', 'S', 'V', 'a', '中'] {
            let bad = format!("9135010{forbidden}M000100Y43");
            match check_credit_code(&bad) {
                Err(CreditCodeProblem::Format(why)) => {
                    assert!(why.contains("position 8"), "{bad}: {why}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert!(matches!(
            check_credit_code("91350100M000100Y4"),
            Err(CreditCodeProblem::Format(_))
        ));
        assert_eq!(
            check_credit_code("91350100M000100Y44"),
            Err(CreditCodeProblem::Checksum {
                expected: '3',
                found: '4'
            })
        );
    }

    #[test]
    fn credit_code_check_char_can_be_a_letter_and_zero() {
        let mut letters = std::collections::BTreeSet::new();
        for n in 0..2000u32 {
            let body = format!("91110000{n:08}1");
            let check = credit_code_check_char(body.as_bytes()).unwrap();
            letters.insert(check);
            assert_eq!(check_credit_code(&format!("{body}{check}")), Ok(()));
        }
        assert_eq!(
            letters.len(),
            31,
            "every symbol occurs as a check character"
        );
    }

    #[test]
    fn luhn_cards() {
        // Standard test PANs (Visa, UnionPay, Amex).
        for card in [
            "4111111111111111",
            "6222021234567890128",
            "378282246310005",
            "6212262201001234568",
        ] {
            assert_eq!(check_card_number(card), Ok(()), "{card}");
        }
        for card in ["6225880137408998", "6217000010001234567"] {
            assert_eq!(
                check_card_number(card),
                Err(CardProblem::Checksum),
                "{card}"
            );
        }
        assert_eq!(
            check_card_number("4111111111111112"),
            Err(CardProblem::Checksum)
        );
        // Single-digit error and adjacent transposition of unequal digits (except 09/90).
        assert_eq!(
            check_card_number("4111111111111121"),
            Err(CardProblem::Checksum)
        );
        assert!(matches!(
            check_card_number("41111111111"),
            Err(CardProblem::Format(_))
        ));
        assert!(matches!(
            check_card_number("41111111111111111111"),
            Err(CardProblem::Format(_))
        ));
        assert!(matches!(
            check_card_number("4111 1111 1111 1111"),
            Err(CardProblem::Format(_))
        ));
        assert!(matches!(check_card_number(""), Err(CardProblem::Format(_))));
    }

    #[test]
    fn normalisation() {
        assert_eq!(
            normalise_code(" １１０１０５ 19491231002x "),
            "11010519491231002X"
        );
        assert_eq!(
            normalise_code("6222-0212 3456-7890128"),
            "6222021234567890128"
        );
        assert_eq!(
            normalise_text("买买提·艾力"),
            normalise_text("买买提 • 艾力")
        );
        assert_eq!(normalise_text("买买提艾力"), normalise_text("买买提・艾力"));
        assert_eq!(normalise_text("张　伟"), "张伟");
        assert_eq!(
            normalise_text("ＡＢＣ（深圳）有限公司"),
            "abc(深圳)有限公司"
        );
        assert_ne!(normalise_text("张伟"), normalise_text("张玮"));
    }
}

//! Matching keys for names, ID numbers, institutions and industry codes.
//!
//! Watchlist hits must not be dodged by writing a name in full-width letters, with a
//! different case, or with extra spaces and dots, so both sides of every comparison go
//! through the same key function.

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

/// Key of a person's or company's name: NFKC (full-width → half-width, compatibility
/// forms folded), full case folding (lower, upper, lower again: `ẞ`, `ß` and `SS` all
/// become `ss`, final sigma meets sigma), and every
/// character that is not a letter or digit removed (spaces, punctuation, the middle dot
/// of transliterated names, symbols).
pub fn name_key(s: &str) -> String {
    // ASCII is its own NFKC form and folds by ASCII rules: the common case, without
    // the Unicode tables.
    if s.is_ascii() {
        return s
            .bytes()
            .filter(u8::is_ascii_alphanumeric)
            .map(|b| char::from(b.to_ascii_lowercase()))
            .collect();
    }
    let fold = |chars: &mut dyn Iterator<Item = char>| -> String {
        chars
            .flat_map(char::to_lowercase)
            .flat_map(char::to_uppercase)
            .flat_map(char::to_lowercase)
            .filter(|c| c.is_alphanumeric())
            .collect()
    };
    if is_nfkc(s) {
        fold(&mut s.chars())
    } else {
        fold(&mut s.nfkc())
    }
}

/// Whether `s` is already in NFKC (most names, Chinese ones included), so the
/// normalisation can be skipped. A `Maybe` from the quick check counts as no.
fn is_nfkc(s: &str) -> bool {
    is_nfkc_quick(s.chars()) == IsNormalized::Yes
}

/// Key of an identifier (ID number, credit code, industry code): NFKC, upper case,
/// letters and digits only (`110101 19900307 451x` → `11010119900307451X`).
pub fn id_key(s: &str) -> String {
    if s.is_ascii() {
        return s
            .bytes()
            .filter(u8::is_ascii_alphanumeric)
            .map(|b| char::from(b.to_ascii_uppercase()))
            .collect();
    }
    let fold = |chars: &mut dyn Iterator<Item = char>| -> String {
        chars
            .flat_map(char::to_uppercase)
            .filter(|c| c.is_alphanumeric())
            .collect()
    };
    if is_nfkc(s) {
        fold(&mut s.chars())
    } else {
        fold(&mut s.nfkc())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_case_and_punctuation_do_not_matter() {
        assert_eq!(name_key("ＡＣＭＥ　Ｔｒａｄｉｎｇ"), "acmetrading");
        assert_eq!(name_key("Acme-Trading, Ltd."), name_key("acme trading ltd"));
        assert_eq!(name_key("  John  O'Brien "), "johnobrien");
        assert_eq!(name_key("STRAẞE"), name_key("strasse"));
        assert_eq!(name_key("Straße"), "strasse");
        assert_eq!(name_key("ΟΔΥΣΣΕΥΣ"), name_key("οδυσσευς"));
    }

    #[test]
    fn chinese_names_keep_their_characters() {
        assert_eq!(name_key("张 伟"), "张伟");
        assert_eq!(name_key("阿卜杜拉·艾买提"), "阿卜杜拉艾买提");
        assert_eq!(name_key("（北京）科技有限公司"), "北京科技有限公司");
        assert_ne!(name_key("张伟"), name_key("张玮"));
    }

    #[test]
    fn ids_are_upper_cased_alphanumerics() {
        assert_eq!(
            id_key("１１０１０１１９９００３０７４５１ｘ"),
            "11010119900307451X"
        );
        assert_eq!(id_key("110101-19900307-451x"), "11010119900307451X");
        assert_eq!(id_key("c 31.1"), "C311");
    }

    #[test]
    fn the_shortcuts_give_what_full_normalisation_gives() {
        let full_name = |s: &str| -> String {
            s.nfkc()
                .flat_map(char::to_lowercase)
                .flat_map(char::to_uppercase)
                .flat_map(char::to_lowercase)
                .filter(|c| c.is_alphanumeric())
                .collect()
        };
        let full_id = |s: &str| -> String {
            s.nfkc()
                .flat_map(char::to_uppercase)
                .filter(|c| c.is_alphanumeric())
                .collect()
        };
        for s in [
            "Acme-Trading, Ltd.",
            "  John  O'Brien ",
            "x~!@#$%^&*()_+{}|:\"<>?`-=[];',./ 09azAZ",
            "张 伟",
            "阿卜杜拉·艾买提",
            "ＡＣＭＥ　Ｔｒａｄｉｎｇ",
            "STRAẞE Straße ΟΔΥΣΣΕΥΣ",
            "café cafe\u{301} ﬁ ① ㍿ Ⅻ",
            "１１０１０１１９９００３０７４５１ｘ",
            "",
        ] {
            assert_eq!(name_key(s), full_name(s), "{s}");
            assert_eq!(id_key(s), full_id(s), "{s}");
        }
    }

    #[test]
    fn nothing_left_is_empty() {
        assert_eq!(name_key(" .,-·　"), "");
        assert_eq!(id_key("--"), "");
    }
}

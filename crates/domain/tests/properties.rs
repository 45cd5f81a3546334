//! Property tests of the value objects: for any input, parsing never panics; what it
//! accepts re-parses to itself and keeps the documented limits; and what it accepts is
//! exactly what the pattern published in the OpenAPI document accepts, so clients that
//! validate with the document and the server agree.

use conduit_domain::{
    article::{ArticleBody, ArticleDescription, ArticleTitle, Slug, TagName},
    comment::CommentBody,
    text::{MULTI_LINE_PATTERN, SINGLE_LINE_PATTERN},
    user::{Bio, Email, ImageUrl, Password, Username},
};
use std::sync::Mutex;

use proptest::prelude::*;
use regex::Regex;

/// Text drawn from characters that matter to the rules: letters, digits, the
/// punctuation of emails, slugs and URLs, white space, control characters (NUL, tab,
/// newline, DEL, C1), and non-ASCII letters and spaces.
fn tricky_text(max: usize) -> impl Strategy<Value = String> {
    let chars = prop_oneof![
        6 => proptest::char::range('a', 'z'),
        2 => proptest::char::range('A', 'Z'),
        2 => proptest::char::range('0', '9'),
        3 => proptest::sample::select(vec!['@', '.', '-', '_', ':', '/', '%', '+']),
        2 => proptest::sample::select(vec![' ', '\t', '\n', '\r', '\u{a0}', '\u{2003}']),
        1 => proptest::sample::select(vec!['\0', '\u{1}', '\u{1f}', '\u{7f}', '\u{85}', '\u{9f}']),
        1 => proptest::sample::select(vec!['é', 'ß', '字', '🙂']),
    ];
    proptest::collection::vec(chars, 0..max).prop_map(|chars| chars.into_iter().collect())
}

/// A JSON Schema pattern as a Rust regex (the published patterns use only the common
/// subset: classes, `\s`, `\uXXXX` escapes and anchors), compiled once per test run.
fn pattern(schema: &'static str) -> &'static Regex {
    static COMPILED: Mutex<Vec<(&str, &Regex)>> = Mutex::new(Vec::new());
    let mut compiled = COMPILED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, regex)) = compiled.iter().find(|(known, _)| *known == schema) {
        return regex;
    }
    let regex: &'static Regex = Box::leak(Box::new(
        Regex::new(schema).expect("the published pattern compiles"),
    ));
    compiled.push((schema, regex));
    regex
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn emails_are_accepted_exactly_as_their_pattern_says(raw in tricky_text(30)) {
        let parsed = Email::parse(&raw);
        let by_pattern = pattern(Email::PATTERN).is_match(&raw) && raw.chars().count() <= Email::MAX;
        prop_assert_eq!(parsed.is_ok(), by_pattern, "{:?}", raw);
        if let Ok(email) = parsed {
            prop_assert_eq!(Email::parse(email.as_str()).ok(), Some(email.clone()));
        }
    }

    #[test]
    fn usernames_are_accepted_exactly_as_their_pattern_says(raw in tricky_text(20)) {
        let parsed = Username::parse(&raw);
        // The published pattern has a look-ahead (not all dots) that Rust's regex lacks.
        let by_pattern = pattern(r"^[A-Za-z0-9_.-]+$").is_match(&raw)
            && !raw.chars().all(|c| c == '.')
            && raw.chars().count() <= Username::MAX;
        prop_assert_eq!(parsed.is_ok(), by_pattern, "{:?}", raw);
        if let Ok(name) = parsed {
            prop_assert_eq!(Username::parse(name.as_str()).ok(), Some(name.clone()));
        }
    }

    #[test]
    fn single_line_texts_follow_their_pattern_and_come_back_trimmed(raw in tricky_text(40)) {
        let by_pattern = pattern(SINGLE_LINE_PATTERN).is_match(&raw);
        for (what, parsed) in [
            ("title", ArticleTitle::parse(&raw).map(|t| t.as_str().to_owned())),
            ("description", ArticleDescription::parse(&raw).map(|t| t.as_str().to_owned())),
            ("tag", TagName::parse(&raw).map(|t| t.as_str().to_owned())),
        ] {
            prop_assert_eq!(parsed.is_ok(), by_pattern, "{} {:?}", what, raw);
            if let Ok(text) = parsed {
                prop_assert_eq!(text.as_str(), text.trim(), "{} comes back trimmed", what);
                prop_assert!(!text.contains('\0'));
            }
        }
    }

    #[test]
    fn multi_line_texts_follow_their_pattern(raw in tricky_text(40)) {
        let by_pattern = pattern(MULTI_LINE_PATTERN).is_match(&raw);
        prop_assert_eq!(ArticleBody::parse(&raw).is_ok(), by_pattern, "body {:?}", raw);
        prop_assert_eq!(CommentBody::parse(&raw).is_ok(), by_pattern, "comment {:?}", raw);
    }

    #[test]
    fn optional_profile_fields_never_keep_nul_and_reparse_to_themselves(raw in tricky_text(40)) {
        if let Ok(Some(bio)) = Bio::parse(&raw) {
            prop_assert!(!bio.as_str().contains('\0'));
            prop_assert_eq!(Bio::parse(bio.as_str()).ok(), Some(Some(bio.clone())));
        }
        let url = format!("https://{raw}");
        let url = url.as_str();
        let by_pattern = pattern(ImageUrl::PATTERN).is_match(url) && url.chars().count() <= ImageUrl::MAX;
        match ImageUrl::parse(url) {
            Ok(Some(image)) => {
                prop_assert!(by_pattern, "{:?}", url);
                prop_assert_eq!(ImageUrl::parse(image.as_str()).ok(), Some(Some(image.clone())));
            }
            Ok(None) => prop_assert!(false, "a URL is not empty"),
            Err(_) => prop_assert!(!by_pattern, "{:?}", url),
        }
    }

    #[test]
    fn passwords_keep_their_length_rules_whatever_the_characters(raw in tricky_text(140)) {
        let chars = raw.chars().count();
        if let Ok(_secret) = Password::new_secret(&raw) {
            prop_assert!((Password::MIN..=Password::MAX).contains(&chars), "{}", chars);
        }
        if chars > Password::MAX {
            prop_assert!(Password::new_secret(&raw).is_err());
            prop_assert!(Password::presented(&raw).is_err());
        }
    }

    #[test]
    fn slugs_derived_from_any_title_are_valid_slugs(raw in tricky_text(300), suffix in "[a-z0-9]{0,8}") {
        if let Ok(title) = ArticleTitle::parse(&raw) {
            let suffix = (!suffix.is_empty()).then_some(suffix.as_str());
            let slug = Slug::from_title(&title, suffix);
            prop_assert_eq!(Slug::parse(slug.as_str()).ok(), Some(slug.clone()), "{:?}", raw);
        }
        if let Ok(slug) = Slug::parse(&raw) {
            prop_assert!(slug.as_str().len() <= Slug::MAX);
        }
    }
}

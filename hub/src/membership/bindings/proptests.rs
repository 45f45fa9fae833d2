//! Property tests of the device label rule (hub.md §6.10): any text is answered without a panic,
//! a format character anywhere refuses the label, and letters of any script are kept.

use proptest::prelude::*;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory as _};

use super::{MAX_LABEL_CHARS, label};

/// Characters the spec names, and a few more format characters (soft hyphen, Arabic number sign,
/// Mongolian vowel separator, word joiner, interlinear annotation, a language tag).
const FORMAT: [char; 22] = [
    '\u{200B}',
    '\u{200C}',
    '\u{200D}',
    '\u{200E}',
    '\u{200F}',
    '\u{202A}',
    '\u{202B}',
    '\u{202C}',
    '\u{202D}',
    '\u{202E}',
    '\u{2066}',
    '\u{2067}',
    '\u{2068}',
    '\u{2069}',
    '\u{FEFF}',
    '\u{00AD}',
    '\u{0600}',
    '\u{180E}',
    '\u{2060}',
    '\u{FFF9}',
    '\u{E0041}',
    '\u{2028}',
];

/// Letters and marks of several scripts, right-to-left ones among them, and symbols.
fn shown_char() -> impl Strategy<Value = char> {
    prop_oneof![
        proptest::char::range('a', 'z'),
        proptest::char::range('\u{0621}', '\u{064A}'),
        proptest::char::range('\u{05D0}', '\u{05EA}'),
        proptest::char::range('\u{4E00}', '\u{4FFF}'),
        Just('😀'),
        Just('-'),
        Just(' '),
    ]
}

proptest! {
    #[test]
    fn label_never_panics_and_accepts_only_shown_text(text in "(?s).{0,100}") {
        if let Ok(Some(kept)) = label(Some(&text)) {
            prop_assert_eq!(kept.as_str(), text.trim());
            prop_assert!(kept.chars().count() <= MAX_LABEL_CHARS);
            prop_assert!(!kept.chars().any(|c| matches!(
                c.general_category(),
                GeneralCategory::Control | GeneralCategory::Format
            )));
        }
    }

    #[test]
    fn label_of_letters_of_any_script_is_kept_trimmed(
        chars in proptest::collection::vec(shown_char(), 1..=MAX_LABEL_CHARS),
    ) {
        let text: String = chars.into_iter().collect();

        let kept = label(Some(&text)).unwrap();

        let trimmed = text.trim();
        prop_assert_eq!(kept.as_deref(), (!trimmed.is_empty()).then_some(trimmed));
    }

    #[test]
    fn label_with_a_format_character_anywhere_is_refused(
        chars in proptest::collection::vec(shown_char(), 0..40),
        at in any::<prop::sample::Index>(),
        format in proptest::sample::select(FORMAT.to_vec()),
    ) {
        let mut chars = chars;
        let i = at.index(chars.len() + 1);
        chars.insert(i, format);
        // Keep the character inside the label: a separator at either end would be trimmed away.
        let text = format!("x{}x", chars.into_iter().collect::<String>());

        prop_assert!(label(Some(&text)).is_err(), "{:?}", text);
    }

    #[test]
    fn label_over_the_limit_is_refused(
        chars in proptest::collection::vec(shown_char(), MAX_LABEL_CHARS + 1..200),
    ) {
        let text = format!("x{}x", chars.into_iter().collect::<String>());

        prop_assert!(label(Some(&text)).is_err());
    }
}

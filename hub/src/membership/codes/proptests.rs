//! Property tests of the typed codes and secrets (hub.md §6.1, §6.9): any input is answered
//! without a panic, a code survives the ways people retype it, and oversized input is refused
//! before any work.

use proptest::prelude::*;

use super::super::bindings::BIND_CODE_LEN;
use super::super::join::INVITE_CODE_LEN;
use super::{
    CROCKFORD, grouped, is_secret_shaped, new_code, new_secret, normalize_code, normalize_email,
};

/// How a person may retype one code character: either case, a look-alike letter for `0`/`1`.
fn retyped(c: char, lower: bool, lookalike: u8) -> char {
    match (c, lookalike % 3) {
        ('0', 1) => 'o',
        ('0', 2) => 'O',
        ('1', 1) => 'l',
        ('1', 2) => 'I',
        _ if lower => c.to_ascii_lowercase(),
        _ => c,
    }
}

proptest! {
    #[test]
    fn normalize_code_never_panics_and_yields_only_crockford_codes(
        input in "(?s).{0,80}",
        len in prop::sample::select(vec![BIND_CODE_LEN, INVITE_CODE_LEN]),
    ) {
        if let Some(code) = normalize_code(&input, len) {
            prop_assert_eq!(code.len(), len);
            prop_assert!(code.bytes().all(|b| CROCKFORD.contains(&b)));
            prop_assert!(input.len() <= 64);
        }
    }

    #[test]
    fn code_round_trips_however_it_is_retyped(
        len in prop::sample::select(vec![BIND_CODE_LEN, INVITE_CODE_LEN]),
        group in 1usize..=6,
        lower in any::<bool>(),
        lookalikes in proptest::collection::vec(any::<u8>(), INVITE_CODE_LEN),
        separator in prop::sample::select(vec!["-", " "]),
    ) {
        let code = new_code(len);
        let typed: String = grouped(&code, group)
            .replace('-', separator)
            .chars()
            .zip(lookalikes.iter().cycle())
            .map(|(c, l)| retyped(c, lower, *l))
            .collect();

        prop_assert_eq!(normalize_code(&typed, len), Some(code));
    }

    #[test]
    fn code_input_over_64_bytes_is_refused(padding in "[- ]{55,100}") {
        let typed = format!("{}{padding}", new_code(BIND_CODE_LEN));

        prop_assert_eq!(normalize_code(&typed, BIND_CODE_LEN), None);
    }

    #[test]
    fn normalize_email_never_panics_and_is_idempotent(input in "(?s).{0,300}") {
        if let Some(email) = normalize_email(&input) {
            prop_assert!(email.len() <= 254 && email.is_ascii());
            prop_assert!(!email.bytes().any(|b| b.is_ascii_control() || b == b' '));
            prop_assert_eq!(normalize_email(&email), Some(email.clone()));
        }
    }

    #[test]
    fn well_formed_address_is_lower_cased_and_kept(
        local in "[A-Za-z0-9._+-]{1,64}",
        labels in proptest::collection::vec("[A-Za-z0-9-]{1,20}", 2..4),
    ) {
        let email = format!("{local}@{}", labels.join("."));
        prop_assume!(email.len() <= 254);

        prop_assert_eq!(normalize_email(&format!(" {email} ")), Some(email.to_ascii_lowercase()));
    }

    #[test]
    fn secret_shape_refuses_any_other_length_or_alphabet(
        at in any::<prop::sample::Index>(),
        other in "[^A-Za-z0-9_-]",
        extra in "[A-Za-z0-9_-]",
    ) {
        let secret = new_secret();
        let i = at.index(secret.len());
        let mut replaced = secret.clone();
        replaced.replace_range(i..=i, &other);
        let mut longer = secret.clone();
        longer.insert_str(i, &extra);

        prop_assert!(is_secret_shaped(&secret));
        prop_assert!(!is_secret_shaped(&replaced), "{:?}", replaced);
        prop_assert!(!is_secret_shaped(&longer));
        prop_assert!(!is_secret_shaped(&secret[..i]));
    }
}

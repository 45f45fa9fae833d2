//! Property tests of `Stripe-Signature` (hub.md §8.4) beyond `tests::properties`: hostile and
//! oversized headers are answered without a panic, a signature binds its timestamp and secret,
//! any changed `v1` digit refuses it, and the 300 s tolerance holds at its edges.

use proptest::prelude::*;

use super::{MAX_HEADER_BYTES, SignatureError, SignatureHeader, TOLERANCE_SECS, sign, verify};

const NOW: i64 = 1_767_225_600;

fn hostile_header() -> impl Strategy<Value = String> {
    prop_oneof![
        "(?s).{0,200}",
        "[\\x00-\\x1f\\u{200b}-\\u{200f}\\u{202a}-\\u{202e},=tv1]{0,64}",
        (0usize..20).prop_map(|n| format!(
            "t=1,{}",
            vec![format!("v1={}", "ab".repeat(32)); n].join(",")
        )),
        (4000usize..9000).prop_map(|n| format!("t=1,v1={},x={}", "0".repeat(64), "y".repeat(n))),
        "t=[0-9+-]{0,25},v1=[0-9a-fA-F]{0,70}",
    ]
}

proptest! {
    #[test]
    fn parse_never_panics_on_hostile_headers_and_accepts_only_bounded_ones(header in hostile_header()) {
        if let Ok(parsed) = SignatureHeader::parse(&header) {
            prop_assert!(header.len() <= MAX_HEADER_BYTES);
            prop_assert!(parsed.timestamp >= 0);
            prop_assert!((1..=16).contains(&parsed.signatures.len()));
        }
        let _ = verify(&header, b"{}", &["whsec_p".to_owned()], NOW);
    }

    #[test]
    fn well_formed_header_over_the_limit_is_refused(n in MAX_HEADER_BYTES..MAX_HEADER_BYTES * 2) {
        let header = format!("{},x={}", sign("whsec_p", NOW, b"{}"), "y".repeat(n));

        prop_assert_eq!(verify(&header, b"{}", &["whsec_p".to_owned()], NOW), Err(SignatureError::Malformed));
    }

    #[test]
    fn signature_binds_its_timestamp_and_secret(
        body in proptest::collection::vec(any::<u8>(), 0..200),
        t in 0i64..=i64::MAX / 2,
        other_t in 0i64..=i64::MAX / 2,
        secret in "whsec_[A-Za-z0-9]{1,32}",
        other_secret in "whsec_[A-Za-z0-9]{1,32}",
    ) {
        let header = sign(&secret, t, &body);
        let v1 = header.split_once(",v1=").unwrap().1;
        let moved = format!("t={other_t},v1={v1}");

        let with_other_t = verify(&moved, &body, std::slice::from_ref(&secret), other_t);
        let with_other_secret = verify(&header, &body, std::slice::from_ref(&other_secret), t);

        prop_assert_eq!(with_other_t.is_ok(), t == other_t);
        prop_assert_eq!(with_other_secret.is_ok(), secret == other_secret);
        prop_assert_eq!(verify(&header, &body, &[other_secret, secret], t), Ok(t));
    }

    #[test]
    fn any_changed_v1_digit_is_a_mismatch(
        at in 0usize..64,
        digit in prop::sample::select(b"0123456789abcdef".to_vec()),
    ) {
        let header = sign("whsec_p", NOW, b"{}");
        let mut bytes = header.into_bytes();
        let i = bytes.len() - 64 + at;
        prop_assume!(bytes[i] != digit);
        bytes[i] = digit;
        let changed = String::from_utf8(bytes).unwrap();

        prop_assert_eq!(verify(&changed, b"{}", &["whsec_p".to_owned()], NOW), Err(SignatureError::Mismatch));
    }

    #[test]
    fn tolerance_holds_at_its_edges(skew in -2 * TOLERANCE_SECS..=2 * TOLERANCE_SECS) {
        let header = sign("whsec_p", NOW + skew, b"{}");

        let outcome = verify(&header, b"{}", &["whsec_p".to_owned()], NOW);

        if skew.abs() <= TOLERANCE_SECS {
            prop_assert_eq!(outcome, Ok(NOW + skew));
        } else {
            prop_assert_eq!(outcome, Err(SignatureError::Stale));
        }
    }
}

//! Property tests of PeerSig (hub.md §3): the signing input keeps every signed part apart, any
//! header values are answered without a panic, and a change to any signed part, or to the
//! signature, breaks verification.

use libp2p::identity::ed25519::Keypair;
use proptest::prelude::*;

use crate::ids::Ed25519PeerId;
use crate::signing::request_signing_input;

/// What a request signs besides its audience.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Signed {
    ts: i64,
    method: String,
    target: String,
    body: Vec<u8>,
}

fn signed_parts() -> impl Strategy<Value = Signed> {
    (
        0i64..=9_999_999_999_999_999,
        "[A-Z]{1,7}",
        "/[!-~]{0,40}",
        proptest::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(|(ts, method, target, body)| Signed {
            ts,
            method,
            target,
            body,
        })
}

proptest! {
    #[test]
    fn signing_input_differs_whenever_a_signed_part_differs(a in signed_parts(), b in signed_parts()) {
        let audience = Ed25519PeerId::from(Keypair::generate().public());
        let input = |s: &Signed| request_signing_input(&audience, &s.ts.to_string(), &s.method, &s.target, &s.body);

        prop_assert_eq!(input(&a) == input(&b), a == b);
    }
}

#[cfg(feature = "server")]
mod verifier {
    use std::time::Duration;

    use axum::http::{HeaderMap, HeaderName, HeaderValue};
    use proptest::prelude::*;

    use super::{Keypair, Signed, signed_parts};
    use crate::ids::Ed25519PeerId;
    use crate::peer_sig::{
        PEER_ID_HEADER, PeerSigError, PeerSigVerifier, SIGNATURE_HEADER, SignedHeaders,
        TIMESTAMP_HEADER,
    };

    const NOW: i64 = 1_767_225_600_000;
    const B64U: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    fn verifier() -> PeerSigVerifier {
        let hub = Ed25519PeerId::from(Keypair::generate().public());
        PeerSigVerifier::new(hub, Duration::from_secs(60))
    }

    fn headers(signed: SignedHeaders) -> HeaderMap {
        signed
            .into_pairs()
            .into_iter()
            .map(|(name, value)| (HeaderName::from_static(name), value.parse().unwrap()))
            .collect()
    }

    /// A request signed at `NOW + skew` over `parts`, and the verifier it is meant for.
    fn signed_request(parts: &Signed, skew: i64) -> (PeerSigVerifier, HeaderMap) {
        let verifier = verifier();
        let key = Keypair::generate();
        let signed = SignedHeaders::sign(
            &key,
            verifier.audience(),
            NOW + skew,
            &parts.method,
            &parts.target,
            &parts.body,
        );
        (verifier, headers(signed))
    }

    fn verify(
        verifier: &PeerSigVerifier,
        headers: &HeaderMap,
        parts: &Signed,
    ) -> Result<Option<Ed25519PeerId>, PeerSigError> {
        verifier.verify(
            headers,
            &parts.method,
            &parts.target,
            &parts.body,
            std::net::IpAddr::from([192, 0, 2, 1]),
            NOW,
        )
    }

    /// Any value a header can carry: text, control and non-UTF-8 bytes, overlong runs.
    fn header_value() -> impl Strategy<Value = Option<HeaderValue>> {
        let bytes = prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..120),
            (0usize..9000).prop_map(|n| vec![b'1'; n]),
            "[0-9]{1,20}".prop_map(String::into_bytes),
        ];
        proptest::option::of(
            bytes.prop_filter_map("not a header value", |b| HeaderValue::from_bytes(&b).ok()),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn verify_never_panics_on_any_header_values_and_accepts_none_of_them(
            peer in header_value(),
            ts in header_value(),
            sig in header_value(),
            parts in signed_parts(),
        ) {
            let present = [peer.is_some(), ts.is_some(), sig.is_some()];
            let mut map = HeaderMap::new();
            for (name, value) in [(PEER_ID_HEADER, peer), (TIMESTAMP_HEADER, ts), (SIGNATURE_HEADER, sig)] {
                if let Some(value) = value {
                    map.insert(HeaderName::from_static(name), value);
                }
            }

            let outcome = verify(&verifier(), &map, &parts);

            match present {
                [false, false, false] => prop_assert_eq!(outcome, Ok(None)),
                [true, true, true] => prop_assert!(outcome.is_err()),
                _ => prop_assert_eq!(outcome, Err(PeerSigError::Incomplete)),
            }
        }

        #[test]
        fn signed_request_verifies_once_within_the_window(parts in signed_parts(), skew in -60_000i64..=60_000) {
            let (verifier, headers) = signed_request(&parts, skew);

            prop_assert!(matches!(verify(&verifier, &headers, &parts), Ok(Some(_))));
            prop_assert_eq!(verify(&verifier, &headers, &parts), Err(PeerSigError::Replayed));
        }

        #[test]
        fn any_change_to_a_signed_part_breaks_the_signature(parts in signed_parts(), other in signed_parts()) {
            prop_assume!(parts.method != other.method || parts.target != other.target || parts.body != other.body);
            let (verifier, headers) = signed_request(&parts, 0);
            let changed = Signed { ts: parts.ts, ..other };

            prop_assert_eq!(verify(&verifier, &headers, &changed), Err(PeerSigError::BadSignature));
        }

        #[test]
        fn a_changed_timestamp_or_audience_breaks_the_signature(parts in signed_parts(), delta in 1i64..60_000) {
            let other_hub = verifier();
            let (verifier, mut headers) = signed_request(&parts, 0);
            let same_headers = headers.clone();
            headers.insert(HeaderName::from_static(TIMESTAMP_HEADER), (NOW - delta).to_string().parse().unwrap());

            prop_assert_eq!(verify(&verifier, &headers, &parts), Err(PeerSigError::BadSignature));
            prop_assert_eq!(verify(&other_hub, &same_headers, &parts), Err(PeerSigError::BadSignature));
        }

        #[test]
        fn any_changed_signature_character_is_refused(
            parts in signed_parts(),
            at in any::<prop::sample::Index>(),
            replacement in prop::sample::select(B64U.to_vec()),
        ) {
            let (verifier, mut headers) = signed_request(&parts, 0);
            let mut sig = headers[SIGNATURE_HEADER].as_bytes().to_vec();
            let i = at.index(sig.len());
            prop_assume!(sig[i] != replacement);
            sig[i] = replacement;
            headers.insert(HeaderName::from_static(SIGNATURE_HEADER), HeaderValue::from_bytes(&sig).unwrap());

            prop_assert_eq!(verify(&verifier, &headers, &parts), Err(PeerSigError::BadSignature));
        }

        #[test]
        fn non_canonical_timestamps_are_stale(
            parts in signed_parts(),
            text in prop_oneof![
                Just(format!("0{NOW}")), Just(format!("+{NOW}")), Just(format!("{NOW}.0")),
                Just(format!(" {NOW}")), Just(format!("{NOW}\t")), Just(format!("-{NOW}")),
                "[0-9]{17,40}", "[^0-9]{1,20}",
            ],
        ) {
            let (verifier, mut headers) = signed_request(&parts, 0);
            prop_assume!(HeaderValue::from_str(&text).is_ok());
            headers.insert(HeaderName::from_static(TIMESTAMP_HEADER), HeaderValue::from_str(&text).unwrap());

            prop_assert_eq!(verify(&verifier, &headers, &parts), Err(PeerSigError::StaleTimestamp));
        }
    }
}

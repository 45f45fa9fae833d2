//! `Stripe-Signature` (hub.md §8.4 rules 2–4): the header's parser, verification over the raw
//! body against every configured secret and every `v1` in constant time, and the signer that the
//! Stripe test double and the benchmark use, which signs exactly as Stripe does.

#[cfg(test)]
mod proptests;

use hmac::{Hmac, Mac as _};
use sha2::Sha256;

/// The longest `Stripe-Signature` header read; Stripe's carry one `t` and a few signatures.
pub const MAX_HEADER_BYTES: usize = 4096;
/// Signatures older or newer than this are refused (`stale_signature`).
pub const TOLERANCE_SECS: i64 = 300;
/// `v1` signatures looked at per header at most (a rotation carries two or three).
const MAX_SIGNATURES: usize = 16;

/// Why a webhook's signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `t`, two `t`s, a `t` that is no integer, no `v1`, a `v1` that is not 64 hex
    /// characters, or an oversized header: 400 `bad_signature`.
    #[error("malformed Stripe-Signature header")]
    Malformed,
    /// No `v1` matches any secret: 400 `bad_signature`.
    #[error("no signature matches")]
    Mismatch,
    /// The signature is valid but `t` lies more than 300 s from now: 400 `stale_signature`.
    #[error("signature timestamp outside the 300 s tolerance")]
    Stale,
}

/// A parsed `Stripe-Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    /// `t`: unix seconds.
    pub timestamp: i64,
    /// Every `v1`, decoded.
    pub signatures: Vec<[u8; 32]>,
}

impl SignatureHeader {
    /// Parses `t=…,v1=…[,v1=…][,v0=…]`: exactly one integer `t`, one or more `v1` of 64 hex
    /// characters; other keys are ignored.
    ///
    /// # Errors
    /// [`SignatureError::Malformed`].
    pub fn parse(header: &str) -> Result<Self, SignatureError> {
        if header.len() > MAX_HEADER_BYTES {
            return Err(SignatureError::Malformed);
        }
        let mut timestamp = None;
        let mut signatures = Vec::new();
        for item in header.split(',') {
            let (key, value) = item
                .trim()
                .split_once('=')
                .ok_or(SignatureError::Malformed)?;
            match key {
                "t" => {
                    let t = value
                        .parse::<i64>()
                        .ok()
                        .filter(|_| value.bytes().all(|b| b.is_ascii_digit()))
                        .ok_or(SignatureError::Malformed)?;
                    if timestamp.replace(t).is_some() {
                        return Err(SignatureError::Malformed);
                    }
                }
                "v1" => {
                    if signatures.len() == MAX_SIGNATURES {
                        return Err(SignatureError::Malformed);
                    }
                    let mut sig = [0u8; 32];
                    if value.len() != 64 || hex::decode_to_slice(value, &mut sig).is_err() {
                        return Err(SignatureError::Malformed);
                    }
                    signatures.push(sig);
                }
                _ => {}
            }
        }
        match timestamp {
            Some(timestamp) if !signatures.is_empty() => Ok(Self {
                timestamp,
                signatures,
            }),
            _ => Err(SignatureError::Malformed),
        }
    }
}

/// Verifies `header` over the raw `body` (§8.4 rules 2–4): some secret's HMAC-SHA256 of
/// `<t>.<body>` must equal some `v1` (compared in constant time), then `t` must lie within
/// 300 s of `now_secs`. Returns the signature's timestamp.
///
/// # Errors
/// [`SignatureError`].
pub fn verify(
    header: &str,
    body: &[u8],
    secrets: &[String],
    now_secs: i64,
) -> Result<i64, SignatureError> {
    let parsed = SignatureHeader::parse(header)?;
    let matches = secrets.iter().any(|secret| {
        parsed.signatures.iter().fold(false, |found, sig| {
            // Every pair is checked, so timing does not tell which secret or signature matched.
            mac(secret, parsed.timestamp, body)
                .verify_slice(sig)
                .is_ok()
                | found
        })
    });
    if !matches {
        return Err(SignatureError::Mismatch);
    }
    if now_secs.abs_diff(parsed.timestamp) > TOLERANCE_SECS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    Ok(parsed.timestamp)
}

/// The `Stripe-Signature` value Stripe sends for `body` at `timestamp` with `secret`:
/// `t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(digest))
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("invariant: HMAC takes any key");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600;

    fn secrets(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn verify_accepts_what_sign_produced() {
        let header = sign("whsec_a", NOW, b"{}");

        assert_eq!(verify(&header, b"{}", &secrets(&["whsec_a"]), NOW), Ok(NOW));
    }

    #[test]
    fn sign_matches_an_independent_hmac() {
        // printf '%s' '1767225600.{"id":"evt_1"}' | openssl dgst -sha256 -hmac whsec_test
        let expected =
            "t=1767225600,v1=45b40331de0325606dc5400202ade162460fbe48daf9401adfdcd0d7b4f35470";

        assert_eq!(sign("whsec_test", NOW, br#"{"id":"evt_1"}"#), expected);
    }

    #[test]
    fn verify_accepts_any_secret_and_any_v1_when_rotating() {
        let old = sign("whsec_old", NOW, b"body");
        let new = sign("whsec_new", NOW, b"body");
        let both = format!("{old},v1={},v0=abc", &new[new.len() - 64..]);

        assert_eq!(
            verify(&both, b"body", &secrets(&["whsec_new"]), NOW),
            Ok(NOW)
        );
        assert_eq!(
            verify(&old, b"body", &secrets(&["whsec_x", "whsec_old"]), NOW),
            Ok(NOW)
        );
    }

    #[test]
    fn verify_refuses_a_tampered_body_or_wrong_secret() {
        let header = sign("whsec_a", NOW, b"body");

        assert_eq!(
            verify(&header, b"bodY", &secrets(&["whsec_a"]), NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&header, b"body", &secrets(&["whsec_b"]), NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&header, b"body", &[], NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn verify_refuses_timestamps_beyond_300_seconds_either_way() {
        let s = secrets(&["k"]);

        assert_eq!(
            verify(&sign("k", NOW - 300, b"x"), b"x", &s, NOW),
            Ok(NOW - 300)
        );
        assert_eq!(
            verify(&sign("k", NOW - 301, b"x"), b"x", &s, NOW),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(&sign("k", NOW + 301, b"x"), b"x", &s, NOW),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn parse_refuses_malformed_headers() {
        let v1 = "a".repeat(64);
        for bad in [
            String::new(),
            "t=1".to_owned(),
            format!("v1={v1}"),
            format!("t=1,t=2,v1={v1}"),
            format!("t=-1,v1={v1}"),
            format!("t=+1,v1={v1}"),
            format!("t=1x,v1={v1}"),
            format!("t=1,v1={}", "a".repeat(63)),
            format!("t=1,v1={}", "g".repeat(64)),
            format!("t=1,v1={v1},junk"),
            format!("t=99999999999999999999,v1={v1}"),
            format!("t=1,{}", vec![format!("v1={v1}"); 17].join(",")),
            format!("t=1,v1={v1},x={}", "y".repeat(MAX_HEADER_BYTES)),
        ] {
            assert_eq!(
                SignatureHeader::parse(&bad),
                Err(SignatureError::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn parse_ignores_other_schemes_and_spaces() {
        let v1 = "0f".repeat(32);
        let parsed = SignatureHeader::parse(&format!("t=5, v0=zz, v1={v1}")).unwrap();

        assert_eq!(parsed.timestamp, 5);
        assert_eq!(parsed.signatures, vec![[0x0f; 32]]);
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn parse_never_panics_on_any_text(header in ".{0,300}") {
                let _ = SignatureHeader::parse(&header);
            }

            #[test]
            fn parse_round_trips_any_well_formed_header(
                t in 0i64..=i64::MAX,
                sigs in proptest::collection::vec(any::<[u8; 32]>(), 1..=16),
                extra in proptest::collection::vec(("v0|v2|x", "[a-z0-9]{0,10}"), 0..3),
            ) {
                let mut items = vec![format!("t={t}")];
                items.extend(sigs.iter().map(|s| format!("v1={}", hex::encode(s))));
                items.extend(extra.iter().map(|(k, v)| format!("{k}={v}")));
                let parsed = SignatureHeader::parse(&items.join(",")).unwrap();
                prop_assert_eq!(parsed.timestamp, t);
                prop_assert_eq!(parsed.signatures, sigs);
            }

            #[test]
            fn verify_refuses_any_changed_body_byte(
                body in proptest::collection::vec(any::<u8>(), 1..200),
                index in any::<prop::sample::Index>(),
                flip in 1u8..=255,
            ) {
                let header = sign("whsec_p", 1000, &body);
                let mut changed = body.clone();
                let i = index.index(changed.len());
                changed[i] ^= flip;
                prop_assert_eq!(verify(&header, &changed, &["whsec_p".to_owned()], 1000), Err(SignatureError::Mismatch));
                prop_assert_eq!(verify(&header, &body, &["whsec_p".to_owned()], 1000), Ok(1000));
            }
        }
    }
}

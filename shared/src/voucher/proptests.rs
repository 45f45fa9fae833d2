//! Property tests of vouchers (hub.md §7): any text is answered without a panic, any claims a hub
//! signs verify as themselves, and a change to any character of a voucher refuses it.

use libp2p::identity::ed25519;
use proptest::prelude::*;

use super::{AUDIENCE, Claims, Expected, VoucherError, sign, verify};
use crate::ids::Ed25519PeerId;

const B64U: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// Claims a hub signs, with hostile text in the free-form fields.
fn claims(hub: &ed25519::Keypair) -> impl Strategy<Value = Claims> + use<> {
    let iss = Ed25519PeerId::from(hub.public()).to_string();
    let sub = Ed25519PeerId::from(ed25519::Keypair::generate().public()).to_string();
    (
        "(?s).{0,40}",
        "(?s).{0,40}",
        "(?s).{0,12}",
        "(?s).{0,12}",
        0u64..3600,
        60u64..86_400 * 30,
        "[0-9a-f-]{0,36}",
    )
        .prop_map(move |(community, hub_url, tier, state, age, ttl, jti)| {
            let iat = now() - age;
            Claims {
                iss: iss.clone(),
                sub: sub.clone(),
                aud: AUDIENCE.to_owned(),
                community,
                hub_url,
                tier,
                state,
                iat,
                nbf: iat,
                exp: iat + ttl + 3600,
                jti,
            }
        })
}

fn signed() -> impl Strategy<Value = (Claims, String)> {
    let hub = ed25519::Keypair::generate();
    claims(&hub).prop_map(move |c| {
        let token = sign(&hub, &c).expect("claims encode");
        (c, token)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn verify_never_panics_on_any_text(text in prop_oneof![
        "(?s).{0,200}",
        "[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,200}\\.[A-Za-z0-9_-]{0,90}",
        (4000usize..6000).prop_map(|n| "a.".repeat(n / 2)),
    ]) {
        prop_assert!(verify(&text, &Expected::default()).is_err());
    }

    #[test]
    fn verify_never_panics_on_any_json_in_a_jws_shape(
        header in "(?s).{0,80}",
        payload in "(?s).{0,200}",
        sig in proptest::collection::vec(any::<u8>(), 0..80),
    ) {
        let b64 = crate::signing::b64u_encode;
        let token = format!("{}.{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()), b64(&sig));

        prop_assert!(verify(&token, &Expected::default()).is_err());
    }

    #[test]
    fn signed_claims_verify_as_themselves((claims, token) in signed()) {
        prop_assert_eq!(verify(&token, &Expected::default()), Ok(claims));
    }

    #[test]
    fn any_changed_character_refuses_the_voucher(
        (_, token) in signed(),
        at in any::<prop::sample::Index>(),
        replacement in prop::sample::select(B64U.to_vec()),
    ) {
        let mut bytes = token.clone().into_bytes();
        let i = at.index(bytes.len());
        prop_assume!(bytes[i] != b'.' && bytes[i] != replacement);
        bytes[i] = replacement;
        let changed = String::from_utf8(bytes).expect("ASCII");

        let outcome = verify(&changed, &Expected::default());

        prop_assert!(
            matches!(outcome, Err(VoucherError::Malformed | VoucherError::BadSignature)),
            "{outcome:?}"
        );
    }
}

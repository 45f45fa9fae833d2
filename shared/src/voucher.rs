//! Membership vouchers (hub.md §7): EdDSA JWTs signed with a hub's libp2p key. Anyone can verify a
//! voucher offline from the issuer's PeerId alone: the `kid` is the hub id, and an Ed25519 PeerId
//! carries its public key. [`verify`] is the one verification function every crate uses.

#[cfg(test)]
mod proptests;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use libp2p::identity::ed25519;
use serde::{Deserialize, Serialize};

use crate::ids::Ed25519PeerId;

/// The `aud` of every voucher: keeps vouchers apart from any other JWT.
pub const AUDIENCE: &str = "goop-membership";
/// Clock skew tolerated on `exp` and `nbf` (hub.md §7.3).
pub const LEEWAY_SECS: u64 = 60;
/// PKCS#8 v1 prefix of an Ed25519 private key (RFC 8410): the 32-byte seed follows.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The claims of a voucher (hub.md §7.1). Times are seconds (RFC 7519).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuing hub id.
    pub iss: String,
    /// Holder PeerId.
    pub sub: String,
    /// Always [`AUDIENCE`].
    pub aud: String,
    /// Community slug.
    pub community: String,
    /// The hub's normalized external URL.
    pub hub_url: String,
    /// `guest`, `member`, `paid` or `comped`.
    pub tier: String,
    /// `active`, `grace` or `lapsed`.
    pub state: String,
    /// Issued at.
    pub iat: u64,
    /// Not before.
    pub nbf: u64,
    /// Expires.
    pub exp: u64,
    /// Unique id (UUIDv7).
    pub jti: String,
}

/// What the verifier requires beyond a valid signature.
#[derive(Debug, Clone, Default)]
pub struct Expected<'a> {
    /// The authenticated party (libp2p remote or PeerSig signer) the voucher must name as `sub`.
    pub subject: Option<&'a Ed25519PeerId>,
    /// The community the voucher must be for.
    pub community: Option<&'a str>,
    /// The hub URL the voucher must be for.
    pub hub_url: Option<&'a str>,
    /// Issuers accepted; empty accepts any hub (the signature still has to match its id).
    pub issuers: &'a [Ed25519PeerId],
}

/// Why a voucher was refused; the names follow `/goop/hub/voucher/1.0.0` error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VoucherError {
    /// Not a compact JWS, or its header or claims do not parse.
    #[error("malformed")]
    Malformed,
    /// `alg` is not EdDSA, `kid`/`iss` is not an Ed25519 PeerId, or the signature does not verify.
    #[error("bad_signature")]
    BadSignature,
    /// The issuer is not one the verifier trusts.
    #[error("untrusted_issuer")]
    UntrustedIssuer,
    /// `sub` is not the authenticated party.
    #[error("wrong_subject")]
    WrongSubject,
    /// `aud`, `community` or `hub_url` is not the required one.
    #[error("wrong_audience")]
    WrongAudience,
    /// `exp` passed or `nbf` is in the future (beyond the leeway).
    #[error("expired")]
    Expired,
}

/// The `hub_url` form of a base URL (hub.md §7.1): lower-case scheme and host, default port
/// (80 for http, 443 for https) removed, path kept without a trailing `/`, no query or fragment.
pub fn normalize_hub_url(url: &str) -> String {
    let url = url.trim();
    let url = url.split(['?', '#']).next().unwrap_or("");
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.trim_end_matches('/').to_owned();
    };
    let scheme = scheme.to_ascii_lowercase();
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let mut authority = authority.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => Some(":80"),
        "https" => Some(":443"),
        _ => None,
    };
    if let Some(port) = default_port
        && authority.ends_with(port)
    {
        authority.truncate(authority.len() - port.len());
    }
    format!("{scheme}://{authority}{}", path.trim_end_matches('/'))
}

/// Signs `claims` as the hub whose key is `key`; `kid` is the hub id.
///
/// # Errors
/// [`VoucherError::Malformed`] if the claims cannot be encoded (not expected to happen).
pub fn sign(key: &ed25519::Keypair, claims: &Claims) -> Result<String, VoucherError> {
    let mut der = PKCS8_ED25519_PREFIX.to_vec();
    der.extend_from_slice(key.secret().as_ref());
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(Ed25519PeerId::from(key.public()).to_string());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(&der))
        .map_err(|_| VoucherError::Malformed)
}

/// Verifies a voucher offline (hub.md §7.3): EdDSA only, the key taken from the `kid` PeerId,
/// `iss` equal to `kid`, audience, time window with 60 s leeway, then `expected`.
///
/// # Errors
/// The first [`VoucherError`] that applies.
pub fn verify(token: &str, expected: &Expected<'_>) -> Result<Claims, VoucherError> {
    if token.len() > 4096 {
        return Err(VoucherError::Malformed);
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| VoucherError::Malformed)?;
    // Only EdDSA: `none` and every HMAC algorithm are refused before any key is chosen, so a
    // public key can never be misused as an HMAC secret (alg confusion).
    if header.alg != Algorithm::EdDSA {
        return Err(VoucherError::BadSignature);
    }
    let issuer: Ed25519PeerId = header
        .kid
        .as_deref()
        .and_then(|kid| kid.parse().ok())
        .ok_or(VoucherError::BadSignature)?;
    if !expected.issuers.is_empty() && !expected.issuers.contains(&issuer) {
        return Err(VoucherError::UntrustedIssuer);
    }
    let key = DecodingKey::from_ed_der(&issuer.public_key().to_bytes());
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.leeway = LEEWAY_SECS;
    validation.validate_nbf = true;
    validation.set_audience(&[AUDIENCE]);
    validation.set_issuer(&[issuer.to_string()]);
    validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "sub", "aud"]);
    let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature
            | jsonwebtoken::errors::ErrorKind::ImmatureSignature => VoucherError::Expired,
            jsonwebtoken::errors::ErrorKind::InvalidAudience => VoucherError::WrongAudience,
            jsonwebtoken::errors::ErrorKind::InvalidSignature
            | jsonwebtoken::errors::ErrorKind::InvalidIssuer
            | jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => VoucherError::BadSignature,
            _ => VoucherError::Malformed,
        })?
        .claims;
    if let Some(subject) = expected.subject
        && claims.sub != subject.to_string()
    {
        return Err(VoucherError::WrongSubject);
    }
    let other = |want: Option<&str>, got: &str| want.is_some_and(|w| w != got);
    if other(expected.community, &claims.community) || other(expected.hub_url, &claims.hub_url) {
        return Err(VoucherError::WrongAudience);
    }
    Ok(claims)
}

/// The JWK of a hub key (hub.md §2 rule 4), for `/.well-known/jwks.json`.
pub fn jwk(key: &ed25519::PublicKey) -> serde_json::Value {
    serde_json::json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "x": crate::signing::b64u_encode(&key.to_bytes()),
        "kid": Ed25519PeerId::from(key.clone()).to_string(),
        "alg": "EdDSA",
        "use": "sig",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_url_is_normalized_when_written_differently() {
        assert_eq!(
            normalize_hub_url("HTTPS://Hub.Example.org:443/Base/?q=1#x"),
            "https://hub.example.org/Base"
        );
        assert_eq!(
            normalize_hub_url("http://127.0.0.1:8787/"),
            "http://127.0.0.1:8787"
        );
        assert_eq!(normalize_hub_url("http://h.example:80"), "http://h.example");
        assert_eq!(
            normalize_hub_url("https://h.example:4443"),
            "https://h.example:4443"
        );
    }

    const NOW: u64 = 1_767_225_600;

    fn claims(hub: &ed25519::Keypair, holder: &Ed25519PeerId) -> Claims {
        Claims {
            iss: Ed25519PeerId::from(hub.public()).to_string(),
            sub: holder.to_string(),
            aud: AUDIENCE.to_owned(),
            community: "go-developers".to_owned(),
            hub_url: "https://hub.example.org".to_owned(),
            tier: "member".to_owned(),
            state: "active".to_owned(),
            iat: now(),
            nbf: now(),
            exp: now() + 86_400,
            jti: "0190b6a8-0000-7000-8000-000000000000".to_owned(),
        }
    }

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    fn holder() -> Ed25519PeerId {
        ed25519::Keypair::generate().public().into()
    }

    fn forge(header: &str, claims: &Claims, signature: &[u8]) -> String {
        let b64 = crate::signing::b64u_encode;
        format!(
            "{}.{}.{}",
            b64(header.as_bytes()),
            b64(serde_json::to_string(claims).unwrap().as_bytes()),
            b64(signature)
        )
    }

    #[test]
    fn voucher_round_trips_when_signed_with_a_libp2p_key() {
        let hub = ed25519::Keypair::generate();
        let sub = holder();
        let token = sign(&hub, &claims(&hub, &sub)).unwrap();

        let verified = verify(
            &token,
            &Expected {
                subject: Some(&sub),
                community: Some("go-developers"),
                ..Expected::default()
            },
        )
        .unwrap();

        assert_eq!(verified, claims(&hub, &sub));
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::EdDSA);
        assert_eq!(
            header.kid.unwrap(),
            Ed25519PeerId::from(hub.public()).to_string()
        );
    }

    #[test]
    fn voucher_is_refused_when_alg_is_hs256_signed_with_the_public_key() {
        let hub = ed25519::Keypair::generate();
        let kid = Ed25519PeerId::from(hub.public());
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.to_string());
        let confused = jsonwebtoken::encode(
            &header,
            &claims(&hub, &holder()),
            &EncodingKey::from_secret(&hub.public().to_bytes()),
        )
        .unwrap();

        assert_eq!(
            verify(&confused, &Expected::default()),
            Err(VoucherError::BadSignature)
        );
    }

    #[test]
    fn voucher_is_refused_when_alg_is_none() {
        let hub = ed25519::Keypair::generate();
        let kid = Ed25519PeerId::from(hub.public());
        let token = forge(
            &format!(r#"{{"alg":"none","typ":"JWT","kid":"{kid}"}}"#),
            &claims(&hub, &holder()),
            b"",
        );

        assert!(verify(&token, &Expected::default()).is_err());
    }

    #[test]
    fn voucher_is_refused_when_one_claim_is_changed_after_signing() {
        let hub = ed25519::Keypair::generate();
        let token = sign(&hub, &claims(&hub, &holder())).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let mut changed = claims(&hub, &holder());
        changed.tier = "paid".to_owned();
        let payload =
            crate::signing::b64u_encode(serde_json::to_string(&changed).unwrap().as_bytes());
        let tampered = format!("{}.{payload}.{}", parts[0], parts[2]);

        assert_eq!(
            verify(&tampered, &Expected::default()),
            Err(VoucherError::BadSignature)
        );
    }

    #[test]
    fn voucher_is_refused_when_signed_by_another_key_than_its_kid() {
        let (hub, mallory) = (ed25519::Keypair::generate(), ed25519::Keypair::generate());
        let mut claims = claims(&hub, &holder());
        claims.iss = Ed25519PeerId::from(hub.public()).to_string();
        let mut der = PKCS8_ED25519_PREFIX.to_vec();
        der.extend_from_slice(mallory.secret().as_ref());
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(Ed25519PeerId::from(hub.public()).to_string());
        let forged =
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(&der)).unwrap();

        assert_eq!(
            verify(&forged, &Expected::default()),
            Err(VoucherError::BadSignature)
        );
    }

    #[test]
    fn voucher_is_refused_for_wrong_audience_subject_community_issuer_or_time() {
        let hub = ed25519::Keypair::generate();
        let sub = holder();
        let with = |change: fn(&mut Claims)| {
            let mut c = claims(&hub, &sub);
            change(&mut c);
            sign(&hub, &c).unwrap()
        };
        let good = sign(&hub, &claims(&hub, &sub)).unwrap();
        let other = holder();
        let stranger: Ed25519PeerId = ed25519::Keypair::generate().public().into();

        assert_eq!(
            verify(&with(|c| c.aud = "other".into()), &Expected::default()),
            Err(VoucherError::WrongAudience)
        );
        assert_eq!(
            verify(&with(|c| c.exp = NOW - 3600), &Expected::default()),
            Err(VoucherError::Expired)
        );
        assert_eq!(
            verify(&with(|c| c.nbf = u64::MAX / 2), &Expected::default()),
            Err(VoucherError::Expired)
        );
        assert_eq!(
            verify(
                &with(|c| c.iss = "someone-else".into()),
                &Expected::default()
            ),
            Err(VoucherError::BadSignature)
        );
        assert_eq!(
            verify(
                &good,
                &Expected {
                    subject: Some(&other),
                    ..Expected::default()
                }
            ),
            Err(VoucherError::WrongSubject)
        );
        assert_eq!(
            verify(
                &good,
                &Expected {
                    community: Some("rust"),
                    ..Expected::default()
                }
            ),
            Err(VoucherError::WrongAudience)
        );
        assert_eq!(
            verify(
                &good,
                &Expected {
                    issuers: &[stranger],
                    ..Expected::default()
                }
            ),
            Err(VoucherError::UntrustedIssuer)
        );
    }

    #[test]
    fn voucher_is_malformed_when_garbage_or_oversized() {
        for bad in ["", "a.b", "a.b.c.d", "!!!.???.###", &"a".repeat(5000)] {
            assert!(verify(bad, &Expected::default()).is_err(), "{bad:.20}");
        }
    }

    #[test]
    fn jwk_names_the_hub_and_carries_its_raw_public_key() {
        let hub = ed25519::Keypair::generate();

        let jwk = jwk(&hub.public());

        assert_eq!(jwk["kid"], Ed25519PeerId::from(hub.public()).to_string());
        assert_eq!(
            crate::signing::b64u_decode(jwk["x"].as_str().unwrap()).unwrap(),
            hub.public().to_bytes()
        );
        assert_eq!(jwk["alg"], "EdDSA");
    }
}

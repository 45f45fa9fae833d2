//! The code of a voucher that [`shared::voucher::verify`] found expired (peer.md §3.7: the
//! first failing row decides, and audience, holder and issuer rows come before time).

use base64::Engine as _;
use shared::ids::Ed25519PeerId;
use shared::voucher::Claims;

use super::VoucherRefusal;

/// The code of a voucher [`shared::voucher::verify`] found expired. Its signature did verify
/// (time is checked after it), but audience, holder and issuer are checked after time, and
/// they come first in peer.md §3.7: a mismatch there makes the voucher invalid, not expired.
pub(super) fn expired_or_invalid(jwt: &str, subject: &Ed25519PeerId) -> VoucherRefusal {
    let part = |i: usize| -> Option<serde_json::Value> {
        let text = jwt.split('.').nth(i)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()?;
        serde_json::from_slice(&bytes).ok()
    };
    let (Some(header), Some(claims)) = (part(0), part(1)) else {
        return VoucherRefusal::Invalid;
    };
    let Ok(claims) = serde_json::from_value::<Claims>(claims) else {
        return VoucherRefusal::Invalid;
    };
    let kid = header.get("kid").and_then(serde_json::Value::as_str);
    if claims.aud != shared::voucher::AUDIENCE
        || claims.sub != subject.to_string()
        || kid != Some(claims.iss.as_str())
    {
        return VoucherRefusal::Invalid;
    }
    VoucherRefusal::Expired
}

#[cfg(test)]
mod tests {
    use super::*;
    use libp2p::identity::ed25519;
    use shared::voucher::{Expected, VoucherError};

    fn expired(change: impl FnOnce(&mut Claims)) -> (String, Ed25519PeerId) {
        let hub = ed25519::Keypair::generate();
        let holder: Ed25519PeerId = ed25519::Keypair::generate().public().into();
        let mut claims = Claims {
            iss: Ed25519PeerId::from(hub.public()).to_string(),
            sub: holder.to_string(),
            aud: shared::voucher::AUDIENCE.to_owned(),
            community: "c".to_owned(),
            hub_url: "http://h".to_owned(),
            tier: "member".to_owned(),
            state: "active".to_owned(),
            iat: 1_000_000,
            nbf: 1_000_000,
            exp: 1_000_100,
            jti: "j".to_owned(),
        };
        change(&mut claims);
        (shared::voucher::sign(&hub, &claims).unwrap(), holder)
    }

    #[test]
    fn an_expired_voucher_is_invalid_when_its_holder_or_audience_is_wrong() {
        let (token, holder) = expired(|_| {});
        let stranger: Ed25519PeerId = ed25519::Keypair::generate().public().into();
        let check = |token: &str, who: &Ed25519PeerId| {
            assert_eq!(
                shared::voucher::verify(token, &Expected::default()),
                Err(VoucherError::Expired)
            );
            expired_or_invalid(token, who)
        };

        assert_eq!(check(&token, &holder), VoucherRefusal::Expired);
        assert_eq!(check(&token, &stranger), VoucherRefusal::Invalid);
        let (other_aud, holder) = expired(|c| c.aud = "other".to_owned());
        assert_eq!(check(&other_aud, &holder), VoucherRefusal::Invalid);
        let (other_iss, holder) = expired(|c| c.iss = stranger.to_string());
        assert_eq!(check(&other_iss, &holder), VoucherRefusal::Invalid);
    }
}

//! Who subscribes to presence (hub.md §5.5): the credential table of `GET /events`, the
//! WebSocket and the encryption-key route — admin token, PeerSig, voucher, member session, or
//! the community's unsigned and public-read defaults.

use axum::http::HeaderMap;
use shared::error_code::ErrorCode;

use super::super::cookie::session_cookie;
use super::super::{ApiError, ApiResult};
use super::{Bearer, admin_gate, bearer, bearer_token};
use crate::presence::Class;
use crate::state::AppState;
use crate::utc::now_ms;

/// The authorization table of hub.md §5.5: the first matching credential decides; a credential
/// that is present but invalid is refused, never treated as absent. The PeerId returned is the
/// identity whose loss of entitlement ends the stream. A bearer value that is neither the admin
/// token nor a voucher is charged to `ip`'s `admin_fail_ip` budget.
pub(crate) async fn subscriber_class(
    state: &AppState,
    headers: &HeaderMap,
    ip: std::net::IpAddr,
    method: &str,
    target: &str,
    voucher: Option<&str>,
) -> ApiResult<(Class, Option<libp2p::PeerId>)> {
    match bearer(&state.config, headers) {
        Bearer::Absent => {}
        Bearer::Other => {
            return match bearer_token(headers).filter(|t| t.split('.').count() == 3) {
                Some(jwt) => voucher_class(state, jwt),
                // A wrong admin token costs here as on the admin API (hub.md §13.2).
                None => admin_gate(state, ip, &Bearer::Other).map(|()| (Class::Admin, None)),
            };
        }
        admin => return admin_gate(state, ip, &admin).map(|()| (Class::Admin, None)),
    }
    if let Some(signer) = state
        .peer_sig
        .verify(headers, method, target, b"", ip, now_ms())?
    {
        let peer = signer.peer_id();
        if !state.entitlements.rights(&peer).presence {
            return Err(ApiError::Forbidden(state.entitlements.refusal(&peer)));
        }
        return Ok((Class::Participant, Some(peer)));
    }
    if let Some(jwt) = voucher {
        return voucher_class(state, jwt);
    }
    if let Some(cookie) = session_cookie(headers) {
        return session_class(state, cookie).await;
    }
    if state.config.presence.allow_unsigned {
        Ok((Class::Participant, None))
    } else if state.config.presence.public_read {
        Ok((Class::Public, None))
    } else {
        Err(ApiError::Unauthorized(ErrorCode::Unauthorized))
    }
}

/// Rule 3: a voucher of this hub, valid (§7.3), not revoked, its holder entitled now.
fn voucher_class(state: &AppState, jwt: &str) -> ApiResult<(Class, Option<libp2p::PeerId>)> {
    let issuers = [state.hub_id];
    let hub_url = shared::voucher::normalize_hub_url(state.membership.external_url());
    let expected = shared::voucher::Expected {
        community: Some(state.config.hub.slug.as_str()),
        hub_url: Some(&hub_url),
        issuers: &issuers,
        ..shared::voucher::Expected::default()
    };
    let claims = shared::voucher::verify(jwt, &expected)
        .map_err(|_| ApiError::Unauthorized(ErrorCode::InvalidVoucher))?;
    let peer: libp2p::PeerId = claims
        .sub
        .parse()
        .map_err(|_| ApiError::Unauthorized(ErrorCode::InvalidVoucher))?;
    if state.entitlements.is_revoked(&peer, claims.iat) {
        return Err(ApiError::Unauthorized(ErrorCode::InvalidVoucher));
    }
    if !state.entitlements.rights(&peer).presence {
        return Err(ApiError::Forbidden(state.entitlements.refusal(&peer)));
    }
    Ok((Class::Participant, Some(peer)))
}

/// Rule 4: a member session of an entitled account. The stream is tied to the account's first
/// entitled peer, so it ends when that peer loses presence; an account without an entitled
/// peer is refused with the code of its first peer.
async fn session_class(
    state: &AppState,
    cookie: &str,
) -> ApiResult<(Class, Option<libp2p::PeerId>)> {
    let account = state
        .membership
        .session_account(cookie)
        .await?
        .ok_or(ApiError::Unauthorized(ErrorCode::Unauthorized))?;
    let peers: Vec<libp2p::PeerId> = state
        .membership
        .peers_of(&account)
        .await?
        .iter()
        .filter_map(|b| b.peer_id.parse().ok())
        .collect();
    match peers.iter().find(|p| state.entitlements.rights(p).presence) {
        Some(peer) => Ok((Class::Participant, Some(*peer))),
        None => Err(ApiError::Forbidden(
            peers
                .first()
                .map_or(ErrorCode::NotMember, |p| state.entitlements.refusal(p)),
        )),
    }
}

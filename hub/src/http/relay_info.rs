//! goop2's auxiliary routes: `GET /relay` (relay parameters for clients),
//! `GET /api/capabilities` and `POST /api/pulse` (hub.md §5.9).

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{OriginalUri, Query, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::AsyncReadExt as _;
use serde::{Deserialize, Serialize};
use shared::ids::{Ed25519PeerId, ParsePeerIdError};

use shared::error_code::ErrorCode;

use super::extract::ClientIp;
use crate::utc::now_ms;

use super::{ApiError, ApiResult};
use crate::config::JoinMode;
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/relay", get(get_relay))
        .route("/api/capabilities", get(get_capabilities))
        .route("/api/pulse", post(pulse))
}

/// goop2's keys, snake_case (hub.md §5.9).
#[derive(Serialize)]
struct RelayInfo {
    peer_id: String,
    addrs: Vec<String>,
    cleanup_delay_sec: u64,
    poll_deadline_sec: u64,
    connect_timeout_sec: u64,
    refresh_interval_sec: u64,
    recovery_grace_sec: u64,
}

async fn get_relay(State(state): State<AppState>) -> ApiResult<Json<RelayInfo>> {
    let relay = &state.config.relay;
    if !relay.enabled {
        return Err(ApiError::NotFound(ErrorCode::RelayDisabled));
    }
    Ok(Json(RelayInfo {
        peer_id: state.hub_id.to_string(),
        addrs: state.info.multiaddrs.clone(),
        cleanup_delay_sec: relay.hint_cleanup_delay_sec,
        poll_deadline_sec: relay.hint_poll_deadline_sec,
        connect_timeout_sec: relay.hint_connect_timeout_sec,
        refresh_interval_sec: relay.hint_refresh_interval_sec,
        recovery_grace_sec: relay.hint_recovery_grace_sec,
    }))
}

/// Every value is a boolean: goop2 viewers read them as such.
#[derive(Serialize)]
struct Capabilities {
    encryption: bool,
    registration: bool,
    credits: bool,
    templates: bool,
    bridge: bool,
    relay: bool,
    signed_presence: bool,
    vouchers: bool,
    rendezvous: bool,
    billing: bool,
}

async fn get_capabilities(State(state): State<AppState>) -> Json<Capabilities> {
    let config = &state.config;
    Json(Capabilities {
        encryption: false,
        registration: config.membership.join_mode != JoinMode::Open,
        credits: false,
        templates: false,
        bridge: false,
        relay: config.relay.enabled,
        signed_presence: true,
        vouchers: true,
        rendezvous: config.rendezvous.enabled,
        billing: state.billing.is_some(),
    })
}

/// Pulse deadline and the largest answer read.
const PULSE_TIMEOUT: Duration = Duration::from_secs(3);
const PULSE_MAX_BYTES: u64 = 4 * 1024;

#[derive(Debug, Deserialize)]
struct PulseQuery {
    peer: Option<String>,
}

/// `POST /api/pulse?peer=<id>`: asks a connected peer, over `/goop/relay-refresh/1.0.0`, to
/// refresh its relay reservation, and returns its JSON answer.
async fn pulse(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    query: Result<Query<PulseQuery>, axum::extract::rejection::QueryRejection>,
    body: Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    if !state.config.relay.enabled {
        return Err(ApiError::NotFound(ErrorCode::RelayDisabled));
    }
    state.limits.publish_ip.check(ip, Instant::now())?;
    let target = uri.path_and_query().map_or("/api/pulse", |p| p.as_str());
    match state
        .peer_sig
        .verify(&headers, "POST", target, &body, ip, now_ms())?
    {
        Some(signer) if !state.entitlements.rights(&signer.peer_id()).presence => {
            return Err(ApiError::Forbidden(
                state.entitlements.refusal(&signer.peer_id()),
            ));
        }
        Some(_) => {}
        None if state.config.presence.allow_unsigned => {}
        None => return Err(ApiError::Unauthorized(ErrorCode::SignatureRequired)),
    }
    let peer: Ed25519PeerId = match query.ok().and_then(|q| q.0.peer).as_deref().map(str::parse) {
        Some(Ok(peer)) => peer,
        Some(Err(ParsePeerIdError::NotEd25519)) => {
            return Err(ApiError::BadRequest {
                code: ErrorCode::UnsupportedPeerId,
                field: Some("peer"),
                message: "peer is not an Ed25519 PeerId".to_owned(),
            });
        }
        _ => {
            return Err(ApiError::BadRequest {
                code: ErrorCode::InvalidField,
                field: Some("peer"),
                message: "peer: a PeerId is required".to_owned(),
            });
        }
    };
    if state.network.is_connected(peer.peer_id()).await != Some(true) {
        return Err(ApiError::NotFound(ErrorCode::NotFound));
    }
    let ask = async {
        let stream = state
            .network
            .open_stream(peer.peer_id(), shared::protocol::RELAY_REFRESH)
            .await
            .ok()?;
        let mut answer = Vec::new();
        stream
            .take(PULSE_MAX_BYTES)
            .read_to_end(&mut answer)
            .await
            .ok()?;
        serde_json::from_slice::<serde_json::Value>(&answer).ok()
    };
    match tokio::time::timeout(PULSE_TIMEOUT, ask).await {
        Ok(Some(answer)) => Ok(Json(answer)),
        _ => Err(ApiError::Upstream(
            "the peer did not answer the relay refresh",
        )),
    }
}

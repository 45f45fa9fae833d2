//! goop2's auxiliary routes: `GET /relay` (relay parameters for clients) and
//! `GET /api/capabilities` (hub.md §5.9).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::{ApiError, ApiResult};
use crate::config::JoinMode;
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/relay", get(get_relay))
        .route("/api/capabilities", get(get_capabilities))
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
        return Err(ApiError::NotFound("relay_disabled"));
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
        vouchers: false,
        rendezvous: config.rendezvous.enabled,
        billing: false,
    })
}

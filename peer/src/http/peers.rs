//! The peer table over HTTP (peer.md §11.3): `GET /api/peers?hub=&online=`,
//! `POST /api/peers/favorite {peer_id,favorite}`, `POST /api/peers/block {peer_id,blocked}`,
//! `POST /api/peers/probe {peer_id}`.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use libp2p::PeerId;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ApiJson, ApiResult, parse_peer_id};
use crate::content::ProbeError;
use crate::dial::DialError;
use crate::hub_url::HubUrl;
use crate::node::Node;
use crate::peers::PeerView;

/// The routes.
pub(crate) fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/api/peers", get(list))
        .route("/api/peers/favorite", post(favorite))
        .route("/api/peers/block", post(block))
        .route("/api/peers/probe", post(probe))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    hub: Option<String>,
    online: Option<String>,
}

async fn list(
    State(node): State<Arc<Node>>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<PeerView>>> {
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_field", e.body_text()))?;
    let hub = match query.hub.as_deref().filter(|h| !h.is_empty()) {
        Some(raw) => Some(
            HubUrl::parse(raw)
                .map_err(|e| ApiError::bad_request("invalid_field", format!("hub: {e}")))?,
        ),
        None => None,
    };
    let online = match query.online.as_deref() {
        None | Some("" | "false" | "0") => false,
        Some("true" | "1") => true,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_field",
                "online: true or false",
            ));
        }
    };
    Ok(Json(node.peers.list(hub.as_ref(), online)))
}

#[derive(Debug, Deserialize)]
struct FavoriteRequest {
    peer_id: String,
    favorite: bool,
}

async fn favorite(
    State(node): State<Arc<Node>>,
    ApiJson(request): ApiJson<FavoriteRequest>,
) -> ApiResult<Json<Value>> {
    let value = request.favorite;
    set_flag(&request.peer_id, "favorite", value, |peer| {
        node.peers.get(peer).is_some() && node.peers.set_favorite(peer, value, node.clock.now_ms())
    })
}

#[derive(Debug, Deserialize)]
struct BlockRequest {
    peer_id: String,
    blocked: bool,
}

async fn block(
    State(node): State<Arc<Node>>,
    ApiJson(request): ApiJson<BlockRequest>,
) -> ApiResult<Json<Value>> {
    let value = request.blocked;
    set_flag(&request.peer_id, "blocked", value, |peer| {
        node.peers.get(peer).is_some() && node.peers.set_blocked(peer, value, node.clock.now_ms())
    })
}

#[derive(Debug, Deserialize)]
struct ProbeRequest {
    peer_id: String,
}

/// A content probe on demand (peer.md §4.1): `{reachable, label?}`; a peer that opened the
/// stream but sent no valid line is reachable without a label.
async fn probe(
    State(node): State<Arc<Node>>,
    ApiJson(request): ApiJson<ProbeRequest>,
) -> ApiResult<Json<Value>> {
    let peer = parse_peer_id(&request.peer_id)?;
    match crate::content::probe(&node, peer).await {
        Ok(label) => Ok(Json(json!({ "reachable": true, "label": label }))),
        Err(ProbeError::Dial(DialError::Stopped)) => Err(ApiError::unavailable(
            "shutting_down",
            "the peer is shutting down",
        )),
        Err(error) => {
            tracing::debug!(%peer, %error, "probe on request failed");
            Ok(Json(json!({ "reachable": error.opened() })))
        }
    }
}

/// Parses `peer_id` and sets `flag` with `set`, which says whether the peer is known.
fn set_flag(
    peer_id: &str,
    flag: &'static str,
    value: bool,
    set: impl FnOnce(&PeerId) -> bool,
) -> ApiResult<Json<Value>> {
    let peer = parse_peer_id(peer_id)?;
    if !set(&peer) {
        return Err(unknown_peer());
    }
    tracing::info!(%peer, flag, value, "peer flag changed");
    Ok(Json(json!({ "ok": true })))
}

fn unknown_peer() -> ApiError {
    ApiError::not_found("unknown_peer", "no such peer in the peer table")
}

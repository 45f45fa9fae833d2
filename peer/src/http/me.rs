//! `GET /api/self` (peer.md §11.3): who this peer is, where it listens, and its hubs.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::{ApiError, ApiResult};
use crate::node::Node;
use crate::p2p::Reachability;

/// The route.
pub(crate) fn routes() -> Router<Arc<Node>> {
    Router::new().route("/api/self", get(show))
}

/// `GET /api/self`.
#[derive(Debug, Serialize)]
struct SelfView {
    id: String,
    label: String,
    email: String,
    avatar_hash: String,
    client_version: String,
    addrs: Vec<String>,
    reachability: Reachability,
    hubs: Vec<HubSummary>,
}

/// One hub of `GET /api/self`.
#[derive(Debug, Serialize)]
struct HubSummary {
    url: String,
    state: String,
    membership: Option<String>,
    relay: String,
}

async fn show(State(node): State<Arc<Node>>) -> ApiResult<Json<SelfView>> {
    let status = node
        .net
        .status()
        .await
        .map_err(|e| ApiError::unavailable("stopping", e.to_string()))?;
    let mut addrs: Vec<String> = Vec::new();
    for addr in status.external_addrs.iter().chain(&status.listen_addrs) {
        let addr = addr.to_string();
        if !addrs.contains(&addr) {
            addrs.push(addr);
        }
    }
    let hubs = node
        .hubs
        .list()
        .into_iter()
        .map(|hub| HubSummary {
            url: hub.url.to_string(),
            state: hub.state,
            membership: hub.membership,
            relay: hub.relay_state,
        })
        .collect();
    let profile = &node.config.profile;
    Ok(Json(SelfView {
        id: node.peer_id.to_base58(),
        label: profile.label.clone(),
        email: profile.email.clone(),
        avatar_hash: String::new(),
        client_version: shared::protocol::agent_version(crate::SOFTWARE),
        addrs,
        reachability: status.reachability.unwrap_or(Reachability::Unknown),
        hubs,
    }))
}

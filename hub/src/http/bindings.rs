//! Bindings (hub.md §6.9): bind codes (`POST /api/v1/me/bind-codes`) and the account's bound
//! peers (`/api/v1/peers`: list, bind with a code, unbind).

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use shared::error_code::ErrorCode;

use super::body::{body_bytes, json_body};
use super::extract::Caller;
use super::{ApiError, ApiResult};
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/me/bind-codes", post(create_bind_code))
        .route("/api/v1/peers", get(list_peers).post(bind_peer))
        .route("/api/v1/peers/{peer_id}", delete(unbind_peer))
}

/// `POST /api/v1/me/bind-codes`: a code another device binds with.
async fn create_bind_code(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    state.limits.bind_ip.check(caller.ip, Instant::now())?;
    let body = body_bytes(body)?;
    let account = caller.account(&state, &body).await?;
    let (code, expires_at) = state.membership.create_bind_code(&account).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"code": code, "expires_at": expires_at})),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
struct BindBody {
    bind_code: String,
    label: Option<String>,
}

/// `POST /api/v1/peers` (PeerSig of the new peer): binds it with a bind code.
async fn bind_peer(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    state.limits.bind_ip.check(caller.ip, Instant::now())?;
    let body = body_bytes(body)?;
    let request: BindBody = json_body(&caller.headers, &body)?;
    let proof = caller
        .proof(&state, &body)?
        .ok_or(ApiError::Unauthorized(ErrorCode::SignatureRequired))?;
    let (account_id, standing) = state
        .membership
        .bind_with_code(&proof, &request.bind_code, request.label.as_deref())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "account_id": account_id,
            "peer_id": proof.peer.to_string(),
            "state": standing.state,
            "tier": standing.tier,
        })),
    )
        .into_response())
}

/// `GET /api/v1/peers`: the account's bound peers.
async fn list_peers(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let account = caller.account(&state, &[]).await?;
    let peers = state.membership.peers_of(&account).await?;
    let peers: Vec<_> = peers
        .iter()
        .map(|b| {
            json!({
                "peer_id": b.peer_id,
                "label": b.label,
                "bound_at": b.bound_at,
                "bound_via": b.bound_via,
                "online": b.peer_id.parse().is_ok_and(|p| state.presence.is_live(&p)),
            })
        })
        .collect();
    Ok(Json(json!({ "peers": peers })).into_response())
}

/// `DELETE /api/v1/peers/{peer_id}`: unbinds a peer of the caller's account.
async fn unbind_peer(
    State(state): State<AppState>,
    caller: Caller,
    Path(peer_id): Path<String>,
) -> ApiResult<StatusCode> {
    let account = caller.account(&state, &[]).await?;
    state.membership.unbind(&account, &peer_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

//! Vouchers (hub.md §7): `POST /api/v1/vouchers` issues one to a bound peer, `GET
//! /api/v1/vouchers/revocations` lists revocations since a time.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use shared::error_code::ErrorCode;

use super::body::body_bytes;
use super::extract::Caller;
use super::{ApiError, ApiResult};
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/vouchers", post(issue_voucher))
        .route("/api/v1/vouchers/revocations", get(revocations))
}

/// Revocations answered per request at most; clients page with `since`.
const MAX_REVOCATIONS: i64 = 10_000;

/// `POST /api/v1/vouchers` (PeerSig of a bound peer).
async fn issue_voucher(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body = body_bytes(body)?;
    let proof = caller
        .proof(&state, &body)?
        .ok_or(ApiError::Unauthorized(ErrorCode::SignatureRequired))?;
    let peer = proof.peer.peer_id();
    state.limits.voucher_peer.check(peer, Instant::now())?;
    let issued = state.membership.issue_voucher(&peer).await?;
    Ok((StatusCode::CREATED, Json(issued)).into_response())
}

#[derive(Debug, Deserialize)]
struct SinceQuery {
    since: Option<i64>,
}

/// `GET /api/v1/vouchers/revocations?since=<ms>`.
async fn revocations(
    State(state): State<AppState>,
    Query(query): Query<SinceQuery>,
) -> ApiResult<Response> {
    let now = crate::utc::now_ms();
    let list = state
        .store
        .list_revocations(query.since.unwrap_or(0), MAX_REVOCATIONS)
        .await?;
    let list: Vec<_> = list
        .iter()
        .map(|r| json!({"peer_id": r.peer_id, "revoked_before": r.revoked_before}))
        .collect();
    Ok(Json(json!({"revocations": list, "now": now})).into_response())
}

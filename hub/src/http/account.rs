//! The caller's account (hub.md §6.10): `GET /api/v1/membership` for a signed peer, `GET
//! /api/v1/me` (the account document) and `POST /api/v1/me/email`.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use shared::error_code::ErrorCode;

use super::body::{body_bytes, email_request};
use super::extract::Caller;
use super::{ApiError, ApiResult};
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/membership", get(membership))
        .route("/api/v1/me", get(me))
        .route("/api/v1/me/email", post(change_email))
}

/// `GET /api/v1/membership` (PeerSig): the signer's membership.
async fn membership(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let proof = caller
        .proof(&state, &[])?
        .ok_or(ApiError::Unauthorized(ErrorCode::SignatureRequired))?;
    let view = state
        .membership
        .membership_of(&proof.peer.peer_id())
        .await?;
    Ok(Json(view).into_response())
}

/// `GET /api/v1/me`: the account document.
async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let account = caller.account(&state, &[]).await?;
    let presence = state.presence.clone();
    let document = state
        .membership
        .account_document(&account, |peer| {
            peer.parse().is_ok_and(|p| presence.is_live(&p))
        })
        .await?;
    Ok(Json(document).into_response())
}

/// `POST /api/v1/me/email`: a `change_email` link to the new address; an account that has an
/// address changes it only from a browser session (hub.md §6.10).
async fn change_email(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<StatusCode> {
    let body = body_bytes(body)?;
    let (account, by_session) = caller.account_and_session(&state, &body).await?;
    let email = email_request(&state, &caller, &body)?;
    state
        .membership
        .request_email_change(&account, &email, &caller.ip.to_string(), by_session)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

//! Email links (hub.md §6.8): `GET`/`POST /api/v1/verify` inspect and consume one (setting the
//! session cookie), `POST /api/v1/verify/resend` sends a join link again.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::ApiResult;
use super::body::{body_bytes, email_request, json_body};
use super::cookie::session_set_cookie;
use super::extract::Caller;
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/verify", get(inspect).post(verify))
        .route("/api/v1/verify/resend", post(resend))
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// `GET /api/v1/verify?token=`: what the token is for; never consumes it.
async fn inspect(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<TokenQuery>,
) -> ApiResult<Response> {
    state.limits.verify_ip.check(caller.ip, Instant::now())?;
    let token = query.token.unwrap_or_default();
    let info = state.membership.inspect_token(&token).await?;
    Ok(Json(info).into_response())
}

#[derive(Debug, Deserialize)]
struct TokenBody {
    token: String,
    /// Whether a join link adds its device: `true` asks for it; absent adds it only when this link
    /// verifies the account's address for the first time (hub.md §6.8 rule 8).
    bind: Option<bool>,
}

/// `POST /api/v1/verify`: consumes the token; sets the session cookie.
async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    state.limits.verify_ip.check(caller.ip, Instant::now())?;
    let body = body_bytes(body)?;
    let TokenBody { token, bind } = json_body(&caller.headers, &body)?;
    let verified = state
        .membership
        .verify(&token, &caller.ip.to_string(), caller.user_agent(), bind)
        .await?;
    let mut response = Json(json!({
        "purpose": verified.purpose,
        "account_id": verified.account_id,
        "state": verified.state,
        "tier": verified.tier,
        "bound_peer": verified.bound_peer,
    }))
    .into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_set_cookie(&state, &verified.session),
    );
    Ok(response)
}

/// `POST /api/v1/verify/resend`: 202 whatever the address (§6.8 rule 6).
async fn resend(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<StatusCode> {
    let body = body_bytes(body)?;
    let email = email_request(&state, &caller, &body)?;
    state.membership.resend(&email).await?;
    Ok(StatusCode::ACCEPTED)
}

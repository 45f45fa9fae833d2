//! The membership JSON API (hub.md §6.10): join, verification, sessions, the membership view, the
//! account document, bind codes, bound peers and vouchers. Handlers check rate limits and
//! authentication; the flows live in [`crate::membership`].

use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::Deserialize;
use serde_json::json;

use shared::error_code::ErrorCode;

use super::session::{Caller, body_bytes, json_body, session_clear_cookie, session_set_cookie};
use super::{ApiError, ApiResult};
use crate::membership::{JoinOutcome, JoinRequest, email_field};
use crate::state::AppState;

/// Revocations answered per request at most; clients page with `since`.
const MAX_REVOCATIONS: i64 = 10_000;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/join", post(join))
        .route("/api/v1/verify", get(inspect).post(verify))
        .route("/api/v1/verify/resend", post(resend))
        .route("/api/v1/login", post(login))
        .route("/api/v1/logout", post(logout))
        .route("/api/v1/membership", get(membership))
        .route("/api/v1/me", get(me))
        .route("/api/v1/me/email", post(change_email))
        .route("/api/v1/me/bind-codes", post(create_bind_code))
        .route("/api/v1/peers", get(list_peers).post(bind_peer))
        .route("/api/v1/peers/{peer_id}", delete(unbind_peer))
        .route("/api/v1/vouchers", post(issue_voucher))
        .route("/api/v1/vouchers/revocations", get(revocations))
}

fn check_limit<K: std::hash::Hash + Eq + Clone>(
    limiter: &crate::rate_limit::RateLimiter<K>,
    key: K,
) -> ApiResult<()> {
    limiter
        .check(key, Instant::now())
        .map_err(ApiError::TooManyRequests)
}

/// `POST /api/v1/join`.
async fn join(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body = body_bytes(body)?;
    let request: JoinRequest = json_body(&caller.headers, &body)?;
    let proof = caller.proof(&state, &body)?;
    let email = match request.email.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(email) => Some(email_field(email)?),
    };
    match &email {
        Some(email) => state
            .limits
            .check_email(caller.ip, email)
            .map_err(ApiError::TooManyRequests)?,
        // A signed join without email creates an account at once (open mode): the per-IP join
        // bucket keeps fresh keys from filling the database.
        None => check_limit(&state.limits.email_ip, caller.ip)?,
    }
    let outcome = state
        .membership
        .join(
            &request,
            email.as_deref(),
            proof.as_ref(),
            &caller.ip.to_string(),
        )
        .await?;
    Ok(match outcome {
        JoinOutcome::CheckEmail { expires_at } => (
            StatusCode::ACCEPTED,
            Json(json!({"status": "check_email", "expires_at": expires_at})),
        )
            .into_response(),
        JoinOutcome::Active {
            account_id,
            state: st,
            tier,
        } => (
            StatusCode::CREATED,
            Json(json!({"status": "active", "account_id": account_id, "state": st, "tier": tier})),
        )
            .into_response(),
    })
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
    check_limit(&state.limits.verify_ip, caller.ip)?;
    let token = query.token.unwrap_or_default();
    let info = state.membership.inspect_token(&token).await?;
    Ok(Json(info).into_response())
}

#[derive(Debug, Deserialize)]
struct TokenBody {
    token: String,
    /// `false` confirms the address without binding the join's device (default `true`).
    bind: Option<bool>,
}

/// `POST /api/v1/verify`: consumes the token; sets the session cookie.
async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    check_limit(&state.limits.verify_ip, caller.ip)?;
    let body = body_bytes(body)?;
    let TokenBody { token, bind } = json_body(&caller.headers, &body)?;
    let verified = state
        .membership
        .verify(
            &token,
            &caller.ip.to_string(),
            caller.user_agent(),
            bind.unwrap_or(true),
        )
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

#[derive(Debug, Deserialize)]
struct EmailBody {
    email: String,
}

/// The normalized address of an `{"email"}` body, after the email buckets.
fn email_request(state: &AppState, caller: &Caller, body: &[u8]) -> ApiResult<String> {
    let EmailBody { email } = json_body(&caller.headers, body)?;
    let email = email_field(&email)?;
    state
        .limits
        .check_email(caller.ip, &email)
        .map_err(ApiError::TooManyRequests)?;
    Ok(email)
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

/// `POST /api/v1/login`: 202 whatever the address.
async fn login(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<StatusCode> {
    let body = body_bytes(body)?;
    let email = email_request(&state, &caller, &body)?;
    state
        .membership
        .login(&email, &caller.ip.to_string())
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST /api/v1/logout`: ends the session and clears the cookie.
async fn logout(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let Some(cookie) = caller.session_cookie() else {
        return Err(ApiError::Unauthorized(ErrorCode::Unauthorized));
    };
    super::session::check_csrf(&state, &caller.method, &caller.headers)?;
    state.membership.logout(cookie).await?;
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, session_clear_cookie(&state));
    Ok((StatusCode::NO_CONTENT, headers).into_response())
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

/// `POST /api/v1/me/email`: a `change_email` link to the new address.
async fn change_email(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<StatusCode> {
    let body = body_bytes(body)?;
    let account = caller.account(&state, &body).await?;
    let email = email_request(&state, &caller, &body)?;
    state
        .membership
        .request_email_change(&account, &email, &caller.ip.to_string())
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST /api/v1/me/bind-codes`: a code another device binds with.
async fn create_bind_code(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    check_limit(&state.limits.bind_ip, caller.ip)?;
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
    check_limit(&state.limits.bind_ip, caller.ip)?;
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
    check_limit(&state.limits.voucher_peer, peer)?;
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
    let now = crate::presence::now_ms();
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

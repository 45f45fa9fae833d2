//! Sessions (hub.md §6.9, §6.10): `POST /api/v1/login` sends a sign-in link, `POST /api/v1/logout`
//! ends the session.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use shared::error_code::ErrorCode;

use super::body::{body_bytes, email_request, json_body};
use super::cookie::{check_csrf, session_clear_cookie};
use super::extract::Caller;
use super::{ApiError, ApiResult};
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/login", post(login))
        .route("/api/v1/logout", post(logout))
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

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LogoutBody {
    /// End every session of the account ("sign out everywhere").
    #[serde(default)]
    all: bool,
}

/// `POST /api/v1/logout` (body optional; `{"all": true}` ends every session of the account): ends
/// the session and clears the cookie.
async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let Some(cookie) = caller.session_cookie() else {
        return Err(ApiError::Unauthorized(ErrorCode::Unauthorized));
    };
    check_csrf(&state, &caller.method, &caller.headers)?;
    let body = body_bytes(body)?;
    let LogoutBody { all } = if body.is_empty() {
        LogoutBody::default()
    } else {
        json_body(&caller.headers, &body)?
    };
    state.membership.logout(cookie, all).await?;
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, session_clear_cookie(&state));
    Ok((StatusCode::NO_CONTENT, headers).into_response())
}

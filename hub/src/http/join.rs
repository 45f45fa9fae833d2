//! `POST /api/v1/join` (hub.md §6.2): rate limits per address or IP, then the join flow.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;

use super::ApiResult;
use super::body::{body_bytes, json_body};
use super::extract::Caller;
use crate::membership::{JoinOutcome, JoinRequest, email_field};
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/join", post(join))
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
        Some(email) => state.limits.check_email(caller.ip, email)?,
        // A signed join without email creates an account at once (open mode): the per-IP join
        // bucket keeps fresh keys from filling the database.
        None => state.limits.email_ip.check(caller.ip, Instant::now())?,
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

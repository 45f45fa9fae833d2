//! `POST /api/v1/billing/checkout` and `POST /api/v1/billing/portal` (hub.md §8.2): a session
//! cookie (with the CSRF rule of §6.9) or the PeerSig of a bound peer, the `billing_account`
//! bucket (§13.2), then a Stripe session whose `{"id","url"}` the member follows.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::billing::objects::SessionLink;
use crate::billing::{self, Billing};
use crate::http::body::{body_bytes, json_body};
use crate::http::extract::Caller;
use crate::http::{ApiError, ApiResult};
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/billing/checkout", post(create_checkout))
        .route("/api/v1/billing/portal", post(create_portal))
}

/// `{"plan":"yearly"}` or `{"plan":"tip","amount":500}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckoutBody {
    plan: String,
    #[serde(default)]
    amount: Option<i64>,
}

/// Billing, or 404 `billing_disabled`.
fn enabled(state: &AppState) -> Result<&Billing, billing::Error> {
    state.billing.as_ref().ok_or(billing::Error::Disabled)
}

/// The `billing_account` bucket of the caller's account (hub.md §13.2).
fn check_billing_limit(state: &AppState, account_id: &str) -> ApiResult<()> {
    state
        .limits
        .billing_account
        .check(account_id.to_owned(), Instant::now())
        .map_err(ApiError::from)
}

/// The answer of both routes.
fn link_json(link: &SessionLink) -> Json<Value> {
    Json(json!({"id": link.id, "url": link.url}))
}

/// `POST /api/v1/billing/checkout`.
async fn create_checkout(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let billing = enabled(&state)?;
    let body = body_bytes(body)?;
    let account = caller.account(&state, &body).await?;
    let CheckoutBody { plan, amount } = json_body(&caller.headers, &body)?;
    check_billing_limit(&state, &account)?;
    let link = billing.checkout(&account, &plan, amount).await?;
    Ok(link_json(&link))
}

/// `POST /api/v1/billing/portal` (body `{}` or empty).
async fn create_portal(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let billing = enabled(&state)?;
    let body = body_bytes(body)?;
    let account = caller.account(&state, &body).await?;
    check_billing_limit(&state, &account)?;
    let link = billing.portal(&account).await?;
    Ok(link_json(&link))
}

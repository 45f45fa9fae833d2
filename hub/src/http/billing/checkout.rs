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
use crate::http::ApiResult;
use crate::http::body::{body_bytes, json_body};
use crate::http::extract::Caller;
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

/// Billing (else 404 `billing_disabled`), the caller's account (session with the CSRF rule, or
/// PeerSig of a bound peer) and the body, once the account's `billing_account` bucket allows.
async fn billing_caller<'s>(
    state: &'s AppState,
    caller: &Caller,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(&'s Billing, String, Bytes)> {
    let billing = state.billing.as_ref().ok_or(billing::Error::Disabled)?;
    let body = body_bytes(body)?;
    let account = caller.account(state, &body).await?;
    state
        .limits
        .billing_account
        .check(account.clone(), Instant::now())?;
    Ok((billing, account, body))
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
    let (billing, account, body) = billing_caller(&state, &caller, body).await?;
    let CheckoutBody { plan, amount } = json_body(&caller.headers, &body)?;
    Ok(link_json(&billing.checkout(&account, &plan, amount).await?))
}

/// `POST /api/v1/billing/portal` (body `{}` or empty).
async fn create_portal(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let (billing, account, _) = billing_caller(&state, &caller, body).await?;
    Ok(link_json(&billing.portal(&account).await?))
}

//! `POST /api/v1/billing/stripe-webhook` (hub.md §8.4): authenticated only by `Stripe-Signature`,
//! read as raw bytes up to 1 MiB, verified on the hub clock before anything is parsed, then
//! processed in one transaction (§8.5). 200 `{"received":true}` is answered only after the
//! commit; any failure answers non-2xx with nothing applied, so Stripe delivers again.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::billing::objects::Event;
use crate::billing::{self, Billing, Outcome, Source, signature};
use crate::http::ApiResult;
use crate::http::body::body_bytes;
use crate::state::AppState;

/// The webhook's body limit (hub.md §13.1); Stripe's events are far smaller.
pub(crate) const WEBHOOK_BODY_LIMIT: usize = 1024 * 1024;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route(
        "/api/v1/billing/stripe-webhook",
        post(receive_stripe_webhook).layer(DefaultBodyLimit::max(WEBHOOK_BODY_LIMIT)),
    )
}

async fn receive_stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let billing = state.billing.as_ref().ok_or(billing::Error::Disabled)?;
    let started = Instant::now();
    let result = receive(billing, &headers, body).await;
    billing
        .metrics()
        .webhook_seconds
        .observe(started.elapsed().as_secs_f64());
    result.map(|_| Json(json!({ "received": true })))
}

async fn receive(
    billing: &Billing,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Outcome> {
    let body = body_bytes(body)?;
    let header = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // Verify over the raw bytes before parsing: nothing unauthenticated reaches the JSON parser.
    if let Err(error) = signature::verify(
        header,
        &body,
        billing.webhook_secrets(),
        billing.now_ms().div_euclid(1000),
    ) {
        billing.count("", Outcome::BadSignature);
        return Err(billing::Error::from(error).into());
    }
    let event = Event::parse(&body).map_err(|e| {
        billing.count("", Outcome::Error);
        billing::Error::InvalidEvent(e.to_string())
    })?;
    Ok(billing.process(&event, Source::Webhook).await?)
}

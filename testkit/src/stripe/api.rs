//! The double's HTTP surface: Stripe's API under `/v1/` (bearer auth, form bodies, idempotency
//! keys, injected latency and failures, every request recorded) and the pages a member's browser
//! would visit: `/checkout/{id}` completes a Checkout Session, `/portal/{id}` stands for the
//! billing portal.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get};
use serde_json::Value;

use super::RecordedRequest;
use super::delivery;
use super::error::StripeFailure;
use super::list;
use super::state::{CompleteError, Shared, State as Stripe, StoredAnswer};

/// Largest request body (Stripe's own limit is far larger, the hub's forms are tiny).
const MAX_BODY: usize = 64 * 1024;
/// Stripe's limit on an `Idempotency-Key`.
const MAX_IDEMPOTENCY_KEY: usize = 255;
/// Longest a completed checkout waits for its webhooks before redirecting anyway.
const SETTLE_DEADLINE: Duration = Duration::from_secs(30);

/// The router over `shared`.
pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/{*path}", any(call))
        .route("/checkout/{id}", get(complete_checkout))
        .route("/portal/{id}", get(portal))
        .layer(middleware::from_fn_with_state(shared.clone(), record))
        .with_state(shared)
}

fn pairs(text: &[u8]) -> Result<Vec<(String, String)>, StripeFailure> {
    serde_urlencoded::from_bytes(text)
        .map_err(|e| StripeFailure::invalid("body", format!("Invalid form encoding: {e}")))
}

/// Records every request (its body read here, bounded: 413 beyond [`MAX_BODY`]) and passes it on.
async fn record(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
    };
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let idempotency_key = headers
        .iter()
        .find(|(k, _)| k == "idempotency-key")
        .map(|(_, v)| v.clone());
    shared.lock().record(RecordedRequest {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        headers,
        idempotency_key,
        form: pairs(&body).unwrap_or_default(),
        query: pairs(parts.uri.query().unwrap_or_default().as_bytes()).unwrap_or_default(),
    });
    next.run(Request::from_parts(parts, Body::from(body))).await
}

/// Every `/v1/` call (recorded already): injected latency and failure, auth, idempotency, then the call.
async fn call(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = pairs(&body);
    let (latency, failure, secret) = {
        let state = shared.lock();
        (
            state.api_latency,
            state.api_failure,
            state.secret_key.clone(),
        )
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(status) = failure {
        return StripeFailure::injected(status).into_response();
    }
    match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        None => {
            return StripeFailure::unauthorized("You did not provide an API key.").into_response();
        }
        Some(value) if value.strip_prefix("Bearer ") != Some(secret.as_str()) => {
            return StripeFailure::unauthorized("Invalid API Key provided.").into_response();
        }
        Some(_) => {}
    }
    let (form, query) = match (form, pairs(uri.query().unwrap_or_default().as_bytes())) {
        (Ok(form), Ok(query)) => (form, query),
        (Err(e), _) | (_, Err(e)) => return e.into_response(),
    };
    let key = (method == Method::POST)
        .then(|| {
            headers
                .get("idempotency-key")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .flatten();
    if key.as_ref().is_some_and(|k| k.len() > MAX_IDEMPOTENCY_KEY) {
        return StripeFailure::invalid(
            "Idempotency-Key",
            "Idempotency keys can be at most 255 characters long.",
        )
        .into_response();
    }
    let fingerprint = format!("{method} {} {}", uri.path(), String::from_utf8_lossy(&body));
    // One lock from the key's lookup to its stored answer: a key runs its call once.
    let (status, body) = {
        let mut state = shared.lock();
        if let Some(stored) = key.as_ref().and_then(|k| state.idempotency.get(k)) {
            if stored.fingerprint != fingerprint {
                return idempotency_mismatch(key.as_deref().unwrap_or_default()).into_response();
            }
            let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
            return (
                status,
                [("idempotent-replayed", "true")],
                axum::Json(stored.body.clone()),
            )
                .into_response();
        }
        let (status, body) = match route(&mut state, &method, uri.path(), &form, &query) {
            Ok(body) => (200, body),
            Err(failure) => (failure.status, failure.body()),
        };
        if let Some(key) = key.filter(|_| status < 500) {
            let answer = StoredAnswer {
                fingerprint,
                status,
                body: body.clone(),
            };
            state.store_answer(key, answer);
        }
        (status, body)
    };
    shared.wake.notify_one();
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        axum::Json(body),
    )
        .into_response()
}

fn idempotency_mismatch(key: &str) -> StripeFailure {
    StripeFailure {
        kind: "idempotency_error",
        code: None,
        ..StripeFailure::invalid(
            "Idempotency-Key",
            format!(
                "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."
            ),
        )
    }
}

fn route(
    state: &mut Stripe,
    method: &Method,
    path: &str,
    form: &[(String, String)],
    query: &[(String, String)],
) -> Result<Value, StripeFailure> {
    let segments: Vec<&str> = path.trim_start_matches("/v1/").split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("POST", ["checkout", "sessions"]) => state.create_session(form),
        ("GET", ["checkout", "sessions", id]) => state
            .session(id)
            .ok_or_else(|| StripeFailure::no_such(404, "checkout.session", id, "session")),
        ("POST", ["billing_portal", "sessions"]) => state.create_portal_session(form),
        ("GET", ["subscriptions", id]) => state
            .subscription(id)
            .ok_or_else(|| StripeFailure::no_such(404, "subscription", id, "id")),
        ("DELETE", ["subscriptions", id]) => state.cancel_subscription(id),
        ("GET", ["customers", id]) => state
            .customers
            .iter()
            .find(|c| c["id"] == *id)
            .cloned()
            .ok_or_else(|| StripeFailure::no_such(404, "customer", id, "id")),
        ("GET", ["events"]) => list::events(&state.events, query),
        ("GET", ["events", id]) => state
            .event(id)
            .ok_or_else(|| StripeFailure::no_such(404, "event", id, "id")),
        _ => Err(StripeFailure {
            status: 404,
            code: None,
            param: None,
            ..StripeFailure::invalid("", format!("Unrecognized request URL ({method}: {path})."))
        }),
    }
}

/// `GET /checkout/{id}`: the member pays. Emits the events, waits (bounded) until the worker
/// delivered them, then 303 to the success URL; 404 unknown, 409 completed before.
async fn complete_checkout(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let result = shared.lock().complete_session(&id);
    shared.wake.notify_one();
    match result {
        Ok(success_url) => {
            let _ = tokio::time::timeout(SETTLE_DEADLINE, delivery::settle(&shared)).await;
            Redirect::to(&success_url).into_response()
        }
        Err(CompleteError::Unknown) => {
            (StatusCode::NOT_FOUND, "no such checkout session").into_response()
        }
        Err(CompleteError::Completed) => {
            (StatusCode::CONFLICT, "checkout session already completed").into_response()
        }
    }
}

/// `GET /portal/{id}`: 303 to the session's return URL (200 without one), 404 unknown.
async fn portal(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let found = shared.lock().portal_return_url(&id);
    match found {
        Some(Some(url)) => Redirect::to(&url).into_response(),
        Some(None) => (StatusCode::OK, "Stripe double: billing portal").into_response(),
        None => (StatusCode::NOT_FOUND, "no such portal session").into_response(),
    }
}

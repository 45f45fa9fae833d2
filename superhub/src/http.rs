//! The super hub's HTTP surface: [`router`] merges the feature routers;
//! [`shared::server::finish_router`] adds the cross-cutting layers.

mod health;
mod info;

use std::time::Duration;

use axum::Router;
use shared::server::{HttpLimits, HttpMetrics};

use crate::state::AppState;

/// Every JSON or form body (superhub.md §10; envelopes are at most 16 KiB).
const BODY_LIMIT: usize = 16 * 1024;
/// Non-streaming handlers.
const HANDLER_TIMEOUT: Duration = Duration::from_secs(30);
/// Route prefixes whose errors are JSON; pages get HTML.
const JSON_PREFIXES: &[&str] = &["/api/", "/.well-known/"];

/// The complete application.
pub(crate) fn router(state: AppState, metrics: HttpMetrics) -> Router {
    let limits = HttpLimits {
        max_in_flight: state.config.http.max_connections,
        body_limit: BODY_LIMIT,
        handler_timeout: HANDLER_TIMEOUT,
        json_prefixes: JSON_PREFIXES,
    };
    let app = Router::new()
        .merge(health::router())
        .merge(info::router())
        .with_state(state);
    shared::server::finish_router(app, &limits, metrics)
}

//! The hub's HTTP surface: [`router`] merges the feature routers; [`shared::server::finish_router`]
//! adds the cross-cutting layers (request id, tracing, metrics, limits, JSON/HTML fallbacks).

mod admin;
mod auth;
mod error;
mod health;
mod info;
mod membership;
mod presence;
mod relay_info;
pub(crate) mod session;
mod ws;

use std::time::Duration;

use axum::Router;
use shared::server::{HttpLimits, HttpMetrics};

pub(crate) use error::{ApiError, ApiResult};
pub(crate) use info::info_document;

use crate::state::AppState;

/// Every JSON or form body except those with their own limit (hub.md §13.1).
const BODY_LIMIT: usize = 16 * 1024;
/// Non-streaming handlers (hub.md §13.1).
const HANDLER_TIMEOUT: Duration = Duration::from_secs(30);
/// Route prefixes whose errors are JSON; everything else gets HTML (hub.md §12).
const JSON_PREFIXES: &[&str] = &[
    "/api/",
    "/publish",
    "/ws",
    "/events",
    "/relay",
    "/.well-known/",
];

/// The complete application.
pub(crate) fn router(state: AppState, metrics: HttpMetrics) -> Router {
    let limits = HttpLimits {
        max_in_flight: state.config.http.max_connections,
        body_limit: BODY_LIMIT,
        handler_timeout: HANDLER_TIMEOUT,
        json_prefixes: JSON_PREFIXES,
    };
    let pages = axum::middleware::from_fn_with_state(state.clone(), crate::web::finish_pages);
    let app = Router::new()
        .merge(health::router())
        .merge(info::router())
        .merge(presence::router())
        .merge(ws::router())
        .merge(relay_info::router())
        .merge(admin::router())
        .merge(membership::router())
        .merge(crate::web::router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session::renew_cookie,
        ))
        .with_state(state);
    // Outside the shared layers, so the fallbacks' HTML pages get the layout and headers too.
    shared::server::finish_router(app, &limits, metrics).layer(pages)
}

//! The complete application: the JSON API ([`crate::http`]) and the pages ([`crate::web`]) side by
//! side, the session-renewal layer both share, and [`shared::server::finish_router`]'s
//! cross-cutting layers (request id, tracing, metrics, limits, JSON/HTML fallbacks).

use axum::Router;
use shared::server::{HttpLimits, HttpMetrics};

use crate::state::AppState;

/// Route prefixes whose errors are JSON; everything else gets HTML (hub.md §12).
const JSON_PREFIXES: &[&str] = &[
    "/api/",
    "/publish",
    "/ws",
    "/events",
    "/relay",
    "/.well-known/",
];

/// Routes `general_ip` does not charge besides the health checks: Stripe's webhook (hub.md §13.2),
/// authenticated by its own signature and retried by Stripe.
const GENERAL_EXEMPT: &[&str] = &["/api/v1/billing/stripe-webhook"];

/// The complete application.
pub(crate) fn router(state: AppState, metrics: HttpMetrics) -> Router {
    let mut limits = HttpLimits::new(
        &state.config.http,
        state.config.rate_limits.general_ip,
        JSON_PREFIXES,
    );
    limits.general_exempt = GENERAL_EXEMPT;
    let pages = axum::middleware::from_fn_with_state(state.clone(), crate::web::finish_pages);
    let app = Router::new()
        .merge(crate::http::router())
        .merge(crate::web::router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::http::cookie::renew_cookie,
        ))
        .with_state(state);
    // Outside the shared layers, so the fallbacks' HTML pages get the layout and headers too.
    shared::server::finish_router(app, &limits, metrics).layer(pages)
}

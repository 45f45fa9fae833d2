//! The super hub's HTTP surface: [`router`] merges the feature routers;
//! [`shared::server::finish_router`] adds the cross-cutting layers.

mod error;
pub(crate) mod extract;
mod federation;
mod health;
mod hubs;
mod info;
mod resolve;
mod search;

use axum::Router;
use shared::server::{HttpLimits, HttpMetrics};

use crate::state::AppState;

/// Route prefixes whose errors are JSON; pages get HTML.
const JSON_PREFIXES: &[&str] = &["/api/", "/.well-known/"];

/// The complete application.
pub(crate) fn router(state: AppState, metrics: HttpMetrics) -> Router {
    let limits = HttpLimits::new(
        &state.config.http,
        state.config.rate_limits.general_ip,
        JSON_PREFIXES,
    );
    let app = Router::new()
        .merge(health::router())
        .merge(info::router())
        .merge(hubs::router())
        .merge(resolve::router())
        .merge(federation::router())
        .merge(search::router())
        .with_state(state);
    shared::server::finish_router(app, &limits, metrics)
}

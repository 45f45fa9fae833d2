//! `/healthz` (the process serves HTTP) and `/readyz` (start-up done, database answers).

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(shared::server::healthz))
        .route("/readyz", get(readyz))
}

async fn readyz(State(state): State<AppState>) -> Response {
    let database = state.store.is_reachable().await;
    shared::server::readyz_response(state.ready.get(), &[("database", database)])
}

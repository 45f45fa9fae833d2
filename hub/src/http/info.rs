//! `GET /api/v1/info`: the public description of this hub (hub.md §11.1).

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/info", get(get_info))
}

async fn get_info(State(state): State<AppState>) -> Response {
    shared::server::public_document(state.info.as_ref())
}

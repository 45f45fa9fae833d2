//! `GET /api/v1/info`: the public description of this super hub (superhub.md §2).

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/info", get(get_info))
}

async fn get_info(State(state): State<AppState>) -> Response {
    let mut info = state.info.as_ref().clone();
    info.federation = Some(crate::federation::info_block(&state.store, &state.config).await);
    shared::server::public_document(&info)
}

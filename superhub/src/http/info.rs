//! `GET /api/v1/info`: the public description of this super hub (superhub.md §2), with its
//! listing policy and the live hub counts.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use shared::api::DirectoryCounts;

use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/info", get(get_info))
}

/// The info document with `counts` read now; without `counts` when the database fails, so the
/// description stays available.
async fn get_info(State(state): State<AppState>) -> Response {
    let mut info = state.info.as_ref().clone();
    match state.store.count_hubs().await {
        Ok(counts) => {
            info.counts = Some(DirectoryCounts {
                listed: counts.listed(),
                known: counts.known(),
            });
        }
        Err(error) => tracing::warn!(%error, "counting hubs for the info document failed"),
    }
    info.federation = Some(crate::federation::info_block(&state.store, &state.config).await);
    shared::server::public_document(&info)
}

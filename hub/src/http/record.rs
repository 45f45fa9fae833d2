//! `GET /api/v1/record` (hub.md §11.3, public): the current signed hub record envelope, issued
//! anew once the last has expired.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

use super::ApiResult;
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/record", get(get_record))
}

async fn get_record(State(state): State<AppState>) -> ApiResult<Response> {
    let envelope = state.directory.current_record().await?;
    Ok(shared::server::public_document(&envelope))
}

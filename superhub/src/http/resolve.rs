//! `GET /api/v1/resolve/{slug}` (superhub.md §5.3): the listed winner of a slug.

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use shared::error_code::ErrorCode;
use shared::ids::Slug;

use super::error::{ApiError, ApiResult, invalid_path};
use super::extract::{ClientIp, charge};
use crate::metrics::OutcomeLabel;
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/resolve/{slug}", get(resolve))
}

async fn resolve(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    charge(&state.limits.search, ip)?;
    let Path(text) = path.map_err(|_| invalid_path("slug", "the slug is not valid"))?;
    let slug = Slug::parse(&text).map_err(|e| invalid_path("slug", e.to_string()))?;
    let resolved = state.directory.resolve(&slug).await?;
    let outcome = if resolved.is_some() {
        "found"
    } else {
        "not_found"
    };
    state
        .metrics
        .directory
        .resolve
        .get_or_create(&OutcomeLabel { outcome })
        .inc();
    let resolved = resolved.ok_or(ApiError::NotFound(ErrorCode::NotFound))?;
    Ok((
        [(header::CACHE_CONTROL, "public, max-age=60")],
        axum::Json(resolved),
    )
        .into_response())
}

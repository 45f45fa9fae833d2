//! `GET /api/v1/hubs`: search over listed hubs (superhub.md §5.1), charged to the `search_ip`
//! bucket. The raw query string is read by `directory::search::parse`, because `tag` and
//! `join_mode` repeat.

use std::time::Instant;

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use shared::error_code::ErrorCode;
use shared::server::{ApiError, ApiResult};

use super::extract::{ClientIp, charge};
use crate::directory::search::{SearchError, SearchPage, parse};
use crate::metrics::SortLabels;
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/hubs", get(search_hubs))
}

impl From<SearchError> for ApiError {
    fn from(error: SearchError) -> Self {
        match error {
            SearchError::InvalidField { field, .. } => Self::BadRequest {
                code: ErrorCode::InvalidField,
                field: Some(field),
                message: error.to_string(),
            },
            SearchError::BadCursor => Self::BadRequest {
                code: ErrorCode::BadCursor,
                field: Some("cursor"),
                message: error.to_string(),
            },
            SearchError::Store(e) => e.into(),
        }
    }
}

#[tracing::instrument(skip_all, err)]
async fn search_hubs(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<SearchPage>> {
    let started = Instant::now();
    charge(&state.limits.search, ip)?;
    let params = parse(raw.as_deref().unwrap_or(""))?;
    let page = state.directory.search(params).await?;
    let metrics = &state.metrics.search;
    metrics
        .requests
        .get_or_create(&SortLabels {
            sort: page.sort.as_str(),
        })
        .inc();
    metrics.duration.observe(started.elapsed().as_secs_f64());
    Ok(Json(page))
}

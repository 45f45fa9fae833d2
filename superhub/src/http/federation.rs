//! `GET /api/v1/federation/changes` (superhub.md §7.1): the public change feed, charged to the
//! `feed_ip` bucket; 404 while federation is disabled.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use shared::error_code::ErrorCode;
use shared::server::{ApiError, ApiResult};

use super::extract::{ClientIp, charge};
use crate::federation::cursor::FeedCursor;
use crate::federation::feed::{FeedPage, page_of};
use crate::state::AppState;

/// Items per page unless `limit` says otherwise.
const DEFAULT_LIMIT: u32 = 100;
/// The most items a page holds.
const MAX_LIMIT: u32 = 500;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/federation/changes", get(changes))
}

#[derive(Debug, Deserialize)]
struct FeedQuery {
    since: Option<String>,
    limit: Option<String>,
}

async fn changes(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    query: Result<Query<FeedQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<FeedPage>> {
    if !state.config.federation.enabled {
        return Err(ApiError::NotFound(ErrorCode::NotFound));
    }
    charge(&state.limits.feed, ip)?;
    let Query(query) = query.map_err(|e| ApiError::BadRequest {
        code: ErrorCode::InvalidField,
        field: None,
        message: e.body_text(),
    })?;
    let limit = match query.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| ApiError::BadRequest {
                code: ErrorCode::InvalidField,
                field: Some("limit"),
                message: format!("limit must be 1–{MAX_LIMIT}"),
            })?,
    };
    let since = match query.since.as_deref() {
        None => FeedCursor::START,
        Some(text) => FeedCursor::decode(text).map_err(|e| ApiError::BadRequest {
            code: ErrorCode::BadCursor,
            field: Some("since"),
            message: e.to_string(),
        })?,
    };
    let now = state.config.clock.now_ms();
    let stored = state.store.changes_after(since.0, limit, now).await?;
    Ok(Json(page_of(&state.info.id, since, stored)))
}

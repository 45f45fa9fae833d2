//! The administration API under `/api/v1/admin/` (hub.md §9). [`AdminCaller`] guards every
//! route: no configured token → 404, a bucket of failed attempts per client IP checked before the
//! token is compared, then the bearer token in constant time. Every response carries
//! `Cache-Control: no-store`. Handlers parse and bound the input; the work is done by
//! `membership::admin`.

mod community;
mod members;

use axum::Router;
use axum::body::Bytes;
use axum::extract::Query;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use axum::routing::{delete, get, post};
use serde::de::DeserializeOwned;

use shared::error_code::ErrorCode;

use super::body::{body_bytes, json_body};
pub(crate) use super::extract::AdminCaller;
use super::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::Cursor;

/// Page size without `limit`, and the largest one.
const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 200;
/// Longest reason or note, in characters.
const MAX_TEXT_CHARS: usize = 500;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/members", get(members::list_members))
        .route("/api/v1/admin/members/{id}", get(members::show_member))
        .route(
            "/api/v1/admin/members/{id}/approve",
            post(members::approve_member),
        )
        .route(
            "/api/v1/admin/members/{id}/reject",
            post(members::reject_member),
        )
        .route("/api/v1/admin/members/{id}/ban", post(members::ban_member))
        .route(
            "/api/v1/admin/members/{id}/unban",
            post(members::unban_member),
        )
        .route(
            "/api/v1/admin/members/{id}/comp",
            post(members::comp_member).delete(members::uncomp_member),
        )
        .route(
            "/api/v1/admin/members/{id}/peers/{peer_id}",
            delete(members::unbind_peer),
        )
        .route(
            "/api/v1/admin/invites",
            post(community::create_invite).get(community::list_invites),
        )
        .route(
            "/api/v1/admin/invites/{code}",
            delete(community::revoke_invite),
        )
        .route(
            "/api/v1/admin/applications",
            get(community::list_applications),
        )
        .route("/api/v1/admin/presence", get(community::list_presence))
        .route("/api/v1/admin/stats", get(community::show_stats))
        .route("/api/v1/admin/audit", get(community::list_audit))
        .route(
            "/api/v1/admin/vouchers/revoke",
            post(community::revoke_vouchers),
        )
        .layer(axum::middleware::map_response(
            |mut response: Response| async move {
                // Admin answers name members and tokens' effects: never kept by a cache.
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                response
            },
        ))
}

pub(super) fn invalid(field: &'static str, message: &str) -> ApiError {
    ApiError::BadRequest {
        code: ErrorCode::InvalidField,
        field: Some(field),
        message: message.to_owned(),
    }
}

/// A JSON body of `T`; an empty body is `{}` (most admin actions need no parameters).
pub(super) fn body_of<T: DeserializeOwned + Default>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<T> {
    let body = body_bytes(body)?;
    if body.is_empty() {
        return Ok(T::default());
    }
    json_body(headers, &body)
}

/// Query parameters, or 400 `invalid_field` naming the query.
pub(super) fn query_of<T>(query: Result<Query<T>, QueryRejection>) -> ApiResult<T> {
    query
        .map(|Query(q)| q)
        .map_err(|e| invalid("query", &format!("query: {}", e.body_text())))
}

/// An optional free text of at most [`MAX_TEXT_CHARS`] characters, trimmed; empty = absent.
pub(super) fn text(value: Option<String>, field: &'static str) -> ApiResult<Option<String>> {
    let Some(value) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.chars().count() > MAX_TEXT_CHARS || value.chars().any(char::is_control) {
        return Err(invalid(
            field,
            &format!("{field}: at most {MAX_TEXT_CHARS} characters, no control characters"),
        ));
    }
    Ok(Some(value))
}

/// A required free text.
pub(super) fn required_text(value: Option<String>, field: &'static str) -> ApiResult<String> {
    text(value, field)?.ok_or_else(|| invalid(field, &format!("{field}: required")))
}

/// `limit`: default 50, at most 200.
pub(super) fn limit_of(limit: Option<i64>) -> ApiResult<i64> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if n >= 1 => Ok(n.min(MAX_LIMIT)),
        Some(_) => Err(invalid("limit", "limit: at least 1")),
    }
}

/// `cursor`: absent or empty = the first page; 400 `invalid_field` (`cursor`) when it is not a
/// cursor from a previous page.
pub(super) fn cursor_param(cursor: Option<String>) -> ApiResult<Option<Cursor>> {
    cursor
        .filter(|c| !c.is_empty())
        .map(|c| {
            Cursor::decode(&c)
                .map_err(|_| invalid("cursor", "cursor: not a cursor from a previous page"))
        })
        .transpose()
}

/// A snake_case enumeration value from a query parameter; empty = absent.
pub(super) fn enum_param<T: DeserializeOwned>(
    value: Option<String>,
    field: &'static str,
) -> ApiResult<Option<T>> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => serde_json::from_value(serde_json::Value::String(v))
            .map(Some)
            .map_err(|_| invalid(field, &format!("{field}: not a known value"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_defaults_to_50_and_caps_at_200() {
        assert_eq!(limit_of(None).unwrap(), 50);
        assert_eq!(limit_of(Some(500)).unwrap(), 200);
        assert!(limit_of(Some(0)).is_err());
    }
}

//! `POST /api/v1/hubs` (registration, superhub.md §3) and the public detail and record of a hub
//! (`GET /api/v1/hubs/{id}`, `GET /api/v1/hubs/{id}/record`, §5.2).

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use shared::envelope::EnvelopeType;
use shared::error_code::ErrorCode;
use shared::ids::Ed25519PeerId;

use super::error::{ApiError, ApiResult, invalid_path};
use super::extract::{ClientIp, charge};
use crate::directory::Registered;
use crate::directory::detail::Detail;
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/hubs", post(register))
        .route("/api/v1/hubs/{id}", get(detail))
        .route("/api/v1/hubs/{id}/record", get(record))
}

/// The `type` label of a body: `hub-record`, `hub-tombstone` or `other`.
fn type_label(body: &[u8]) -> &'static str {
    #[derive(Deserialize)]
    struct Head {
        #[serde(rename = "type")]
        kind: Option<String>,
    }
    let kind = serde_json::from_slice::<Head>(body)
        .ok()
        .and_then(|h| h.kind);
    match kind.as_deref().and_then(EnvelopeType::parse) {
        Some(t @ (EnvelopeType::HubRecord | EnvelopeType::HubTombstone)) => t.as_str(),
        _ => "other",
    }
}

/// The `outcome` label of an answer; `None` for server failures, which are not counted.
fn outcome_label(answer: &Result<Registered, ApiError>) -> Option<&'static str> {
    Some(match answer {
        Ok(registered) if registered.stored => "accepted",
        Ok(_) => "unchanged",
        Err(ApiError::TooManyRequests(_)) => "rate_limited",
        Err(ApiError::Conflict(ErrorCode::Tombstoned)) => "tombstoned",
        Err(ApiError::Conflict(_)) => "stale",
        Err(ApiError::Internal(_) | ApiError::Unavailable(_)) => return None,
        Err(_) => "invalid",
    })
}

fn require_json(headers: &HeaderMap) -> ApiResult<()> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if json {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType)
    }
}

/// The `register_ip` bucket before anything else, then 415, 413 and §3.1 rows 1–12.
async fn register_body(
    state: &AppState,
    ip: ClientIp,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Registered> {
    charge(&state.limits.register, ip.0)?;
    require_json(headers)?;
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        _ => ApiError::BadRequest {
            code: ErrorCode::InvalidEnvelope,
            field: None,
            message: "the body could not be read".to_owned(),
        },
    })?;
    Ok(state.directory.register(&body).await?)
}

async fn register(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let kind = body.as_deref().map_or("other", type_label);
    let answer = register_body(&state, ip, &headers, body).await;
    if let Some(outcome) = outcome_label(&answer) {
        state.metrics.directory.registration(kind, outcome);
    }
    let registered = answer.inspect_err(|error| {
        tracing::debug!(%error, r#type = kind, "registration refused");
    })?;
    if registered.stored {
        tracing::info!(
            hub_id = %registered.id,
            seq = registered.seq,
            state = registered.state,
            "registration accepted"
        );
    }
    let status = if registered.probe_pending {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(registered)).into_response())
}

/// The `{id}` of the detail routes, after charging the `search_ip` bucket: an Ed25519 PeerId,
/// else 400 `invalid_field`.
struct HubPath(String);

impl FromRequestParts<AppState> for HubPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Ok(ClientIp(ip)) = ClientIp::from_request_parts(parts, state).await;
        charge(&state.limits.search, ip)?;
        let Path(text) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| invalid_path("id", "the hub id is not valid"))?;
        text.parse::<Ed25519PeerId>()
            .map(|id| Self(id.to_string()))
            .map_err(|e| invalid_path("id", format!("the hub id is not valid: {e}")))
    }
}

async fn detail(State(state): State<AppState>, HubPath(id): HubPath) -> ApiResult<Response> {
    match state.directory.detail(&id).await? {
        Detail::Found(detail) => Ok(axum::Json(detail).into_response()),
        Detail::Gone(tombstone) => Ok(gone(&tombstone)),
        Detail::NotFound => Err(ApiError::NotFound(ErrorCode::NotFound)),
    }
}

/// 410 `gone` (§3.4): the error body of hub.md §0.1 with the tombstone's `id`, `seq`, `reason`
/// and `issued_at` beside `error`.
fn gone(tombstone: &crate::store::TombstoneRow) -> Response {
    let body = serde_json::json!({
        "error": {"code": ErrorCode::Gone.as_str(), "message": "the hub was decommissioned by its operator"},
        "id": tombstone.hub_id,
        "seq": tombstone.seq,
        "reason": tombstone.reason,
        "issued_at": tombstone.issued_at,
    });
    (StatusCode::GONE, axum::Json(body)).into_response()
}

async fn record(State(state): State<AppState>, HubPath(id): HubPath) -> ApiResult<Response> {
    let envelope = state
        .directory
        .latest_envelope(&id)
        .await?
        .ok_or(ApiError::NotFound(ErrorCode::NotFound))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        envelope,
    )
        .into_response())
}

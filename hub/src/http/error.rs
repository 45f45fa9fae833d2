//! [`ApiError`]: the one error type at the HTTP boundary. Each variant carries the spec's stable
//! code (hub.md §0.1); internals are logged once and never sent.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use shared::peer_sig::PeerSigError;
use shared::server::json_error;

use crate::presence::InvalidField;
use crate::store::StoreError;

/// Result of a handler.
pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// An error answered to the client.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// 400 with a code, the offending field and a message.
    #[error("{code}: {message}")]
    BadRequest {
        code: &'static str,
        field: Option<&'static str>,
        message: String,
    },
    /// 401 with a code.
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// 403 with a code.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// 404 with a code.
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// 409 with a code.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// 410 with a code.
    #[error("gone: {0}")]
    Gone(&'static str),
    /// 500 `internal`: logged once here, never described to the client.
    #[error("internal: {0}")]
    Internal(String),
    /// 413 `payload_too_large`.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 415 `unsupported_media_type`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 425 `publish_first`.
    #[error("publish first")]
    PublishFirst,
    /// 429 `rate_limited` with `Retry-After`.
    #[error("rate limited")]
    TooManyRequests(Duration),
    /// 502 `upstream_error`: a peer stream (or Stripe, SMTP) failed.
    #[error("upstream error: {0}")]
    Upstream(&'static str),
    /// 503 `unavailable`: not ready, database down, capacity.
    #[error("unavailable: {0}")]
    Unavailable(&'static str),
}

impl From<InvalidField> for ApiError {
    fn from(error: InvalidField) -> Self {
        Self::BadRequest {
            code: error.code,
            field: Some(error.field),
            message: error.to_string(),
        }
    }
}

impl From<PeerSigError> for ApiError {
    fn from(error: PeerSigError) -> Self {
        let bad_request = |code: &'static str, message: &str| Self::BadRequest {
            code,
            field: None,
            message: message.to_owned(),
        };
        match error {
            PeerSigError::Incomplete => bad_request(
                "incomplete_signature",
                "PeerSig needs all three X-Goop headers",
            ),
            PeerSigError::UnsupportedPeerId => bad_request(
                "unsupported_peer_id",
                "X-Goop-Peer-ID is not an Ed25519 PeerId",
            ),
            PeerSigError::StaleTimestamp => Self::Unauthorized("stale_timestamp"),
            PeerSigError::BadSignature => Self::Unauthorized("bad_signature"),
            PeerSigError::Replayed => Self::Unauthorized("replayed"),
            PeerSigError::CacheFull => Self::Unavailable("too many signed requests"),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound("not_found"),
            StoreError::Conflict => Self::Conflict("conflict"),
            StoreError::Unavailable(_) => Self::Unavailable("database unavailable"),
            other => Self::Internal(other.to_string()),
        }
    }
}

/// Human words for the codes handlers raise (hub.md §0.1); the code stays the contract.
fn describe(code: &str) -> &'static str {
    match code {
        "not_member" => "this peer is not a member of the community",
        "membership_pending" => "the membership is not active yet",
        "membership_lapsed" => "the membership has lapsed",
        "banned" => "this account is banned",
        "csrf" => "the request did not come from this hub's pages",
        "forbidden" => "not allowed",
        "not_bound" => "this peer is not bound to an account",
        "invalid_token" => "the link is not valid",
        "token_used" => "the link was used already",
        "token_expired" => "the link has expired",
        "peer_already_bound" => "this peer is bound to an account already",
        "too_many_peers" => "the account binds as many peers as allowed",
        "email_taken" => "another account uses this address",
        "unauthorized" => "authentication required",
        "signature_required" => "a PeerSig signature is required",
        "invalid_voucher" => "the voucher is not valid",
        _ => "request refused",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::BadRequest {
                code,
                field,
                message,
            } => json_error(StatusCode::BAD_REQUEST, code, &message, field),
            Self::Unauthorized(code) => json_error(
                StatusCode::UNAUTHORIZED,
                code,
                "authentication failed",
                None,
            ),
            Self::Forbidden(code) => json_error(StatusCode::FORBIDDEN, code, describe(code), None),
            Self::NotFound(code) => {
                let message = if code == "not_found" {
                    "no such resource"
                } else {
                    describe(code)
                };
                json_error(StatusCode::NOT_FOUND, code, message, None)
            }
            Self::Conflict(code) => json_error(StatusCode::CONFLICT, code, describe(code), None),
            Self::Gone(code) => json_error(StatusCode::GONE, code, describe(code), None),
            Self::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                json_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; see the hub log",
                    None,
                )
            }
            Self::PayloadTooLarge => json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the body is larger than this route accepts",
                None,
            ),
            Self::UnsupportedMediaType => json_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send Content-Type: application/json",
                None,
            ),
            Self::PublishFirst => json_error(
                StatusCode::TOO_EARLY,
                "publish_first",
                "publish presence before opening a legacy WebSocket",
                None,
            ),
            Self::TooManyRequests(retry) => {
                let mut response = json_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "slow down",
                    None,
                );
                let secs = retry.as_secs_f64().ceil().max(1.0) as u64;
                if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                response
            }
            Self::Upstream(message) => {
                json_error(StatusCode::BAD_GATEWAY, "upstream_error", message, None)
            }
            Self::Unavailable(message) => json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                message,
                None,
            ),
        }
    }
}

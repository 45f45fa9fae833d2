//! [`ApiError`]: the one error type at the HTTP boundary. Each variant carries the spec's stable
//! code (hub.md §0.1); internals are logged once and never sent.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use shared::server::json_error;

use crate::peer_sig::PeerSigError;
use crate::presence::InvalidField;

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
    /// 413 `payload_too_large`.
    #[error("payload too large")]
    PayloadTooLarge,
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
            Self::Forbidden(code) => json_error(StatusCode::FORBIDDEN, code, "not allowed", None),
            Self::NotFound(code) => {
                json_error(StatusCode::NOT_FOUND, code, "no such resource", None)
            }
            Self::PayloadTooLarge => json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the body is larger than this route accepts",
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

//! [`ApiError`]: the one error type at both servers' HTTP boundaries. Each variant carries the
//! spec's stable code (hub.md §0.1); internals are logged once and never sent. Each server adds
//! `From` impls for its own domain errors next to its routes.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::json_error;
use crate::error_code::ErrorCode;
use crate::peer_sig::PeerSigError;
use crate::rate_limit::RateLimited;

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

/// An error answered to the client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 with a code, the offending field and a message.
    #[error("{code}: {message}")]
    BadRequest {
        /// The code.
        code: ErrorCode,
        /// The request field at fault.
        field: Option<&'static str>,
        /// What was wrong.
        message: String,
    },
    /// 401 with a code.
    #[error("unauthorized: {0}")]
    Unauthorized(ErrorCode),
    /// 403 with a code.
    #[error("forbidden: {0}")]
    Forbidden(ErrorCode),
    /// 404 with a code.
    #[error("not found: {0}")]
    NotFound(ErrorCode),
    /// 409 with a code.
    #[error("conflict: {0}")]
    Conflict(ErrorCode),
    /// 410 with a code.
    #[error("gone: {0}")]
    Gone(ErrorCode),
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
    /// 429 `too_many_signatures` with `Retry-After`: the client's share of the replay cache is
    /// spent (hub.md §3 rule 5).
    #[error("too many signatures")]
    TooManySignatures,
    /// 502 `upstream_error`: a peer stream (or Stripe, SMTP) failed.
    #[error("upstream error: {0}")]
    Upstream(&'static str),
    /// 503 `unavailable`: not ready, database down, capacity.
    #[error("unavailable: {0}")]
    Unavailable(&'static str),
}

impl From<crate::presence::InvalidField> for ApiError {
    fn from(error: crate::presence::InvalidField) -> Self {
        Self::BadRequest {
            code: error.code,
            field: Some(error.field),
            message: error.to_string(),
        }
    }
}

impl From<RateLimited> for ApiError {
    fn from(limited: RateLimited) -> Self {
        Self::TooManyRequests(limited.retry_after)
    }
}

impl From<PeerSigError> for ApiError {
    fn from(error: PeerSigError) -> Self {
        let bad_request = |code: ErrorCode, message: &str| Self::BadRequest {
            code,
            field: None,
            message: message.to_owned(),
        };
        match error {
            PeerSigError::Incomplete => bad_request(
                ErrorCode::IncompleteSignature,
                "PeerSig needs all three X-Goop headers",
            ),
            PeerSigError::UnsupportedPeerId => bad_request(
                ErrorCode::UnsupportedPeerId,
                "X-Goop-Peer-ID is not an Ed25519 PeerId",
            ),
            PeerSigError::StaleTimestamp => Self::Unauthorized(ErrorCode::StaleTimestamp),
            PeerSigError::BadSignature => Self::Unauthorized(ErrorCode::BadSignature),
            PeerSigError::Replayed => Self::Unauthorized(ErrorCode::Replayed),
            PeerSigError::CacheFull => Self::Unavailable("too many signed requests"),
            PeerSigError::ShareExceeded => Self::TooManySignatures,
        }
    }
}

#[cfg(feature = "db")]
impl From<crate::db::StoreError> for ApiError {
    fn from(error: crate::db::StoreError) -> Self {
        match error {
            crate::db::StoreError::NotFound => Self::NotFound(ErrorCode::NotFound),
            crate::db::StoreError::Conflict => Self::Conflict(ErrorCode::Conflict),
            crate::db::StoreError::Unavailable(_) => Self::Unavailable("database unavailable"),
            other => Self::Internal(other.to_string()),
        }
    }
}

/// `Retry-After` of `too_many_signatures`: entries leave the replay cache within twice the
/// signature window (120 s by default); half of it is a fair hint.
const SIGNATURE_SHARE_RETRY: Duration = Duration::from_secs(60);

/// A 429 with `code` and `Retry-After` in whole seconds (at least 1).
fn too_many(code: ErrorCode, message: &str, retry: Duration) -> Response {
    let mut response = json_error(StatusCode::TOO_MANY_REQUESTS, code.as_str(), message, None);
    let secs = retry.as_secs_f64().ceil().max(1.0) as u64;
    if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// Human words for the codes handlers raise (hub.md §0.1); the code stays the contract.
fn describe(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::NotMember => "this peer is not a member of the community",
        ErrorCode::MembershipPending => "the membership is not active yet",
        ErrorCode::MembershipLapsed => "the membership has lapsed",
        ErrorCode::Banned => "this account is banned",
        ErrorCode::Csrf => "the request did not come from this hub's pages",
        ErrorCode::Forbidden => "not allowed",
        ErrorCode::NotBound => "this peer is not bound to an account",
        ErrorCode::InvalidToken => "the link is not valid",
        ErrorCode::TokenUsed => "the link was used already",
        ErrorCode::TokenExpired => "the link has expired",
        ErrorCode::PeerAlreadyBound => "this peer is bound to an account already",
        ErrorCode::TooManyPeers => "the account binds as many peers as allowed",
        ErrorCode::EmailTaken => "another account uses this address",
        ErrorCode::Unauthorized => "authentication required",
        ErrorCode::SignatureRequired => "a PeerSig signature is required",
        ErrorCode::InvalidVoucher => "the voucher is not valid",
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
            } => json_error(StatusCode::BAD_REQUEST, code.as_str(), &message, field),
            Self::Unauthorized(code) => json_error(
                StatusCode::UNAUTHORIZED,
                code.as_str(),
                "authentication failed",
                None,
            ),
            Self::Forbidden(code) => {
                json_error(StatusCode::FORBIDDEN, code.as_str(), describe(code), None)
            }
            Self::NotFound(code) => {
                let message = if code == ErrorCode::NotFound {
                    "no such resource"
                } else {
                    describe(code)
                };
                json_error(StatusCode::NOT_FOUND, code.as_str(), message, None)
            }
            Self::Conflict(code) => {
                json_error(StatusCode::CONFLICT, code.as_str(), describe(code), None)
            }
            Self::Gone(code) => json_error(StatusCode::GONE, code.as_str(), describe(code), None),
            Self::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                json_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::Internal.as_str(),
                    "internal error; see the server log",
                    None,
                )
            }
            Self::PayloadTooLarge => json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge.as_str(),
                "the body is larger than this route accepts",
                None,
            ),
            Self::UnsupportedMediaType => json_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType.as_str(),
                "send Content-Type: application/json",
                None,
            ),
            Self::PublishFirst => json_error(
                StatusCode::TOO_EARLY,
                ErrorCode::PublishFirst.as_str(),
                "publish presence before opening a legacy WebSocket",
                None,
            ),
            Self::TooManyRequests(retry) => too_many(ErrorCode::RateLimited, "slow down", retry),
            Self::TooManySignatures => too_many(
                ErrorCode::TooManySignatures,
                "too many signed requests from this address",
                SIGNATURE_SHARE_RETRY,
            ),
            Self::Upstream(message) => json_error(
                StatusCode::BAD_GATEWAY,
                ErrorCode::UpstreamError.as_str(),
                message,
                None,
            ),
            Self::Unavailable(message) => json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Unavailable.as_str(),
                message,
                None,
            ),
        }
    }
}

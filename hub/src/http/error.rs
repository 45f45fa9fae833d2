//! [`ApiError`]: the one error type at the HTTP boundary. Each variant carries the spec's stable
//! code (hub.md §0.1); internals are logged once and never sent.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use shared::error_code::ErrorCode;
use shared::peer_sig::PeerSigError;
use shared::rate_limit::RateLimited;
use shared::server::json_error;

use crate::presence::InvalidField;
use crate::store::StoreError;
use crate::{billing, membership};

/// Result of a handler.
pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// An error answered to the client.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// 400 with a code, the offending field and a message.
    #[error("{code}: {message}")]
    BadRequest {
        code: ErrorCode,
        field: Option<&'static str>,
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
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound(ErrorCode::NotFound),
            StoreError::Conflict => Self::Conflict(ErrorCode::Conflict),
            StoreError::Unavailable(_) => Self::Unavailable("database unavailable"),
            other => Self::Internal(other.to_string()),
        }
    }
}

/// A record that cannot be issued: the database, or a bug (a record breaking §11.3).
impl From<crate::directory::IssueError> for ApiError {
    fn from(error: crate::directory::IssueError) -> Self {
        match error {
            crate::directory::IssueError::Store(error) => error.into(),
            invalid @ crate::directory::IssueError::Invalid(_) => {
                Self::Internal(invalid.to_string())
            }
        }
    }
}

/// The one mapping of billing's refusals and failures (hub.md §8.2, §8.4).
impl From<billing::Error> for ApiError {
    fn from(error: billing::Error) -> Self {
        use crate::billing::signature::SignatureError;
        use billing::Error as E;
        let message = error.to_string();
        let bad_request = |code, field| Self::BadRequest {
            code,
            field,
            message: message.clone(),
        };
        match error {
            E::Disabled => Self::NotFound(ErrorCode::BillingDisabled),
            E::UnknownPlan(_) => bad_request(ErrorCode::UnknownPlan, Some("plan")),
            E::InvalidAmount(_) => bad_request(ErrorCode::InvalidAmount, Some("amount")),
            E::AlreadySubscribed => Self::Conflict(ErrorCode::AlreadySubscribed),
            E::NoCustomer => Self::NotFound(ErrorCode::NoCustomer),
            E::Membership(inner) => inner.into(),
            E::Signature(SignatureError::Stale) => bad_request(ErrorCode::StaleSignature, None),
            E::Signature(_) => bad_request(ErrorCode::BadSignature, None),
            E::InvalidEvent(_) => bad_request(ErrorCode::InvalidJson, None),
            E::Stripe(inner) => {
                tracing::warn!(error = %inner, "Stripe call failed");
                Self::Upstream("Stripe")
            }
            E::Store(inner) => inner.into(),
        }
    }
}

/// The one mapping of membership's refusals to the spec's status, code and field (hub.md §0.1).
impl From<membership::Error> for ApiError {
    fn from(error: membership::Error) -> Self {
        use membership::Error as E;
        let message = error.to_string();
        let bad_request = |code, field| Self::BadRequest {
            code,
            field: Some(field),
            message: message.clone(),
        };
        match error {
            E::InvalidLabel => bad_request(ErrorCode::InvalidField, "label"),
            E::InvalidEmail => bad_request(ErrorCode::InvalidField, "email"),
            E::EmailRequired => bad_request(ErrorCode::EmailRequired, "email"),
            E::InviteRequired => bad_request(ErrorCode::InviteRequired, "invite_code"),
            E::InvalidInvite => bad_request(ErrorCode::InvalidInvite, "invite_code"),
            E::MessageRequired => bad_request(ErrorCode::MessageRequired, "message"),
            E::MessageTooLong => bad_request(ErrorCode::InvalidField, "message"),
            E::InvalidBindCode => bad_request(ErrorCode::InvalidBindCode, "bind_code"),
            E::CompEndsInPast => bad_request(ErrorCode::InvalidField, "until"),
            E::PeerAlreadyBound { .. } => Self::Conflict(ErrorCode::PeerAlreadyBound),
            E::TooManyPeers { .. } => Self::Conflict(ErrorCode::TooManyPeers),
            E::EmailTaken => Self::Conflict(ErrorCode::EmailTaken),
            E::InvalidToken => Self::NotFound(ErrorCode::InvalidToken),
            E::TokenUsed => Self::Conflict(ErrorCode::TokenUsed),
            E::TokenExpired => Self::Gone(ErrorCode::TokenExpired),
            E::Banned { .. } => Self::Forbidden(ErrorCode::Banned),
            E::Refused { code } => Self::Forbidden(code),
            E::NotBound { .. } => Self::NotFound(ErrorCode::NotBound),
            E::NotFound { .. } => Self::NotFound(ErrorCode::NotFound),
            E::WrongState { .. } => Self::Conflict(ErrorCode::Conflict),
            E::Enforce(_) | E::SignVoucher(_) | E::UnknownPurpose(_) | E::InviteCodesExhausted => {
                Self::Internal(error.to_string())
            }
            E::Store(error) => error.into(),
        }
    }
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
                    "internal error; see the hub log",
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
            Self::TooManyRequests(retry) => {
                let mut response = json_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::RateLimited.as_str(),
                    "slow down",
                    None,
                );
                let secs = retry.as_secs_f64().ceil().max(1.0) as u64;
                if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                response
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn answer(error: impl Into<ApiError>) -> (StatusCode, serde_json::Value) {
        let response = error.into().into_response();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn membership_errors_answer_the_spec_status_code_and_field_when_mapped() {
        let (status, body) = answer(membership::Error::InvalidBindCode).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "invalid_bind_code");
        assert_eq!(body["error"]["field"], "bind_code");
        assert_eq!(body["error"]["message"], "bind_code: not valid or expired");

        let (status, body) = answer(membership::Error::TokenExpired).await;
        assert_eq!(status, StatusCode::GONE);
        assert_eq!(body["error"]["code"], "token_expired");

        let refused = membership::Error::Refused {
            code: ErrorCode::MembershipLapsed,
        };
        let (status, body) = answer(refused).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["error"]["code"], "membership_lapsed");

        let (status, body) = answer(membership::Error::Store(StoreError::NotFound)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["code"], "not_found");
    }
}

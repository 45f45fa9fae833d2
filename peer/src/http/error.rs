//! [`ApiError`]: the local API's error answer (peer.md §11.1), `{"error":{"code","message"}}`
//! with a stable snake_case code, and [`ApiJson`], the JSON body extractor whose rejections are
//! such errors (415 without `Content-Type: application/json`, 413 too large, 400 otherwise).

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

/// Result of a handler.
pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// An error answered to the local client. Messages are cut to 200 characters on the wire.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// 400: bad input.
    #[error("{code}: {message}")]
    BadRequest {
        /// The code, e.g. `invalid_field`.
        code: &'static str,
        /// What was wrong.
        message: String,
    },
    /// 413 `payload_too_large`.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 415 `unsupported_media_type`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 502: the remote peer failed.
    #[error("{code}: {message}")]
    BadGateway {
        /// The code, e.g. `unreachable`.
        code: &'static str,
        /// What failed.
        message: String,
    },
    /// 504: the remote peer did not answer in time.
    #[error("{code}: {message}")]
    GatewayTimeout {
        /// The code, e.g. `timeout`.
        code: &'static str,
        /// What timed out.
        message: String,
    },
    /// 503: not available now (shutting down).
    #[error("{code}: {message}")]
    Unavailable {
        /// The code.
        code: &'static str,
        /// Why.
        message: String,
    },
    /// 500 `internal`: logged once here, never described to the client.
    #[error("internal: {0}")]
    Internal(String),
}

impl ApiError {
    /// 400 with `code`.
    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// 500 for an unexpected failure; `error` is logged, not sent.
    pub(crate) fn internal(error: impl std::fmt::Display) -> Self {
        Self::Internal(error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match &self {
            Self::BadRequest { code, message } => {
                (StatusCode::BAD_REQUEST, *code, message.as_str())
            }
            Self::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "too large",
            ),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "JSON bodies need Content-Type: application/json",
            ),
            Self::BadGateway { code, message } => {
                (StatusCode::BAD_GATEWAY, *code, message.as_str())
            }
            Self::GatewayTimeout { code, message } => {
                (StatusCode::GATEWAY_TIMEOUT, *code, message.as_str())
            }
            Self::Unavailable { code, message } => {
                (StatusCode::SERVICE_UNAVAILABLE, *code, message.as_str())
            }
            Self::Internal(error) => {
                tracing::error!(%error, "local API: internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                )
            }
        };
        shared::server::json_error(status, code, message, None)
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> Self {
        Self::internal(error)
    }
}

/// A JSON request body (peer.md §11.1): `Content-Type: application/json`.
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::UnsupportedMediaType),
            Err(JsonRejection::BytesRejection(e))
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(ApiError::PayloadTooLarge)
            }
            Err(JsonRejection::JsonDataError(e)) => {
                Err(ApiError::bad_request("invalid_field", e.body_text()))
            }
            Err(other) => Err(ApiError::bad_request("invalid_json", other.body_text())),
        }
    }
}

/// Parses a PeerId field of a request (base58, Ed25519 only).
///
/// # Errors
/// 400 `invalid_peer_id`.
pub(crate) fn parse_peer_id(text: &str) -> ApiResult<libp2p::PeerId> {
    text.parse::<shared::ids::Ed25519PeerId>()
        .map(|id| id.peer_id())
        .map_err(|_| ApiError::bad_request("invalid_peer_id", "peer_id is not an Ed25519 PeerId"))
}

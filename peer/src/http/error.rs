//! [`ApiError`]: the local API's error answer (peer.md §11.1), `{"error":{"code","message"}}`
//! with a stable snake_case code, and [`ApiJson`], the JSON body extractor whose rejections are
//! such errors (415 without `Content-Type: application/json`, 413 above 1 MiB, 400 otherwise).

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
    /// 403: `forbidden_host`, `forbidden_origin`.
    #[error("{code}: {message}")]
    Forbidden {
        /// The code.
        code: &'static str,
        /// Why.
        message: String,
    },
    /// 404: unknown peer, hub, route.
    #[error("{code}: {message}")]
    NotFound {
        /// The code, e.g. `unknown_peer`.
        code: &'static str,
        /// What was not found.
        message: String,
    },
    /// 409: the request conflicts with the current state.
    #[error("{code}: {message}")]
    Conflict {
        /// The code.
        code: &'static str,
        /// Why.
        message: String,
    },
    /// 405 `method_not_allowed`.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 413 `payload_too_large`.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 415 `unsupported_media_type`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 502: the remote peer or hub failed.
    #[allow(dead_code, reason = "raised by the MQ and chat routes")]
    #[error("{code}: {message}")]
    BadGateway {
        /// The code, e.g. `unreachable`.
        code: &'static str,
        /// What failed.
        message: String,
    },
    /// 504: the remote peer or hub did not answer in time.
    #[allow(dead_code, reason = "raised by the MQ and chat routes")]
    #[error("{code}: {message}")]
    GatewayTimeout {
        /// The code, e.g. `timeout`.
        code: &'static str,
        /// What timed out.
        message: String,
    },
    /// 503: too many requests or streams, or the request took too long.
    #[error("{code}: {message}")]
    Unavailable {
        /// The code, e.g. `busy`.
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

    /// 403 with `code`.
    pub(crate) fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::Forbidden {
            code,
            message: message.into(),
        }
    }

    /// 404 with `code`.
    pub(crate) fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::NotFound {
            code,
            message: message.into(),
        }
    }

    /// 503 with `code`.
    pub(crate) fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unavailable {
            code,
            message: message.into(),
        }
    }

    /// 500 for an unexpected failure; `error` is logged, not sent.
    pub(crate) fn internal(error: impl std::fmt::Display) -> Self {
        Self::Internal(error.to_string())
    }

    fn parts(&self) -> (StatusCode, &'static str, &str) {
        match self {
            Self::BadRequest { code, message } => (StatusCode::BAD_REQUEST, code, message),
            Self::Forbidden { code, message } => (StatusCode::FORBIDDEN, code, message),
            Self::NotFound { code, message } => (StatusCode::NOT_FOUND, code, message),
            Self::Conflict { code, message } => (StatusCode::CONFLICT, code, message),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this method is not allowed here",
            ),
            Self::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the body is larger than 1 MiB",
            ),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "JSON bodies need Content-Type: application/json",
            ),
            Self::BadGateway { code, message } => (StatusCode::BAD_GATEWAY, code, message),
            Self::GatewayTimeout { code, message } => (StatusCode::GATEWAY_TIMEOUT, code, message),
            Self::Unavailable { code, message } => (StatusCode::SERVICE_UNAVAILABLE, code, message),
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(error) = &self {
            tracing::error!(%error, "local API request failed");
        }
        let (status, code, message) = self.parts();
        shared::server::json_error(status, code, message, None)
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> Self {
        match error {
            crate::store::StoreError::NotFound => Self::not_found("not_found", "not found"),
            crate::store::StoreError::Conflict => Self::Conflict {
                code: "conflict",
                message: "conflicts with an existing entry".to_owned(),
            },
            other => Self::internal(other),
        }
    }
}

/// A JSON request body (peer.md §11.1): `Content-Type: application/json`, at most 1 MiB.
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

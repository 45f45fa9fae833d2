//! The super hub's mappings into [`ApiError`] (`shared::server`), the one error type at the HTTP
//! boundary: each domain error of the directory becomes the spec's status, code and field here.

use shared::error_code::ErrorCode;

use crate::directory::RegisterError;

pub(crate) use shared::server::{ApiError, ApiResult};

/// §3.1: rows 1–10 answer 400 with the row's code and field (413 for an oversized envelope), row
/// 11 answers 429 and row 12 answers 409.
impl From<RegisterError> for ApiError {
    fn from(error: RegisterError) -> Self {
        match error {
            RegisterError::Refused(refusal) if refusal.code == ErrorCode::PayloadTooLarge => {
                Self::PayloadTooLarge
            }
            RegisterError::Refused(refusal) => Self::BadRequest {
                code: refusal.code,
                field: refusal.field,
                message: refusal.message,
            },
            RegisterError::RateLimited(limited) => limited.into(),
            RegisterError::Conflict(code) => Self::Conflict(code),
            RegisterError::Store(error) => error.into(),
        }
    }
}

/// 400 `invalid_field` for a path segment named `field` that does not parse.
pub(crate) fn invalid_path(field: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::BadRequest {
        code: ErrorCode::InvalidField,
        field: Some(field),
        message: message.into(),
    }
}

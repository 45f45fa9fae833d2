//! Request bodies of the JSON routes (hub.md §0.1, §13.1): reading the limited body, JSON with
//! its content type, the `{"email"}` body of the mail-sending routes, and the pages' form posts.

use axum::body::Bytes;
use axum::extract::Form;
use axum::extract::rejection::{BytesRejection, FormRejection};
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use shared::error_code::ErrorCode;

use super::extract::Caller;
use super::{ApiError, ApiResult};
use crate::membership::email_field;
use crate::state::AppState;

/// Reads a body limited by the router, as JSON of `T` (415 without `application/json`).
pub(crate) fn json_body<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> ApiResult<T> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(ApiError::UnsupportedMediaType);
    }
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest {
        code: ErrorCode::InvalidJson,
        field: None,
        message: format!("invalid JSON body: {}", shorten(&e.to_string())),
    })
}

/// The body bytes, or the error its rejection deserves.
pub(crate) fn body_bytes(body: Result<Bytes, BytesRejection>) -> ApiResult<Bytes> {
    body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        _ => ApiError::BadRequest {
            code: ErrorCode::InvalidJson,
            field: Some("body"),
            message: "the body could not be read".to_owned(),
        },
    })
}

fn shorten(text: &str) -> String {
    text.chars().take(120).collect()
}

#[derive(Debug, Deserialize)]
struct EmailBody {
    email: String,
}

/// The normalized address of an `{"email"}` body, after the email buckets.
pub(super) fn email_request(state: &AppState, caller: &Caller, body: &[u8]) -> ApiResult<String> {
    let EmailBody { email } = json_body(&caller.headers, body)?;
    let email = email_field(&email)?;
    state.limits.check_email(caller.ip, &email)?;
    Ok(email)
}

/// The decoded form of a page's post, or the error its rejection deserves (413 over 16 KiB, 415,
/// else 400).
pub(crate) fn form_body<T: DeserializeOwned>(form: Result<Form<T>, FormRejection>) -> ApiResult<T> {
    form.map(|Form(value)| value)
        .map_err(|rejection| match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
            _ => ApiError::BadRequest {
                code: ErrorCode::InvalidField,
                field: None,
                message: "The form could not be read.".to_owned(),
            },
        })
}

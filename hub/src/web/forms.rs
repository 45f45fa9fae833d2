//! What every form handler shares: reading the form body (16 KiB, hub.md §13.1), the origin rule
//! for posts (§6.9 rule 2), rate limits (§13.2), and [`WebError`] — an API error shown as an HTML
//! page with the same status (§0.1).

use std::time::Duration;

use axum::extract::Form;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use shared::error_code::ErrorCode;

use super::html::{Page, esc};
use crate::http::ApiError;
use crate::http::session::{Caller, check_csrf, origin_of};
use crate::membership;
use crate::state::AppState;

/// The result of a page handler.
pub(crate) type WebResult<T = Page> = Result<T, WebError>;

/// An error page: status, title and message, plus `Retry-After` for 429.
#[derive(Debug)]
pub(crate) struct WebError {
    status: StatusCode,
    title: &'static str,
    message: String,
    retry_after: Option<Duration>,
}

impl WebError {
    /// An error page with `title` over `message` (text, escaped when rendered).
    pub(crate) fn new(status: StatusCode, title: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            title,
            message: message.into(),
            retry_after: None,
        }
    }
}

impl From<ApiError> for WebError {
    fn from(error: ApiError) -> Self {
        let (status, title, message): (_, _, String) = match error {
            ApiError::BadRequest { message, .. } => {
                (StatusCode::BAD_REQUEST, "Please check your input", message)
            }
            ApiError::Unauthorized(_) => (
                StatusCode::UNAUTHORIZED,
                "Please sign in",
                "This page needs you to be signed in.".into(),
            ),
            ApiError::Forbidden(code) => (StatusCode::FORBIDDEN, "Not allowed", refusal(code)),
            ApiError::NotFound(code) => (StatusCode::NOT_FOUND, "Not found", missing(code)),
            ApiError::Conflict(code) => (StatusCode::CONFLICT, "That did not work", conflict(code)),
            ApiError::Gone(_) => (
                StatusCode::GONE,
                "This link has expired",
                "Links are valid for a limited time. Ask for a new one below.".into(),
            ),
            ApiError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "Too much text",
                "The form was larger than this hub accepts (16 KiB).".into(),
            ),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported form",
                "Send the form from this hub's pages.".into(),
            ),
            ApiError::TooManyRequests(retry) => {
                return Self {
                    retry_after: Some(retry),
                    ..Self::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "Too many requests",
                        format!(
                            "Please wait {} and try again.",
                            super::words::duration(retry)
                        ),
                    )
                };
            }
            ApiError::Upstream(_) => (
                StatusCode::BAD_GATEWAY,
                "Something upstream failed",
                "A service this hub relies on did not answer. Please try again later.".into(),
            ),
            ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
                "The hub cannot answer right now. Please try again in a moment.".into(),
            ),
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error on a web page");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The hub could not complete this request; the operator can find details in its log."
                        .into(),
                )
            }
            ApiError::PublishFirst => (
                StatusCode::TOO_EARLY,
                "Too early",
                "Publish presence first.".into(),
            ),
        };
        Self::new(status, title, message)
    }
}

/// A membership refusal shows the page its API answer would (same status, hub.md §0.1).
impl From<membership::Error> for WebError {
    fn from(error: membership::Error) -> Self {
        ApiError::from(error).into()
    }
}

fn refusal(code: ErrorCode) -> String {
    match code {
        ErrorCode::Csrf => {
            "This form did not come from this hub's pages. Go back, reload the page and try again."
        }
        ErrorCode::Banned => "This account is banned from the community.",
        _ => "You are not allowed to do this.",
    }
    .to_owned()
}

fn missing(code: ErrorCode) -> String {
    match code {
        ErrorCode::InvalidToken => {
            "This link is not valid. Copy the whole link from the email, or ask for a new one."
        }
        ErrorCode::NotBound => "There is no account here for you.",
        _ => "There is nothing here.",
    }
    .to_owned()
}

fn conflict(code: ErrorCode) -> String {
    match code {
        ErrorCode::TokenUsed => "This link was used already. To sign in again, ask for a new link.",
        ErrorCode::PeerAlreadyBound => "This device belongs to an account already.",
        ErrorCode::TooManyPeers => {
            "Your account has as many devices as it may have. Unbind one first."
        }
        ErrorCode::EmailTaken => "Another account uses this address.",
        _ => "The request conflicts with the current state. Reload and try again.",
    }
    .to_owned()
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let mut message = esc(&self.message).to_string();
        if matches!(self.status, StatusCode::CONFLICT | StatusCode::GONE) {
            message.push_str(
                "</p><p><a class=\"button\" href=\"/login\">Get a sign-in link</a> \
                 <a class=\"button secondary\" href=\"/join\">Join</a>",
            );
        }
        let mut page = Page::error(self.status, self.title, &message);
        if let Some(retry) = self.retry_after {
            let secs = retry.as_secs_f64().ceil().max(1.0) as u64;
            page = page.header(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        page.into_response()
    }
}

/// The decoded form, or the page its rejection deserves (413 over 16 KiB, 415, else 400).
pub(crate) fn form<T: DeserializeOwned>(form: Result<Form<T>, FormRejection>) -> WebResult<T> {
    form.map(|Form(value)| value).map_err(|rejection| {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
            _ => ApiError::BadRequest {
                code: ErrorCode::InvalidField,
                field: None,
                message: "The form could not be read.".to_owned(),
            },
        }
        .into()
    })
}

/// The origin rule for a post. With the session cookie it is §6.9 rule 2 (this hub's `Origin`
/// or `Referer` is required); without it a foreign `Origin` is still refused, so no other site
/// can submit these forms on a visitor's behalf (for example to sign them in to an account that
/// is not theirs).
pub(crate) fn check_origin(state: &AppState, caller: &Caller) -> WebResult<()> {
    if caller.session_cookie().is_some() {
        return Ok(check_csrf(state, &caller.method, &caller.headers)?);
    }
    let header_value = |name| caller.headers.get(name).and_then(|v| v.to_str().ok());
    // Origin, else Referer (§10): a form post naming another site is refused.
    let origin = header_value(header::ORIGIN).or_else(|| header_value(header::REFERER));
    match origin {
        Some(origin) if origin_of(origin) != origin_of(state.membership.external_url()) => {
            Err(ApiError::Forbidden(ErrorCode::Csrf).into())
        }
        _ => Ok(()),
    }
}

/// A rate-limit verdict as a result: `Err` is 429 with `Retry-After`.
pub(crate) fn limited(verdict: Result<(), Duration>) -> WebResult<()> {
    verdict.map_err(|retry| ApiError::TooManyRequests(retry).into())
}

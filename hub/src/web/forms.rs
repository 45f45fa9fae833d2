//! What every page handler shares: rate limits (§13.2) and [`WebError`] — an API or membership
//! error shown as an HTML page with the same status (§0.1). Reading the form body and the origin
//! rule for posts are request plumbing shared with the JSON routes (`http::body`,
//! `http::extract`).

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use shared::error_code::ErrorCode;
use shared::rate_limit::RateLimited;

use super::html::{Page, esc};
use crate::http::ApiError;
use crate::{billing, membership};

/// The result of a page handler.
pub(crate) type WebResult<T = Page> = Result<T, WebError>;

/// An error page: status, title and message, plus `Retry-After` for 429.
#[derive(Debug)]
pub(crate) struct WebError {
    status: StatusCode,
    title: &'static str,
    message: String,
    retry_after: Option<Duration>,
    /// Offer a fresh sign-in link and joining (a link used or expired); not for billing's
    /// conflicts, which the account page resolves.
    sign_in_links: bool,
}

impl WebError {
    /// An error page with `title` over `message` (text, escaped when rendered).
    pub(crate) fn new(status: StatusCode, title: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            title,
            message: message.into(),
            retry_after: None,
            sign_in_links: false,
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
            ApiError::Conflict(ErrorCode::AlreadySubscribed) => {
                return Self::new(
                    StatusCode::CONFLICT,
                    "Already subscribed",
                    conflict(ErrorCode::AlreadySubscribed),
                );
            }
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
            ApiError::TooManySignatures => {
                return Self::from(ApiError::TooManyRequests(Duration::from_secs(60)));
            }
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
        Self {
            sign_in_links: matches!(status, StatusCode::CONFLICT | StatusCode::GONE),
            ..Self::new(status, title, message)
        }
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
        ErrorCode::MembershipPending => "Your membership is not active yet.",
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
        ErrorCode::BillingDisabled => "This community does not take payments on these pages.",
        ErrorCode::NoCustomer => {
            "There is no billing to manage yet: you have not paid from this account."
        }
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
        ErrorCode::AlreadySubscribed => {
            "You have a subscription already. Use Manage billing on your account page to change it."
        }
        _ => "The request conflicts with the current state. Reload and try again.",
    }
    .to_owned()
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let mut message = esc(&self.message).to_string();
        if self.sign_in_links {
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

/// A billing refusal or failure shows the page its API answer would (hub.md §8.2).
impl From<billing::Error> for WebError {
    fn from(error: billing::Error) -> Self {
        ApiError::from(error).into()
    }
}

/// An empty bucket shows the 429 page with `Retry-After` (hub.md §13.2).
impl From<RateLimited> for WebError {
    fn from(limited: RateLimited) -> Self {
        ApiError::from(limited).into()
    }
}

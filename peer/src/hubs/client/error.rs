//! [`HubCallError`]: why a call to a hub failed, with the short code `last_error` shows.

use std::time::Duration;

use super::MAX_BODY;

/// Membership codes a hub refuses with (403, peer.md §3.2 rule 4).
pub const MEMBERSHIP_CODES: [&str; 4] = [
    "not_member",
    "membership_pending",
    "membership_lapsed",
    "banned",
];

/// Why a call to a hub failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubCallError {
    /// No answer: connection refused, timeout, broken stream.
    #[error("hub unreachable: {0}")]
    Unreachable(String),
    /// The answer was longer than [`MAX_BODY`].
    #[error("hub answer larger than {MAX_BODY} bytes")]
    TooLarge,
    /// The answer is not what the route returns.
    #[error("malformed hub answer: {0}")]
    Malformed(String),
    /// An error status not covered by the other variants.
    #[error("hub answered {status} {code}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The `error.code` of the body, empty when absent.
        code: String,
    },
    /// 429: calls of this kind wait this long.
    #[error("rate limited by the hub for {0:?}")]
    RateLimited(Duration),
    /// 503, with `Retry-After` when given.
    #[error("hub unavailable")]
    Unavailable(Option<Duration>),
    /// 403 with a membership code (peer.md §3.6).
    #[error("membership refusal: {0}")]
    Refused(String),
    /// The hub kept refusing our signature (`last_error` = the code).
    #[error("signature refused: {0}")]
    Signature(String),
    /// The hub id is not known (no info document read yet).
    #[error("hub id unknown")]
    NoHubId,
}

impl HubCallError {
    /// A short code for `last_error`.
    pub fn code(&self) -> String {
        match self {
            Self::Unreachable(_) => "unreachable".to_owned(),
            Self::TooLarge => "too_large".to_owned(),
            Self::Malformed(_) => "malformed".to_owned(),
            Self::Status { code, status } if code.is_empty() => format!("http_{status}"),
            Self::Status { code, .. } | Self::Refused(code) | Self::Signature(code) => code.clone(),
            Self::RateLimited(_) => "rate_limited".to_owned(),
            Self::Unavailable(_) => "unavailable".to_owned(),
            Self::NoHubId => "no_hub_id".to_owned(),
        }
    }
}

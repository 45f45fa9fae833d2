//! `POST {superhub}/api/v1/hubs` (superhub.md §3): sends one signed envelope and sorts the answer
//! into what hub.md §11.4 rule 2 does next.

use std::time::Duration;

use shared::api::ErrorBody;
use shared::envelope::Envelope;
use shared::error_code::ErrorCode;

/// Whole-request timeout (hub.md §11.4 rule 1).
const TIMEOUT: Duration = Duration::from_secs(10);
/// The most of an answer read; registration answers are a few hundred bytes.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// What a super hub answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// 200 or 202 with the hub's `state` there.
    Accepted(String),
    /// 409 `stale_seq`: it holds a newer (or different) envelope with this `seq`.
    StaleSeq,
    /// 429 or 503: try again after `Retry-After` (when given).
    Busy(Option<Duration>),
    /// Anything else, described for the `announcements` table and the log.
    Failed(String),
}

/// A client for super hubs' registration endpoint. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    http: reqwest::Client,
}

#[derive(serde::Deserialize)]
struct Answer {
    state: String,
}

impl Client {
    /// A client with the timeout of §11.4 that follows no redirects.
    ///
    /// # Panics
    /// When the TLS backend cannot initialise (a broken build).
    pub(crate) fn new() -> Self {
        let http =
            shared::http_client::outbound(concat!("goop-hub/", env!("CARGO_PKG_VERSION")), TIMEOUT);
        Self { http }
    }

    /// Posts `envelope` to the super hub at `base_url`.
    pub(crate) async fn post(&self, base_url: &str, envelope: &Envelope) -> Reply {
        let body = serde_json::to_vec(envelope).expect("invariant: an envelope serializes");
        let sent = self
            .http
            .post(format!("{base_url}/api/v1/hubs"))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) if error.is_timeout() => return Reply::Failed("timed out".to_owned()),
            Err(error) => return Reply::Failed(shared::http_client::describe(&error)),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = match read_limited(response).await {
            Ok(body) => body,
            Err(reason) => return Reply::Failed(format!("{status}: {reason}")),
        };
        match status {
            200 | 202 => match serde_json::from_slice::<Answer>(&body) {
                Ok(answer) if is_state(&answer.state) => Reply::Accepted(answer.state),
                _ => Reply::Failed(format!("{status} without a valid state")),
            },
            429 | 503 => Reply::Busy(retry_after),
            _ => {
                let code = serde_json::from_slice::<ErrorBody>(&body)
                    .map(|e| e.error.code)
                    .unwrap_or_default();
                if status == 409 && code == ErrorCode::StaleSeq.as_str() {
                    Reply::StaleSeq
                } else {
                    Reply::Failed(format!("{status} {code:.64}").trim_end().to_owned())
                }
            }
        }
    }
}

/// A state word as superhub.md §3.4 spells them: 1–32 of `a-z` and `_`. Anything else from a
/// super hub is not stored or shown.
fn is_state(state: &str) -> bool {
    (1..=32).contains(&state.len()) && state.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

async fn read_limited(response: reqwest::Response) -> Result<Vec<u8>, String> {
    shared::http_client::read_limited(response, MAX_ANSWER_BYTES)
        .await
        .map_err(|e| e.to_string())
}

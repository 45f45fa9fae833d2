//! [`HubClient`]: HTTP calls to one hub (peer.md §3.2). Public reads go out unsigned; every other
//! call to a signed hub carries PeerSig headers with a timestamp from our clock plus a per-hub
//! offset, strictly increasing per hub, and follows the retry rules of §3.2: one retry after
//! `stale_timestamp` (offset taken from the answer's `Date`), one after `replayed`, one after
//! `bad_signature` (hub id re-read first). Bodies are read up to [`MAX_BODY`]; 429 pauses that
//! kind of call for `Retry-After`.

mod error;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use libp2p::identity::ed25519;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use shared::clock::Clock;
use shared::ids::Ed25519PeerId;
use shared::peer_sig::SignedHeaders;

use crate::hub_url::HubUrl;

pub use error::{HubCallError, MEMBERSHIP_CODES};

/// A `Date` header value (IMF-fixdate) in unix ms.
pub fn parse_http_date(text: &str) -> Option<i64> {
    let time = httpdate::parse_http_date(text).ok()?;
    let since = time.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(since.as_millis()).ok()
}

/// Deadline of a hub HTTP call (peer.md §13).
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// Deadline of `POST /publish`.
pub const PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest hub answer read (peer.md §14: a longer body aborts the call).
pub const MAX_BODY: usize = 1024 * 1024;
/// A `Date` header this far from our adjusted clock moves the offset (it has 1 s resolution).
const OFFSET_SLACK_MS: i64 = 2_000;
/// Longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// A read answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: StatusCode,
    /// The body (at most [`MAX_BODY`]).
    pub body: Vec<u8>,
    retry_after: Option<Duration>,
}

impl Answer {
    /// The body as `T`.
    ///
    /// # Errors
    /// [`HubCallError::Malformed`].
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, HubCallError> {
        serde_json::from_slice(&self.body).map_err(|e| HubCallError::Malformed(e.to_string()))
    }

    /// `error.code` of an error body, empty when absent.
    pub fn code(&self) -> String {
        serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// The error of a non-success answer that the caller does not handle itself.
    pub fn error(&self) -> HubCallError {
        let code = self.code();
        match self.status.as_u16() {
            403 if MEMBERSHIP_CODES.contains(&code.as_str()) => HubCallError::Refused(code),
            429 => HubCallError::RateLimited(self.retry_after.unwrap_or(Duration::from_secs(1))),
            503 => HubCallError::Unavailable(self.retry_after),
            status => HubCallError::Status { status, code },
        }
    }
}

/// The HTTP side of one hub. One per hub, shared by its tasks.
#[derive(Debug)]
pub struct HubClient {
    url: HubUrl,
    http: reqwest::Client,
    key: ed25519::Keypair,
    clock: Clock,
    hub_id: Mutex<Option<Ed25519PeerId>>,
    offset_ms: AtomicI64,
    last_ts: Mutex<i64>,
    paused: Mutex<HashMap<&'static str, Instant>>,
}

impl HubClient {
    /// A client of `url` signing with `key` on `clock`.
    pub fn new(url: HubUrl, key: ed25519::Keypair, clock: Clock) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(HTTP_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(shared::protocol::agent_version(crate::SOFTWARE))
            .build()
            .expect("invariant: the rustls client builds");
        Self {
            url,
            http,
            key,
            clock,
            hub_id: Mutex::new(None),
            offset_ms: AtomicI64::new(0),
            last_ts: Mutex::new(0),
            paused: Mutex::new(HashMap::new()),
        }
    }

    /// The hub.
    pub fn url(&self) -> &HubUrl {
        &self.url
    }

    /// The HTTP client (no overall timeout: set one per request).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The hub id signatures are made for.
    pub fn hub_id(&self) -> Option<Ed25519PeerId> {
        *self.hub_id.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the hub id (from `/api/v1/info`).
    pub fn set_hub_id(&self, id: Option<Ed25519PeerId>) {
        *self.hub_id.lock().unwrap_or_else(|e| e.into_inner()) = id;
    }

    /// The per-hub clock offset in ms.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// Takes the hub's time `hub_ms` (WS challenge `ts`, a `Date` header) into the offset.
    pub fn observe_hub_time(&self, hub_ms: i64, slack_ms: i64) {
        let offset = hub_ms.saturating_sub(self.clock.now_ms());
        if (offset - self.offset_ms()).abs() > slack_ms {
            tracing::debug!(hub = %self.url, offset, "hub clock offset changed");
            self.offset_ms.store(offset, Ordering::Relaxed);
            // A new offset starts a new sequence: waiting for the old one to be passed could take
            // as long as the clock was off. Signatures still differ (the replay cache keys on
            // the signature, whose input holds the timestamp).
            *self.last_ts.lock().unwrap_or_else(|e| e.into_inner()) = 0;
        }
    }

    /// The next signing timestamp: our clock plus the offset, strictly above the last one.
    pub fn next_timestamp(&self) -> i64 {
        let now = self.clock.now_ms().saturating_add(self.offset_ms()).max(1);
        let mut last = self.last_ts.lock().unwrap_or_else(|e| e.into_inner());
        *last = now.max(*last + 1);
        *last
    }

    /// PeerSig headers for one request, signed now.
    ///
    /// # Errors
    /// [`HubCallError::NoHubId`].
    pub fn sign(
        &self,
        method: &Method,
        target: &str,
        body: &[u8],
    ) -> Result<SignedHeaders, HubCallError> {
        let audience = self.hub_id().ok_or(HubCallError::NoHubId)?;
        let ts = self.next_timestamp();
        Ok(SignedHeaders::sign(
            &self.key,
            &audience,
            ts,
            method.as_str(),
            target,
            body,
        ))
    }

    /// An unsigned call (public reads; everything at legacy hubs). Any status is returned.
    ///
    /// # Errors
    /// Transport failures, [`HubCallError::TooLarge`].
    pub async fn call(
        &self,
        method: Method,
        target: &str,
        body: Option<Vec<u8>>,
        deadline: Duration,
    ) -> Result<Answer, HubCallError> {
        self.send(method, target, body, None, deadline).await
    }

    /// A PeerSig call to a signed hub with the retries of §3.2. Returns any answer that is not
    /// 401, 403 with a membership code, 429 or 503 (those are errors); `kind` names the call for
    /// 429 pauses.
    ///
    /// # Errors
    /// [`HubCallError`].
    pub async fn signed(
        &self,
        kind: &'static str,
        method: Method,
        target: &str,
        body: Option<Vec<u8>>,
        deadline: Duration,
    ) -> Result<Answer, HubCallError> {
        if let Some(wait) = self.paused_for(kind) {
            return Err(HubCallError::RateLimited(wait));
        }
        let (mut stale, mut replayed, mut bad_sig) = (false, false, false);
        loop {
            let bytes = body.clone().unwrap_or_default();
            let headers = self.sign(&method, target, &bytes)?;
            let answer = self
                .send(
                    method.clone(),
                    target,
                    body.clone(),
                    Some(headers),
                    deadline,
                )
                .await?;
            let code = answer.code();
            match (answer.status.as_u16(), code.as_str()) {
                (401, "stale_timestamp") if !stale => stale = true,
                (401, "replayed") if !replayed => replayed = true,
                (401, "bad_signature") if !bad_sig => {
                    bad_sig = true;
                    let info = crate::hubs::discovery::read_info(self).await?;
                    self.set_hub_id(Some(info.id));
                }
                (401, _) => {
                    tracing::warn!(hub = %self.url, code, "the hub refused our signature");
                    return Err(HubCallError::Signature(code));
                }
                (400, bug) if is_sig_bug(bug) => {
                    tracing::error!(hub = %self.url, code, "our signed request is malformed (a bug)");
                    return Err(HubCallError::Signature(code));
                }
                (403, _) | (503, _) => return Err(answer.error()),
                (429, _) => {
                    let error = answer.error();
                    if let HubCallError::RateLimited(wait) = error {
                        self.pause(kind, wait);
                    }
                    return Err(error);
                }
                _ => return Ok(answer),
            }
            tracing::debug!(hub = %self.url, code, "retrying a signed call once");
        }
    }

    async fn send(
        &self,
        method: Method,
        target: &str,
        body: Option<Vec<u8>>,
        headers: Option<SignedHeaders>,
        deadline: Duration,
    ) -> Result<Answer, HubCallError> {
        let mut request = self
            .http
            .request(method, self.url.join(target))
            .timeout(deadline);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        if let Some(headers) = headers {
            for (name, value) in headers.into_pairs() {
                request = request.header(name, value);
            }
        }
        let response = request
            .send()
            .await
            .map_err(|e| HubCallError::Unreachable(shared::http_client::describe(&e)))?;
        if let Some(date) = header(&response, "date").and_then(|d| parse_http_date(&d)) {
            self.observe_hub_time(date, OFFSET_SLACK_MS);
        }
        let status = response.status();
        let retry_after = header(&response, "retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
        let body = shared::http_client::read_limited(response, MAX_BODY)
            .await
            .map_err(|e| match e {
                shared::http_client::ReadError::TooLarge(_) => HubCallError::TooLarge,
                shared::http_client::ReadError::Transport(e) => {
                    HubCallError::Unreachable(shared::http_client::describe(&e))
                }
            })?;
        Ok(Answer {
            status,
            body,
            retry_after,
        })
    }

    fn paused_for(&self, kind: &'static str) -> Option<Duration> {
        let mut paused = self.paused.lock().unwrap_or_else(|e| e.into_inner());
        let until = *paused.get(kind)?;
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            paused.remove(kind);
            return None;
        }
        Some(left)
    }

    fn pause(&self, kind: &'static str, wait: Duration) {
        self.paused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(kind, Instant::now() + wait);
    }
}

fn is_sig_bug(code: &str) -> bool {
    matches!(
        code,
        "incomplete_signature" | "unsupported_peer_id" | "peer_id_mismatch"
    )
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_date_parses_to_unix_ms() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777_000)
        );
        assert_eq!(parse_http_date("yesterday"), None);
        assert_eq!(parse_http_date(""), None);
    }

    #[test]
    fn timestamps_increase_strictly_and_follow_the_offset() {
        let client = HubClient::new(
            HubUrl::parse("http://h.example").unwrap(),
            ed25519::Keypair::generate(),
            Clock::system(),
        );
        let a = client.next_timestamp();
        let b = client.next_timestamp();
        assert!(b > a);
        client.observe_hub_time(Clock::system().now_ms() + 90_000, OFFSET_SLACK_MS);
        assert!(client.next_timestamp() >= a + 89_000);
        assert!(matches!(
            client.sign(&Method::GET, "/x", b""),
            Err(HubCallError::NoHubId)
        ));
    }
}

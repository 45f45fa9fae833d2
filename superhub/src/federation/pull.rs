//! The pull loop of one peer (superhub.md §7.2): at start and then every interval ± 10 %, fetch
//! the peer's feed page by page from the stored cursor, take every item and store the cursor in
//! one transaction per page; on failure back off. Only the replica holding the peer's [`Lease`]
//! pulls; it checks the lease before every page. Times come from the config's clock, which the
//! loop polls in short slices, so a test that moves the clock wakes it.

use shared::http_client::ReadError;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use shared::clock::Clock;
use tokio_util::sync::CancellationToken;

use super::backoff::{failure_delay, interval_delay, is_dead};
use super::cursor::FeedCursor;
use super::feed::FeedPage;
use super::items::{self, ItemOutcome, Source};
use crate::config::{Config, FederationPeer};
use crate::directory::Directory;
use crate::lease::{Lease, Leases};
use crate::metrics::FederationMetrics;
use crate::store::{PeerRow, PeerState, PullOutcome, Store, StoreError, lock_directory};

/// The longest the loop sleeps before looking at the clock again.
const SLICE: Duration = Duration::from_millis(50);

/// Why a pull failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PullError {
    /// Connecting, sending or reading failed (timeouts included).
    #[error("request failed: {0}")]
    Request(#[source] reqwest::Error),
    /// The whole request took longer than `request_timeout`.
    #[error("timed out")]
    Timeout,
    /// Not 200.
    #[error("answered HTTP {0}")]
    Status(u16),
    /// The body exceeded `max_response_bytes`.
    #[error("response larger than {0} bytes")]
    TooLarge(usize),
    /// The body is not a feed page.
    #[error("invalid JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// The page names another super hub than the configured id.
    #[error("id_mismatch: the feed is served by {0}")]
    IdMismatch(String),
    /// `next` is malformed or does not advance while `more` is true.
    #[error("bad_cursor: {0:?}")]
    BadCursor(String),
    /// The lease was lost mid-round; another replica continues.
    #[error("lease lost")]
    LeaseLost,
    /// The local database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PullError {
    /// A request error; reqwest's own whole-request timeout counts as [`PullError::Timeout`].
    fn from_request(error: reqwest::Error) -> Self {
        if error.is_timeout() {
            Self::Timeout
        } else {
            Self::Request(error)
        }
    }
}

/// One peer's puller.
#[derive(Debug)]
pub(crate) struct Puller {
    pub(crate) peer: FederationPeer,
    pub(crate) directory: Directory,
    pub(crate) config: Arc<Config>,
    pub(crate) client: reqwest::Client,
    pub(crate) metrics: FederationMetrics,
    pub(crate) leases: Leases,
    /// When the current failure streak of a never-successful peer began (this replica's view).
    pub(crate) failing_since: std::sync::Mutex<Option<i64>>,
}

impl Puller {
    fn clock(&self) -> &Clock {
        &self.config.clock
    }

    /// The start of the failure streak: this attempt when it is the first failure.
    fn streak_start(&self, row: &PeerRow, started: i64) -> i64 {
        let mut since = self
            .failing_since
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if row.consecutive_failures == 0 || since.is_none() {
            *since = Some(started);
        }
        since.unwrap_or(started)
    }

    /// Runs until `token` is cancelled.
    pub(crate) async fn run(self, token: CancellationToken) {
        let key = self.peer.key().to_owned();
        let mut lease: Option<Lease> = None;
        let retry = (self.config.federation.pull_interval / 4).min(Duration::from_secs(5));
        while !token.is_cancelled() {
            if !self
                .leases
                .hold(&mut lease, &format!("federation:{key}"))
                .await
            {
                sleep_or_cancel(&token, retry).await;
                continue;
            }
            let store = self.directory.store();
            let row = match store
                .ensure_federation_peer(&key, &self.peer.url, &self.peer.name)
                .await
            {
                Ok(row) => row,
                Err(error) => {
                    tracing::warn!(peer = %key, %error, "federation peer row unavailable");
                    sleep_or_cancel(&token, retry).await;
                    continue;
                }
            };
            if !self.wait_until(&token, row.next_attempt_at).await {
                return;
            }
            let Some(lease) = lease.as_ref() else {
                continue;
            };
            if !lease.is_held().await {
                continue;
            }
            self.attempt(&row, lease).await;
        }
    }

    /// Sleeps until the clock reaches `due`; false when cancelled first.
    async fn wait_until(&self, token: &CancellationToken, due: Option<i64>) -> bool {
        let due = due.unwrap_or(i64::MIN);
        loop {
            let now = self.clock().now_ms();
            if now >= due {
                return true;
            }
            let left = Duration::from_millis(u64::try_from(due - now).unwrap_or(0));
            if !sleep_or_cancel(token, left.min(SLICE)).await {
                return false;
            }
        }
    }

    /// One pull round and its bookkeeping.
    async fn attempt(&self, row: &PeerRow, lease: &Lease) {
        let key = self.peer.key();
        let started = self.clock().now_ms();
        let result = self.round(row.cursor.clone(), lease).await;
        let now = self.clock().now_ms();
        let outcome = match &result {
            Ok(()) => PullOutcome {
                state: PeerState::Ok,
                consecutive_failures: 0,
                attempted_at: started,
                succeeded_at: Some(now),
                next_attempt_at: now + millis(interval_delay(&self.config.federation, jitter())),
                error: None,
            },
            Err(PullError::LeaseLost) => return,
            Err(error) => {
                let failures = row.consecutive_failures.saturating_add(1);
                let since = row
                    .last_success_at
                    .unwrap_or_else(|| self.streak_start(row, started));
                let state = if matches!(error, PullError::IdMismatch(_)) {
                    PeerState::Misconfigured
                } else if is_dead(&self.config.federation, since, now) {
                    PeerState::Dead
                } else {
                    PeerState::Backoff
                };
                let n = u32::try_from(failures).unwrap_or(u32::MAX);
                tracing::warn!(peer = %key, %error, failures, "federation pull failed");
                PullOutcome {
                    state,
                    consecutive_failures: failures,
                    attempted_at: started,
                    succeeded_at: None,
                    next_attempt_at: now + millis(failure_delay(&self.config.federation, n)),
                    error: None,
                }
            }
        };
        let message = result.as_ref().err().map(ToString::to_string);
        let outcome = PullOutcome {
            error: message.as_deref(),
            ..outcome
        };
        self.metrics
            .pulled(key, result.is_ok(), now.div_euclid(1000));
        let store = self.directory.store();
        if let Err(error) = store.record_pull(key, &outcome).await {
            tracing::warn!(peer = %key, %error, "cannot store the pull outcome");
        }
        if let Ok(head) = store.changes_head().await {
            self.metrics.set_changes_head(head);
        }
    }

    /// Fetches pages from `cursor` while `more`, taking their items.
    async fn round(&self, mut cursor: Option<String>, lease: &Lease) -> Result<(), PullError> {
        let mut first = true;
        loop {
            if !first && !lease.is_held().await {
                return Err(PullError::LeaseLost);
            }
            first = false;
            let page = self.fetch(cursor.as_deref()).await?;
            if !self.peer.id.is_empty() && page.superhub != self.peer.id {
                return Err(PullError::IdMismatch(
                    page.superhub.chars().take(64).collect(),
                ));
            }
            let next = FeedCursor::decode(&page.next)
                .map_err(|_| PullError::BadCursor(page.next.chars().take(32).collect()))?;
            let previous = cursor.as_deref().and_then(|c| FeedCursor::decode(c).ok());
            let advanced = previous.is_none_or(|p| next.0 > p.0);
            if page.more && !advanced {
                return Err(PullError::BadCursor(page.next));
            }
            self.take_page(&page).await?;
            cursor = Some(page.next);
            if !page.more {
                return Ok(());
            }
        }
    }

    /// Takes every item of `page` and stores its cursor in one write transaction (§7.2): a
    /// database error rolls the whole page back, to be pulled again; refused items are skipped.
    async fn take_page(&self, page: &FeedPage<Value>) -> Result<(), StoreError> {
        let peer_id = if !self.peer.id.is_empty() {
            self.peer.id.as_str()
        } else if page.superhub.parse::<shared::ids::Ed25519PeerId>().is_ok() {
            page.superhub.as_str()
        } else {
            self.peer.key()
        };
        let source = Source {
            peer_id,
            trust_claims: self.peer.trust_claims,
            policy: &self.config.directory,
        };
        let store = self.directory.store();
        let mut tx = store.begin_write().await?;
        lock_directory(&mut tx, self.clock().now_ms()).await?;
        let mut taken = Vec::with_capacity(page.items.len());
        for raw in &page.items {
            let kind = items::kind_label(raw);
            let now = self.clock().now_ms();
            if let Some(outcome) =
                items::take(&self.directory, &mut tx, &source, raw.clone(), now).await?
            {
                taken.push((kind, outcome));
            }
        }
        Store::set_federation_cursor_in(&mut tx, self.peer.key(), &page.next).await?;
        tx.commit().await?;
        if taken
            .iter()
            .any(|(_, outcome)| *outcome == ItemOutcome::Stored)
        {
            self.directory.wake_prober();
        }
        for (kind, outcome) in taken {
            self.metrics.item(self.peer.key(), kind, outcome.as_str());
        }
        Ok(())
    }

    /// One page, read incrementally up to `max_response_bytes` within `request_timeout`.
    async fn fetch(&self, since: Option<&str>) -> Result<FeedPage<Value>, PullError> {
        let federation = &self.config.federation;
        let url = format!(
            "{}/api/v1/federation/changes",
            self.peer.url.trim_end_matches('/')
        );
        let mut query = vec![("limit", federation.page_limit.to_string())];
        if let Some(since) = since {
            query.push(("since", since.to_owned()));
        }
        let max = federation.max_response_bytes;
        let read = async {
            let response = self
                .client
                .get(&url)
                .query(&query)
                .send()
                .await
                .map_err(PullError::from_request)?;
            if response.status() != reqwest::StatusCode::OK {
                return Err(PullError::Status(response.status().as_u16()));
            }
            let body = shared::http_client::read_limited(response, max)
                .await
                .map_err(|e| match e {
                    ReadError::TooLarge(max) => PullError::TooLarge(max),
                    ReadError::Transport(e) => PullError::from_request(e),
                })?;
            serde_json::from_slice(&body).map_err(PullError::Json)
        };
        tokio::time::timeout(federation.request_timeout, read)
            .await
            .map_err(|_| PullError::Timeout)?
    }
}

/// The HTTP client of the pullers: rustls, `request_timeout`, no redirects.
pub(crate) fn client(config: &Config) -> reqwest::Client {
    shared::http_client::outbound(
        concat!("goop-superhub/", env!("CARGO_PKG_VERSION")),
        config.federation.request_timeout,
    )
}

/// Sleeps `duration`; false when `token` is cancelled first.
async fn sleep_or_cancel(token: &CancellationToken, duration: Duration) -> bool {
    tokio::select! {
        () = token.cancelled() => false,
        () = tokio::time::sleep(duration) => true,
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 2)
}

fn jitter() -> f64 {
    rand::random::<f64>()
}

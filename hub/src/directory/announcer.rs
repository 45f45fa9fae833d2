//! The announcer (hub.md §11.4 rules 1–2): one loop per configured super hub posting a freshly
//! issued record at start and every `announce_interval` ± 10 %, retrying failures with backoff.
//! It stops when the hub is decommissioned.

use std::time::Duration;

use rand::Rng as _;
use tokio_util::sync::CancellationToken;

use super::client::{Client, Reply};
use super::{Directory, IssueError};
use crate::config::SuperhubsConfig;
use crate::store::Announcement;

/// What one announcement came to.
enum Outcome {
    /// Accepted with this state.
    Accepted(String),
    /// Refused for now; try again after the wait.
    Busy(Option<Duration>),
    /// Failed; back off.
    Failed(String),
    /// The hub is decommissioned: stop.
    Decommissioned,
}

/// Announces to every configured super hub until cancelled or decommissioned.
pub(crate) async fn run(directory: Directory, token: CancellationToken) {
    let client = Client::new();
    let loops = directory
        .config()
        .superhubs
        .urls
        .iter()
        .map(|url| announce_loop(&directory, &client, url, &token));
    futures::future::join_all(loops).await;
}

async fn announce_loop(
    directory: &Directory,
    client: &Client,
    url: &str,
    token: &CancellationToken,
) {
    let config = &directory.config().superhubs;
    let mut failures: u32 = 0;
    let mut wait = Duration::ZERO;
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        let attempt_at = directory.now_ms();
        // An announcement in flight is abandoned at shutdown rather than awaited (10 s timeout).
        let outcome = tokio::select! {
            () = token.cancelled() => return,
            outcome = announce_once(directory, client, url) => outcome,
        };
        let (state, error) = match outcome {
            Outcome::Decommissioned => {
                tracing::error!(superhub = %url, "the hub is decommissioned: announcements stop");
                return;
            }
            Outcome::Accepted(state) => {
                failures = 0;
                wait = jittered(config.announce_interval);
                tracing::info!(superhub = %url, %state, "announced to super hub");
                (Some(state), None)
            }
            Outcome::Busy(retry_after) => {
                wait = retry_after
                    .unwrap_or(config.retry_base)
                    .clamp(Duration::from_secs(1), config.announce_interval);
                tracing::info!(superhub = %url, ?wait, "super hub busy; announcing later");
                (None, Some("busy (429/503)".to_owned()))
            }
            Outcome::Failed(error) => {
                wait = backoff(config.retry_base, failures);
                failures = failures.saturating_add(1);
                tracing::warn!(superhub = %url, %error, ?wait, "announcing to super hub failed");
                (None, Some(error))
            }
        };
        let wait_ms = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
        let row = Announcement {
            superhub_url: url.to_owned(),
            last_attempt_at: Some(attempt_at),
            last_success_at: state.is_some().then_some(attempt_at),
            last_state: state,
            last_error: error,
            next_attempt_at: Some(directory.now_ms().saturating_add(wait_ms)),
        };
        if let Err(error) = directory.record_outcome(&row).await {
            tracing::warn!(superhub = %url, %error, "could not record the announcement");
        }
    }
}

/// Issues a record and posts it; after a 409 `stale_seq`, issues a newer one and posts it once more.
async fn announce_once(directory: &Directory, client: &Client, url: &str) -> Outcome {
    match directory.decommissioned_at().await {
        Ok(Some(_)) => return Outcome::Decommissioned,
        Ok(None) => {}
        Err(error) => return Outcome::Failed(format!("reading hub_state: {error}")),
    }
    let mut retried = false;
    loop {
        let envelope = match directory.issue_record().await {
            Ok(envelope) => envelope,
            Err(error @ IssueError::Invalid(_)) => {
                tracing::error!(%error, "bug: this hub's record breaks a rule");
                return Outcome::Failed(error.to_string());
            }
            Err(error) => return Outcome::Failed(error.to_string()),
        };
        match client.post(url, &envelope).await {
            Reply::Accepted(state) => return Outcome::Accepted(state),
            Reply::StaleSeq if !retried => retried = true,
            Reply::StaleSeq => return Outcome::Failed("409 stale_seq twice".to_owned()),
            Reply::Busy(wait) => return Outcome::Busy(wait),
            Reply::Failed(error) => return Outcome::Failed(error),
        }
    }
}

/// `interval` ± 10 %.
fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(rand::rng().random_range(0.9..=1.1))
}

/// `base · 2^failures`, at most 900 s.
fn backoff(base: Duration, failures: u32) -> Duration {
    base.saturating_mul(2u32.saturating_pow(failures.min(16)))
        .min(SuperhubsConfig::MAX_RETRY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_up_to_900_seconds() {
        let base = Duration::from_secs(60);

        let waits: Vec<u64> = (0..6).map(|n| backoff(base, n).as_secs()).collect();

        assert_eq!(waits, [60, 120, 240, 480, 900, 900]);
        assert_eq!(backoff(base, u32::MAX), SuperhubsConfig::MAX_RETRY);
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let interval = Duration::from_secs(900);

        for _ in 0..100 {
            let wait = jittered(interval);
            assert!((810..=990).contains(&wait.as_secs()), "{wait:?}");
        }
    }
}

//! Withdrawing from the directory (hub.md §11.4 rule 4): a signed tombstone posted to every
//! configured super hub, each tried 4 times (the first try, then retries 2, 4 and 8 s apart).

use std::time::Duration;

use super::client::{Client, Reply};
use super::{Directory, IssueError};
use crate::store::Announcement;

/// Tries per super hub: the first and three retries.
const TRIES: u32 = 4;

/// A super hub that refused or could not be reached on every try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Its URL.
    pub url: String,
    /// The last answer.
    pub error: String,
}

/// What posting the tombstone came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawal {
    /// The tombstone's `seq`.
    pub seq: u64,
    /// Super hubs that accepted it.
    pub accepted: Vec<String>,
    /// Super hubs that did not.
    pub refused: Vec<Refusal>,
}

impl Directory {
    /// Signs a tombstone with `reason` and posts it to every configured super hub; the first
    /// retry waits `retry_base` (2 s in production), each next one twice as long. A 409
    /// `stale_seq` is answered with a newer tombstone.
    ///
    /// # Errors
    /// [`IssueError`] when no tombstone could be signed; refusals are in the [`Withdrawal`].
    pub(crate) async fn withdraw(
        &self,
        reason: &str,
        retry_base: Duration,
    ) -> Result<Withdrawal, IssueError> {
        let client = Client::new();
        let (mut envelope, seq) = self.issue_tombstone(reason).await?;
        let mut withdrawal = Withdrawal {
            seq,
            accepted: Vec::new(),
            refused: Vec::new(),
        };
        for url in &self.config().superhubs.urls {
            let mut error = String::new();
            for attempt in 0..TRIES {
                if attempt > 0 {
                    tokio::time::sleep(retry_base.saturating_mul(1 << (attempt - 1))).await;
                }
                match client.post(url, &envelope).await {
                    Reply::Accepted(state) => {
                        error.clear();
                        let now = self.now_ms();
                        let row = Announcement {
                            superhub_url: url.clone(),
                            last_attempt_at: Some(now),
                            last_success_at: Some(now),
                            last_state: Some(state),
                            last_error: None,
                            next_attempt_at: None,
                        };
                        self.record_outcome(&row).await?;
                        break;
                    }
                    Reply::StaleSeq => {
                        (envelope, withdrawal.seq) = self.issue_tombstone(reason).await?;
                        error = "409 stale_seq".to_owned();
                    }
                    Reply::Busy(_) => error = "busy (429/503)".to_owned(),
                    Reply::Failed(failure) => error = failure,
                }
            }
            if error.is_empty() {
                withdrawal.accepted.push(url.clone());
            } else {
                withdrawal.refused.push(Refusal {
                    url: url.clone(),
                    error,
                });
            }
        }
        Ok(withdrawal)
    }
}

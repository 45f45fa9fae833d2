//! The outbox worker (hub.md §6.8 5a): sends due messages, retries failures with backoff
//! (`retry_base_secs` × 2ⁿ, at most an hour) until the token lifetime ends, and keeps the pending
//! gauge current. Delivery is at least once; the Message-ID never changes between attempts.

use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt as _, TryStreamExt as _};
use tokio::sync::Notify;

use tokio_util::sync::CancellationToken;

use super::Mailer;
use crate::config::EmailConfig;
use crate::membership::TokenPurpose;
use crate::metrics::{EmailLabels, Metrics};
use crate::store::Store;
use crate::utc::{millis, now_ms};

/// How often the worker looks for due mail.
const POLL: Duration = Duration::from_secs(1);
/// Messages handled per round.
const BATCH: i64 = 32;
/// Messages sent concurrently (lettre's pool keeps up to 10 SMTP connections open).
const IN_FLIGHT: usize = 8;
/// Longest pause between attempts.
const MAX_BACKOFF_MS: i64 = 3_600_000;

/// Runs until `token` is cancelled: every second (for retries) and whenever `wake` is notified
/// (a transaction that enqueued mail committed), until no due message is left.
pub(crate) async fn run(
    store: Store,
    mailer: Mailer,
    config: EmailConfig,
    metrics: Metrics,
    wake: Arc<Notify>,
    token: CancellationToken,
) {
    let mut tick = tokio::time::interval(POLL);
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            _ = tick.tick() => {}
            () = wake.notified() => {}
        }
        loop {
            match deliver_due(&store, &mailer, &config, &metrics).await {
                Ok(handled) if handled >= BATCH as usize && !token.is_cancelled() => continue,
                Ok(_) => break,
                Err(error) => {
                    tracing::warn!(%error, "email outbox: database unavailable, will retry");
                    break;
                }
            }
        }
    }
}

async fn deliver_due(
    store: &Store,
    mailer: &Mailer,
    config: &EmailConfig,
    metrics: &Metrics,
) -> Result<usize, crate::store::StoreError> {
    let now = now_ms();
    let ttl_ms = millis(config.token_ttl);
    let expired = store
        .mark_emails_expired(now.saturating_sub(ttl_ms))
        .await?;
    if expired > 0 {
        tracing::warn!(
            count = expired,
            "email outbox: gave up on messages whose tokens expired"
        );
    }
    let due = store.list_due_emails(now, BATCH).await?;
    let handled = due.len();
    // Several messages at once: each SMTP exchange spends most of its time waiting on the
    // server (and on lettre's small final write), so one-at-a-time caps the outbox at ~20/s.
    futures::stream::iter(due)
        .map(|mail| deliver_one(store, mailer, config, metrics, mail))
        .buffer_unordered(IN_FLIGHT)
        .try_collect::<Vec<()>>()
        .await?;
    metrics
        .email_pending
        .set(store.count_pending_emails().await?);
    Ok(handled)
}

/// Sends one message and records the outcome (sent, or failed with the next attempt's time).
async fn deliver_one(
    store: &Store,
    mailer: &Mailer,
    config: &EmailConfig,
    metrics: &Metrics,
    mail: crate::store::DueEmail,
) -> Result<(), crate::store::StoreError> {
    let labels = |outcome| EmailLabels {
        purpose: purpose_label(&mail.purpose),
        outcome,
    };
    match mailer.send(&mail).await {
        Ok(()) => {
            store.mark_email_sent(&mail.id, now_ms()).await?;
            metrics.email_sent.get_or_create(&labels("sent")).inc();
        }
        Err(error) => {
            let base = millis(config.retry_base);
            let backoff = base
                .saturating_mul(1 << mail.attempts.clamp(0, 20))
                .min(MAX_BACKOFF_MS);
            store
                .mark_email_failed(&mail.id, now_ms() + backoff, &error)
                .await?;
            metrics.email_sent.get_or_create(&labels("failed")).inc();
            tracing::warn!(to = %mail.to_addr, attempt = mail.attempts + 1, %error, retry_in_ms = backoff, "email not sent");
        }
    }
    Ok(())
}

/// The metric label of a stored purpose; mail of an unknown one counts with email changes.
fn purpose_label(purpose: &str) -> &'static str {
    TokenPurpose::parse(purpose)
        .unwrap_or(TokenPurpose::ChangeEmail)
        .as_str()
}

//! Reconciliation (hub.md §8.6) and the re-fetch of overdue subscriptions (§6.7): every
//! `billing.reconcile_interval` the hub lists Stripe's events since its cursor, processes them
//! oldest first through the same path as the webhook (duplicates are harmless by construction),
//! and re-reads subscriptions that should have renewed a day ago. A webhook outage loses nothing.

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::objects::Event;
use super::{Billing, Error, Outcome, Result, Source};

/// The `hub_state` key of the cursor: the newest `created` processed (Stripe seconds).
pub(crate) const CURSOR_KEY: &str = "reconcile_cursor";
/// Each run re-reads this much before the cursor (Stripe's `created` is not strictly ordered
/// with delivery).
const OVERLAP_SECS: i64 = 300;
/// Pages of 100 events held in memory at once (one chunk of the window).
const MAX_PAGES: usize = 100;
/// Chunks read per run at most; a longer window keeps the cursor and continues next run.
const MAX_CHUNKS: usize = 10;
/// Overdue subscriptions re-fetched per run at most.
const REFETCH_BATCH: i64 = 50;
/// A subscription still `active` this long after its period end is re-fetched (§6.7).
const OVERDUE_MS: i64 = 86_400_000;

/// What one reconciliation run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Reconciled {
    /// Events listed.
    pub(crate) listed: usize,
    /// Events that changed something (outcome `processed`).
    pub(crate) processed: usize,
}

impl Billing {
    /// Runs reconciliation and the overdue re-fetch every `billing.reconcile_interval` (the
    /// first run at once) until cancelled. Failures are logged and retried on the next run.
    pub(crate) async fn run_reconciliation(self, token: CancellationToken) {
        let period = self.membership().config().billing.reconcile_interval;
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = token.cancelled() => return,
                _ = tick.tick() => {}
            }
            let run = async {
                match self.reconcile_once().await {
                    Ok(done) if done.processed > 0 => {
                        tracing::info!(
                            listed = done.listed,
                            processed = done.processed,
                            "Stripe reconciliation"
                        );
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, "Stripe reconciliation failed; retrying next period")
                    }
                }
                if let Err(error) = self.refetch_stale().await {
                    tracing::warn!(%error, "re-fetching overdue subscriptions failed");
                }
            };
            tokio::select! {
                () = token.cancelled() => return,
                () = run => {}
            }
        }
    }

    /// One reconciliation run (§8.6): lists the handled events created since the stored cursor
    /// − 300 s (first run: now − `reconcile_lookback`), processes them oldest first with source
    /// `reconcile`, and stores the newest `created` processed as the cursor. Stops at the first
    /// failure, keeping the cursor before it, so the next run tries that event again.
    ///
    /// A window longer than one read ([`MAX_PAGES`] pages) is taken in chunks, newest chunk
    /// first, each bounded above by the oldest `created` of the chunk before (`created[lte]`);
    /// the cursor moves only once every chunk was processed, so nothing older is skipped.
    ///
    /// # Errors
    /// [`Error::Stripe`] when listing failed, else the error of the event that failed.
    pub(crate) async fn reconcile_once(&self) -> Result<Reconciled> {
        let store = self.membership().store();
        let cursor = store
            .find_state(CURSOR_KEY)
            .await?
            .and_then(|v| v.parse::<i64>().ok());
        let lookback = i64::try_from(
            self.membership()
                .config()
                .billing
                .reconcile_lookback
                .as_secs(),
        )
        .unwrap_or(i64::MAX);
        let since = match cursor {
            Some(cursor) => cursor - OVERLAP_SECS,
            None => self.now_ms() / 1000 - lookback,
        };
        let mut done = Reconciled::default();
        let mut upper = None;
        let mut newest = None;
        for chunk in 0..MAX_CHUNKS {
            let (events, truncated) = self.list_events_window(since, upper).await?;
            done.listed += events.len();
            let (progress, failure) = self.process_oldest_first(&events, &mut done).await;
            if chunk == 0 {
                newest = progress;
            }
            // One whole window: the cursor may move up to the last event processed.
            let whole = chunk == 0 && !truncated;
            if let Some(error) = failure {
                if whole {
                    self.store_cursor(cursor, progress).await?;
                }
                return Err(error);
            }
            if !truncated {
                self.store_cursor(cursor, newest).await?;
                return Ok(done);
            }
            upper = events.first().map(|oldest| oldest.created);
        }
        tracing::warn!(
            chunks = MAX_CHUNKS,
            "Stripe event window longer than one run reads; the cursor stays for the next run"
        );
        Ok(done)
    }

    /// Processes `events` (oldest first) until one fails with an error a later run could fix;
    /// answers the newest `created` processed and that error.
    async fn process_oldest_first(
        &self,
        events: &[Event],
        done: &mut Reconciled,
    ) -> (Option<i64>, Option<Error>) {
        let mut newest: Option<i64> = None;
        for event in events {
            match self.process(event, Source::Reconcile).await {
                Ok(outcome) => {
                    done.processed += usize::from(outcome == Outcome::Processed);
                    newest = Some(newest.map_or(event.created, |n| n.max(event.created)));
                }
                // Neither an unreadable object nor a subscription Stripe no longer knows will
                // change on a later run; stopping at them would hold the cursor forever.
                Err(Error::InvalidEvent(why)) => {
                    tracing::warn!(event = %event.id, %why, "skipping an unreadable Stripe event");
                }
                Err(Error::Stripe(error)) if error.is_not_found() => {
                    tracing::warn!(event = %event.id, %error, "skipping an event about an object Stripe no longer has");
                }
                Err(error) => return (newest, Some(error)),
            }
        }
        (newest, None)
    }

    /// Stores `newest` as the cursor when it moves past `cursor`.
    async fn store_cursor(&self, cursor: Option<i64>, newest: Option<i64>) -> Result<()> {
        if let Some(newest) = newest.filter(|n| cursor.is_none_or(|c| *n > c)) {
            self.membership()
                .store()
                .upsert_state(CURSOR_KEY, &newest.to_string(), self.now_ms())
                .await?;
        }
        Ok(())
    }

    /// The events created in `since..=upper` (unix seconds), oldest first, and whether more
    /// remained after [`MAX_PAGES`] pages: Stripe lists newest first, so the pages are read to
    /// the end and reversed.
    async fn list_events_window(
        &self,
        since: i64,
        upper: Option<i64>,
    ) -> Result<(Vec<Event>, bool)> {
        let mut raw: Vec<Value> = Vec::new();
        let mut after: Option<String> = None;
        let mut truncated = false;
        for page_no in 0.. {
            if page_no == MAX_PAGES {
                truncated = true;
                break;
            }
            let page = self
                .client()
                .list_events(since, upper, after.as_deref())
                .await?;
            after = page
                .data
                .last()
                .and_then(|e| e.get("id"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            let more = page.has_more && after.is_some();
            raw.extend(page.data);
            if !more {
                break;
            }
        }
        let mut events: Vec<Event> = raw
            .into_iter()
            .rev()
            .filter_map(|value| match serde_json::from_value::<Event>(value) {
                Ok(event) if event.data.object.is_object() && !event.id.is_empty() => Some(event),
                Ok(event) => {
                    tracing::warn!(event = %event.id, "skipping a listed event without an object");
                    None
                }
                Err(error) => {
                    tracing::warn!(%error, "skipping a listed event that does not parse");
                    None
                }
            })
            .collect();
        // Stable: events of the same second keep Stripe's order (reversed to oldest first).
        events.sort_by_key(|event| event.created);
        Ok((events, truncated))
    }

    /// The §6.7 re-fetch: subscriptions still `active`/`trialing` a day after their period end
    /// are read from Stripe and written as they stand now (at most [`REFETCH_BATCH`] per run).
    /// Returns how many changed an account.
    ///
    /// # Errors
    /// The first failure other than a subscription Stripe does not know; the rest wait for the
    /// next run.
    pub(crate) async fn refetch_stale(&self) -> Result<usize> {
        let cutoff = self.now_ms() - OVERDUE_MS;
        let ids = self
            .membership()
            .store()
            .list_overdue_subscriptions(cutoff, REFETCH_BATCH)
            .await?;
        let mut changed = 0;
        for id in ids {
            let _serial = self.lock_subscription(&id).await;
            // One subscription Stripe cannot answer for must not hold back the rest.
            let current = match self.fetch(&id).await {
                Ok(current) => current,
                Err(Error::Stripe(error)) if error.is_not_found() => {
                    tracing::error!(subscription = %id, %error, "an overdue subscription is unknown to Stripe (wrong API key or account?); its member keeps access until this is resolved");
                    continue;
                }
                Err(error) => return Err(error),
            };
            if self.apply_refetched(&current).await? == Outcome::Processed {
                changed += 1;
            }
        }
        Ok(changed)
    }
}

//! `stripe_events` (hub.md §8.5): one row per Stripe event seen, inserted first in the event's
//! transaction so its primary key decides which of two deliveries applies the effects.

use sqlx::AnyConnection;

use super::{Store, StoreError};

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StripeEvent {
    /// `evt_…`.
    pub event_id: String,
    /// The event type as Stripe sent it.
    #[sqlx(rename = "type")]
    pub kind: String,
    /// Stripe's `created` (ms).
    pub created: i64,
    /// `webhook` or `reconcile`.
    pub source: String,
    /// The outcome label (`processed`, `stale`, `unmatched`, `ignored`).
    pub outcome: String,
    /// Recorded at (ms).
    pub received_at: i64,
}

/// Records an event inside the caller's transaction; false when it was recorded already (on
/// Postgres a concurrent insert of the same id waits for that transaction and then also answers
/// false).
///
/// # Errors
/// [`StoreError`].
pub async fn insert_stripe_event(
    conn: &mut AnyConnection,
    event: &StripeEvent,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "insert into stripe_events (event_id, type, created, source, outcome, received_at) \
         values ($1, $2, $3, $4, $5, $6) on conflict (event_id) do nothing",
    )
    .bind(&event.event_id)
    .bind(&event.kind)
    .bind(event.created)
    .bind(&event.source)
    .bind(&event.outcome)
    .bind(event.received_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Sets the outcome of an event recorded in the caller's transaction.
///
/// # Errors
/// [`StoreError`].
pub async fn update_stripe_event_outcome(
    conn: &mut AnyConnection,
    event_id: &str,
    outcome: &str,
) -> Result<(), StoreError> {
    sqlx::query("update stripe_events set outcome = $2 where event_id = $1")
        .bind(event_id)
        .bind(outcome)
        .execute(conn)
        .await?;
    Ok(())
}

impl Store {
    /// The recorded event `event_id`, if any.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn find_stripe_event(
        &self,
        event_id: &str,
    ) -> Result<Option<StripeEvent>, StoreError> {
        Ok(sqlx::query_as::<_, StripeEvent>(
            "select event_id, type, created, source, outcome, received_at from stripe_events \
             where event_id = $1",
        )
        .bind(event_id)
        .fetch_optional(self.db.pool())
        .await?)
    }
}

//! `subscriptions` (hub.md §6.4, §8): Stripe subscriptions as the recompute, the account document
//! and the admin views read them, and billing's writes of them (hub.md §8.5).

use sqlx::AnyConnection;

use super::{Store, StoreError};
use crate::members::SubscriptionFacts;

/// The newest subscription of an account, as the account document shows it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SubscriptionSummary {
    /// The plan (`[[plans]]` id).
    pub plan_id: Option<String>,
    /// Stripe status.
    pub status: String,
    /// End of the paid period (ms).
    pub current_period_end: Option<i64>,
    /// Set when the subscription ends at the period end (ms).
    pub cancel_scheduled_at: Option<i64>,
}

/// A subscription as the member view shows it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct SubscriptionRow {
    /// Stripe subscription id.
    pub id: String,
    /// Plan id, when known.
    pub plan_id: Option<String>,
    /// Stripe status.
    pub status: String,
    /// End of the current period (ms).
    pub current_period_end: Option<i64>,
    /// Cancellation scheduled at (ms).
    pub cancel_scheduled_at: Option<i64>,
    /// Became `past_due` at (ms).
    pub past_due_since: Option<i64>,
    /// Created (ms).
    pub created_at: i64,
}

/// The subscriptions of an account as the recompute reads them.
///
/// # Errors
/// [`StoreError`].
pub async fn list_subscription_facts(
    conn: &mut AnyConnection,
    account_id: &str,
) -> Result<Vec<SubscriptionFacts>, StoreError> {
    let rows: Vec<(String, Option<i64>)> =
        sqlx::query_as("select status, past_due_since from subscriptions where account_id = $1")
            .bind(account_id)
            .fetch_all(conn)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(status, past_due_since)| SubscriptionFacts {
            status,
            past_due_since,
        })
        .collect())
}

/// The newest subscription of an account.
///
/// # Errors
/// [`StoreError`].
pub async fn find_latest_subscription(
    conn: &mut AnyConnection,
    account_id: &str,
) -> Result<Option<SubscriptionSummary>, StoreError> {
    Ok(sqlx::query_as::<_, SubscriptionSummary>(
        "select plan_id, status, current_period_end, cancel_scheduled_at from subscriptions \
         where account_id = $1 order by updated_at desc, id limit 1",
    )
    .bind(account_id)
    .fetch_optional(conn)
    .await?)
}

/// The subscriptions of an account, newest first.
///
/// # Errors
/// [`StoreError`].
pub async fn list_subscriptions(
    conn: &mut AnyConnection,
    account_id: &str,
) -> Result<Vec<SubscriptionRow>, StoreError> {
    Ok(sqlx::query_as::<_, SubscriptionRow>(
        "select id, plan_id, status, current_period_end, cancel_scheduled_at, past_due_since, created_at \
         from subscriptions where account_id = $1 order by created_at desc, id desc",
    )
    .bind(account_id)
    .fetch_all(conn)
    .await?)
}

/// Subscriptions per Stripe status.
///
/// # Errors
/// [`StoreError`].
pub async fn count_subscriptions(
    conn: &mut AnyConnection,
) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(sqlx::query_as(
        "select status, cast(count(*) as bigint) from subscriptions group by status order by status",
    )
    .fetch_all(conn)
    .await?)
}

/// What billing reads of a stored subscription before it writes it (hub.md §8.5 rules 2 and 5).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SubscriptionRecord {
    /// The account it belongs to.
    pub account_id: String,
    /// Became `past_due`/`unpaid` at (ms).
    pub past_due_since: Option<i64>,
    /// Cancellation scheduled at (ms).
    pub cancel_scheduled_at: Option<i64>,
    /// `created` of the newest event applied (ms).
    pub last_event_created: i64,
    /// Created (ms).
    pub created_at: i64,
    /// Stripe status.
    pub status: String,
    /// Last written (ms): with the other fields, tells whether the row moved since it was read.
    pub updated_at: i64,
}

/// A subscription as billing writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionUpsert {
    /// Stripe subscription id.
    pub id: String,
    /// The account it belongs to.
    pub account_id: String,
    /// `cus_…`.
    pub customer_id: String,
    /// The plan; `None` keeps the stored one.
    pub plan_id: Option<String>,
    /// `items.data[0].price.id`.
    pub price_id: Option<String>,
    /// Stripe status.
    pub status: String,
    /// Cancellation scheduled at (ms).
    pub cancel_scheduled_at: Option<i64>,
    /// End of the current period (ms).
    pub current_period_end: Option<i64>,
    /// Became `past_due`/`unpaid` at (ms).
    pub past_due_since: Option<i64>,
    /// `created` of the newest event applied (ms).
    pub last_event_created: i64,
    /// Created (ms); kept when the row exists.
    pub created_at: i64,
}

/// The subscription `id`, inside the caller's transaction.
///
/// # Errors
/// [`StoreError`].
pub async fn find_subscription(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<SubscriptionRecord>, StoreError> {
    Ok(sqlx::query_as::<_, SubscriptionRecord>(
        "select account_id, past_due_since, cancel_scheduled_at, last_event_created, created_at, \
         status, updated_at from subscriptions where id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// Inserts or replaces a subscription inside the caller's transaction. An existing row keeps
/// its account: a subscription never moves between accounts.
///
/// # Errors
/// [`StoreError`].
pub async fn upsert_subscription(
    conn: &mut AnyConnection,
    row: &SubscriptionUpsert,
    now_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into subscriptions (id, account_id, customer_id, plan_id, price_id, status, \
         cancel_scheduled_at, current_period_end, past_due_since, last_event_created, created_at, updated_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         on conflict (id) do update set \
         customer_id = excluded.customer_id, plan_id = coalesce(excluded.plan_id, subscriptions.plan_id), \
         price_id = excluded.price_id, status = excluded.status, \
         cancel_scheduled_at = excluded.cancel_scheduled_at, \
         current_period_end = excluded.current_period_end, past_due_since = excluded.past_due_since, \
         last_event_created = excluded.last_event_created, updated_at = excluded.updated_at",
    )
    .bind(&row.id)
    .bind(&row.account_id)
    .bind(&row.customer_id)
    .bind(&row.plan_id)
    .bind(&row.price_id)
    .bind(&row.status)
    .bind(row.cancel_scheduled_at)
    .bind(row.current_period_end)
    .bind(row.past_due_since)
    .bind(row.last_event_created)
    .bind(row.created_at)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(())
}

impl Store {
    /// The subscription `id` as it stands now (outside any transaction).
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn find_subscription_record(
        &self,
        id: &str,
    ) -> Result<Option<SubscriptionRecord>, StoreError> {
        let mut conn = self.acquire().await?;
        find_subscription(&mut conn, id).await
    }

    /// Subscriptions still `active` or `trialing` whose period ended before `cutoff_ms` (hub.md
    /// §6.7), the longest overdue first, at most `limit`.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn list_overdue_subscriptions(
        &self,
        cutoff_ms: i64,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "select id from subscriptions where status in ('active', 'trialing') \
             and current_period_end is not null and current_period_end < $1 \
             order by current_period_end, id limit $2",
        )
        .bind(cutoff_ms)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?)
    }
}

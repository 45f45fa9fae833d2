//! `subscriptions` (hub.md §6.4, §8): Stripe subscriptions as the recompute, the account document
//! and the admin views read them.

use sqlx::AnyConnection;

use super::StoreError;
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

//! `payments` (hub.md §8.5, §9, §14): donations recorded from completed Checkout Sessions, read by
//! the member view, the account page and the stats' `donations_30d`.

use sqlx::AnyConnection;

use super::StoreError;

/// One payment.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct Payment {
    /// The Checkout Session id (`cs_…`).
    pub id: String,
    /// The paying account; null once it is deleted.
    pub account_id: Option<String>,
    /// `donation`.
    pub kind: String,
    /// Minor units.
    pub amount: i64,
    /// ISO 4217, lower-case.
    pub currency: String,
    /// Stripe's `payment_status` (`paid`).
    pub status: String,
    /// Recorded at (ms).
    pub created_at: i64,
}

/// Records a payment once: a second insert of the same session changes nothing. Returns whether
/// it was new.
///
/// # Errors
/// [`StoreError`].
pub async fn insert_payment(
    conn: &mut AnyConnection,
    payment: &Payment,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "insert into payments (id, account_id, kind, amount, currency, status, created_at) \
         values ($1, $2, $3, $4, $5, $6, $7) on conflict (id) do nothing",
    )
    .bind(&payment.id)
    .bind(&payment.account_id)
    .bind(&payment.kind)
    .bind(payment.amount)
    .bind(&payment.currency)
    .bind(&payment.status)
    .bind(payment.created_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The payments of an account, newest first (at most `limit`).
///
/// # Errors
/// [`StoreError`].
pub async fn list_payments(
    conn: &mut AnyConnection,
    account_id: &str,
    limit: i64,
) -> Result<Vec<Payment>, StoreError> {
    Ok(sqlx::query_as::<_, Payment>(
        "select id, account_id, kind, amount, currency, status, created_at from payments \
         where account_id = $1 order by created_at desc, id desc limit $2",
    )
    .bind(account_id)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Paid donations since `since` (ms), per currency: `(currency, count, amount)`, largest
/// count first.
///
/// # Errors
/// [`StoreError`].
pub async fn sum_donations_since(
    conn: &mut AnyConnection,
    since: i64,
) -> Result<Vec<(String, i64, i64)>, StoreError> {
    Ok(sqlx::query_as(
        "select currency, cast(count(*) as bigint), cast(coalesce(sum(amount), 0) as bigint) \
         from payments where kind = 'donation' and status = 'paid' and created_at >= $1 \
         group by currency order by 2 desc, currency",
    )
    .bind(since)
    .fetch_all(conn)
    .await?)
}

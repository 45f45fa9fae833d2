//! Billing's reads and writes of `accounts` (hub.md §8.5): the lookup by Stripe customer, storing
//! the customer once known, and the first paid subscription (`ever_paid_at`).

use sqlx::AnyConnection;

use crate::store::StoreError;

/// The account whose `stripe_customer_id` is `customer`, if any.
///
/// # Errors
/// [`StoreError`].
pub async fn find_account_id_by_customer(
    conn: &mut AnyConnection,
    customer: &str,
) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar("select id from accounts where stripe_customer_id = $1")
            .bind(customer)
            .fetch_optional(conn)
            .await?,
    )
}

/// Stores `customer` on an account that has none yet, unless another account holds it (the
/// column is unique). Whether it was stored.
///
/// # Errors
/// [`StoreError`].
pub async fn update_stripe_customer(
    conn: &mut AnyConnection,
    id: &str,
    customer: &str,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "update accounts set stripe_customer_id = $2, updated_at = $3 \
         where id = $1 and stripe_customer_id is null \
         and not exists (select 1 from accounts other where other.stripe_customer_id = $2)",
    )
    .bind(id)
    .bind(customer)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Sets `ever_paid_at` the first time an account holds an `active` or `trialing` subscription
/// (hub.md §8.5 rule 5); later calls keep the first time.
///
/// # Errors
/// [`StoreError`].
pub async fn mark_ever_paid(
    conn: &mut AnyConnection,
    id: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "update accounts set ever_paid_at = $2, updated_at = $2 where id = $1 and ever_paid_at is null",
    )
    .bind(id)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(())
}

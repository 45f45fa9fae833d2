//! Admin changes to `accounts` (hub.md §9): state moves, bans, comps and the removal of an
//! account still waiting for approval. Each change is conditional inside its `update`, so of two
//! concurrent admin calls only one makes it, on either database.

use sqlx::AnyConnection;

use super::text;
use crate::members::State;
use crate::store::StoreError;

/// Moves an account from state `from` to `to` (before a recompute, which keeps pending and
/// banned states). Whether it was in `from`.
///
/// # Errors
/// [`StoreError`].
pub async fn update_state(
    conn: &mut AnyConnection,
    id: &str,
    from: State,
    to: State,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let done =
        sqlx::query("update accounts set state = $3, updated_at = $4 where id = $1 and state = $2")
            .bind(id)
            .bind(text(from))
            .bind(text(to))
            .bind(now_ms)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Bans an account that is not banned: state `banned`, `banned_at`, `ban_reason`. Whether it did.
///
/// # Errors
/// [`StoreError`].
pub async fn mark_banned(
    conn: &mut AnyConnection,
    id: &str,
    reason: &str,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "update accounts set state = 'banned', banned_at = $2, ban_reason = $3, updated_at = $2 \
         where id = $1 and state <> 'banned'",
    )
    .bind(id)
    .bind(now_ms)
    .bind(reason)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Lifts the ban of a banned account: clears `banned_at` and `ban_reason` and sets the state to
/// recompute from. Whether it was banned.
///
/// # Errors
/// [`StoreError`].
pub async fn mark_unbanned(
    conn: &mut AnyConnection,
    id: &str,
    state: State,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "update accounts set state = $2, banned_at = null, ban_reason = null, updated_at = $3 \
         where id = $1 and state = 'banned'",
    )
    .bind(id)
    .bind(text(state))
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes an account still waiting for approval (bindings, sessions and tokens cascade; its
/// application keeps its row). Whether it did.
///
/// # Errors
/// [`StoreError`].
pub async fn delete_pending_account(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query("delete from accounts where id = $1 and state = 'pending_approval'")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Grants a comp from now until `until` (`None` = open-ended); the account counts as having had
/// paid access from then on (`ever_paid_at`, hub.md §6.4 rule 5).
///
/// # Errors
/// [`StoreError`].
pub async fn update_comp(
    conn: &mut AnyConnection,
    id: &str,
    until: Option<i64>,
    note: Option<&str>,
    now_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "update accounts set comped_at = $2, comped_until = $3, comp_note = $4, \
         ever_paid_at = coalesce(ever_paid_at, $2), updated_at = $2 where id = $1",
    )
    .bind(id)
    .bind(now_ms)
    .bind(until)
    .bind(note)
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends the comp of a comped account; whether there was one.
///
/// # Errors
/// [`StoreError`].
pub async fn mark_comp_ended(
    conn: &mut AnyConnection,
    id: &str,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "update accounts set comped_at = null, comped_until = null, comp_note = null, updated_at = $2 \
         where id = $1 and comped_at is not null",
    )
    .bind(id)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

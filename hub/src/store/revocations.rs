//! `voucher_revocations` (hub.md §7.4): vouchers of a peer issued before `revoked_before` are void.

use sqlx::AnyConnection;

use super::{Store, StoreError};

/// One revocation.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Revocation {
    /// The holder.
    pub peer_id: String,
    /// Vouchers issued before this (ms) are revoked.
    pub revoked_before: i64,
}

/// Records a revocation inside the caller's transaction; a later one replaces an earlier one.
///
/// # Errors
/// [`StoreError`].
pub async fn insert_revocation(
    conn: &mut AnyConnection,
    peer_id: &str,
    reason: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into voucher_revocations (peer_id, revoked_before, reason, created_at) values ($1, $2, $3, $2) \
         on conflict (peer_id) do update set revoked_before = excluded.revoked_before, \
         reason = excluded.reason, created_at = excluded.created_at",
    )
    .bind(peer_id)
    .bind(now_ms)
    .bind(reason)
    .execute(conn)
    .await?;
    Ok(())
}

impl Store {
    /// Revocations recorded at or after `since_ms`, oldest first, at most `limit`.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn list_revocations(
        &self,
        since_ms: i64,
        limit: i64,
    ) -> Result<Vec<Revocation>, StoreError> {
        Ok(sqlx::query_as::<_, Revocation>(
            "select peer_id, revoked_before from voucher_revocations where created_at >= $1 \
             order by created_at, peer_id limit $2",
        )
        .bind(since_ms)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?)
    }
}

/// Deletes the revocations recorded before `before_ms` (the sweep); how many.
pub(super) async fn delete_revocations_before(
    conn: &mut AnyConnection,
    before_ms: i64,
) -> Result<u64, StoreError> {
    super::rows_affected(
        conn,
        "delete from voucher_revocations where created_at < $1",
        before_ms,
    )
    .await
}

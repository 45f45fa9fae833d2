//! `bind_codes` (hub.md §6.9): short-lived codes that bind another peer to a signed-in account,
//! stored only as SHA-256 hex of the normalized code.

use sqlx::AnyConnection;

use super::{Store, StoreError};

/// A bind code as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BindCode {
    /// SHA-256 hex of the normalized code.
    pub code_hash: String,
    /// The account a peer binds to with it.
    pub account_id: String,
    /// Created (ms).
    pub created_at: i64,
    /// Expires (ms).
    pub expires_at: i64,
}

/// Consumes an unexpired bind code for `peer`; the account it binds to, or `None`.
///
/// # Errors
/// [`StoreError`].
pub async fn mark_bind_code_consumed(
    conn: &mut AnyConnection,
    code_hash: &str,
    peer: &str,
    now_ms: i64,
) -> Result<Option<String>, StoreError> {
    let account: Option<String> = sqlx::query_scalar(
        "update bind_codes set consumed_at = $3, consumed_by = $2 \
         where code_hash = $1 and consumed_at is null and expires_at > $3 returning account_id",
    )
    .bind(code_hash)
    .bind(peer)
    .bind(now_ms)
    .fetch_optional(conn)
    .await?;
    Ok(account)
}

impl Store {
    /// Stores a new bind code.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn insert_bind_code(&self, code: &BindCode) -> Result<(), StoreError> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "insert into bind_codes (code_hash, account_id, created_at, expires_at) values ($1, $2, $3, $4)",
        )
        .bind(&code.code_hash)
        .bind(&code.account_id)
        .bind(code.created_at)
        .bind(code.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Deletes the bind codes that expired at or before `now_ms` (the sweep); how many.
pub(super) async fn delete_expired_bind_codes(
    conn: &mut AnyConnection,
    now_ms: i64,
) -> Result<u64, StoreError> {
    super::rows_affected(
        conn,
        "delete from bind_codes where expires_at <= $1",
        now_ms,
    )
    .await
}

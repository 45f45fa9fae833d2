//! `sessions` (hub.md §6.9 rule 1): browser sessions, stored only as SHA-256 hex of the cookie.

use sqlx::AnyConnection;

use super::{Store, StoreError};

/// A browser session (hub.md §6.9 rule 1).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Session {
    /// SHA-256 hex of the cookie value.
    pub id_hash: String,
    /// Its account.
    pub account_id: String,
    /// Created (ms).
    pub created_at: i64,
    /// Expires (ms).
    pub expires_at: i64,
    /// Last used (ms).
    pub last_used_at: i64,
    /// Client IP at creation.
    pub ip: Option<String>,
    /// User agent at creation (at most 256 bytes).
    pub user_agent: Option<String>,
}

/// Inserts a session inside the caller's transaction.
///
/// # Errors
/// [`StoreError`].
pub async fn insert_session(conn: &mut AnyConnection, s: &Session) -> Result<(), StoreError> {
    sqlx::query(
        "insert into sessions (id_hash, account_id, created_at, expires_at, last_used_at, ip, user_agent) \
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&s.id_hash)
    .bind(&s.account_id)
    .bind(s.created_at)
    .bind(s.expires_at)
    .bind(s.last_used_at)
    .bind(&s.ip)
    .bind(&s.user_agent)
    .execute(conn)
    .await?;
    Ok(())
}

impl Store {
    /// The unexpired session with this hash; renews it to `renew_to` when its expiry is before
    /// `renew_before` (used after half its life).
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn find_and_renew_session(
        &self,
        id_hash: &str,
        now_ms: i64,
        renew_before: i64,
        renew_to: i64,
    ) -> Result<Option<Session>, StoreError> {
        let session = sqlx::query_as::<_, Session>(
            "select id_hash, account_id, created_at, expires_at, last_used_at, ip, user_agent from sessions \
             where id_hash = $1 and expires_at > $2",
        )
        .bind(id_hash)
        .bind(now_ms)
        .fetch_optional(self.db.pool())
        .await?;
        if let Some(s) = &session
            && s.expires_at < renew_before
        {
            sqlx::query(
                "update sessions set expires_at = $2, last_used_at = $3 where id_hash = $1",
            )
            .bind(id_hash)
            .bind(renew_to)
            .bind(now_ms)
            .execute(self.db.pool())
            .await?;
        }
        Ok(session)
    }

    /// Ends a session.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        sqlx::query("delete from sessions where id_hash = $1")
            .bind(id_hash)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }
}

/// Ends every session of an account inside the caller's transaction (ban, address change, "sign
/// out everywhere"); how many.
///
/// # Errors
/// [`StoreError`].
pub async fn delete_account_sessions(
    conn: &mut AnyConnection,
    account_id: &str,
) -> Result<u64, StoreError> {
    let done = sqlx::query("delete from sessions where account_id = $1")
        .bind(account_id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// Deletes the sessions that expired at or before `now_ms` (the sweep); how many.
pub(super) async fn delete_expired_sessions(
    conn: &mut AnyConnection,
    now_ms: i64,
) -> Result<u64, StoreError> {
    super::rows_affected(conn, "delete from sessions where expires_at <= $1", now_ms).await
}

//! `email_tokens`, `sessions` and `bind_codes` (hub.md §6.8, §6.9): single-use secrets stored only
//! as SHA-256 hex of the value handed out.

use sqlx::AnyConnection;

use super::{Store, StoreError};

/// An email token as stored (everything but the secret itself).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EmailToken {
    /// SHA-256 hex of the token.
    pub token_hash: String,
    /// `join`, `login` or `change_email`.
    pub purpose: String,
    /// The normalized address the link went to.
    pub email: String,
    /// The account it acts on (join: the pending or existing account).
    pub account_id: Option<String>,
    /// The peer to bind when consumed (signed join).
    pub peer_id: Option<String>,
    /// Its label.
    pub peer_label: Option<String>,
    /// The PeerSig timestamp proving the peer's key (ms).
    pub peer_proof_ts: Option<i64>,
    /// The PeerSig signature proving the peer's key (b64u).
    pub peer_proof_sig: Option<String>,
    /// The invite code given at join.
    pub invite_code: Option<String>,
    /// The application message given at join.
    pub message: Option<String>,
    /// The requester's IP.
    pub request_ip: Option<String>,
    /// Created (ms).
    pub created_at: i64,
    /// Expires (ms).
    pub expires_at: i64,
    /// Consumed (ms).
    pub consumed_at: Option<i64>,
}

const TOKEN_COLUMNS: &str = "token_hash, purpose, email, account_id, peer_id, peer_label, peer_proof_ts, \
     peer_proof_sig, invite_code, message, request_ip, created_at, expires_at, consumed_at";

/// Inserts a token inside the caller's transaction (with its outbox mail).
///
/// # Errors
/// [`StoreError`].
pub async fn insert_token(conn: &mut AnyConnection, t: &EmailToken) -> Result<(), StoreError> {
    let sql = format!(
        "insert into email_tokens ({TOKEN_COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&t.token_hash)
        .bind(&t.purpose)
        .bind(&t.email)
        .bind(&t.account_id)
        .bind(&t.peer_id)
        .bind(&t.peer_label)
        .bind(t.peer_proof_ts)
        .bind(&t.peer_proof_sig)
        .bind(&t.invite_code)
        .bind(&t.message)
        .bind(&t.request_ip)
        .bind(t.created_at)
        .bind(t.expires_at)
        .bind(t.consumed_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// The token with this hash.
///
/// # Errors
/// [`StoreError`].
pub async fn token_by_hash(
    conn: &mut AnyConnection,
    token_hash: &str,
) -> Result<Option<EmailToken>, StoreError> {
    let sql = format!("select {TOKEN_COLUMNS} from email_tokens where token_hash = $1");
    Ok(sqlx::query_as::<_, EmailToken>(sqlx::AssertSqlSafe(sql))
        .bind(token_hash)
        .fetch_optional(conn)
        .await?)
}

/// Consumes a token unless it was consumed already; whether this call consumed it.
///
/// # Errors
/// [`StoreError`].
pub async fn consume_token(
    conn: &mut AnyConnection,
    token_hash: &str,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "update email_tokens set consumed_at = $2 where token_hash = $1 and consumed_at is null",
    )
    .bind(token_hash)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The newest unconsumed, unexpired join token for an address (the context resend carries over).
///
/// # Errors
/// [`StoreError`].
pub async fn newest_join_token(
    conn: &mut AnyConnection,
    email: &str,
    now_ms: i64,
) -> Result<Option<EmailToken>, StoreError> {
    let sql = format!(
        "select {TOKEN_COLUMNS} from email_tokens where email = $1 and purpose = 'join' \
         and consumed_at is null and expires_at > $2 order by created_at desc, token_hash limit 1"
    );
    Ok(sqlx::query_as::<_, EmailToken>(sqlx::AssertSqlSafe(sql))
        .bind(email)
        .bind(now_ms)
        .fetch_optional(conn)
        .await?)
}

/// Deletes the unconsumed join tokens of an address except `keep`.
///
/// # Errors
/// [`StoreError`].
pub async fn delete_join_tokens_except(
    conn: &mut AnyConnection,
    email: &str,
    keep: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "delete from email_tokens where email = $1 and purpose = 'join' and consumed_at is null and token_hash <> $2",
    )
    .bind(email)
    .bind(keep)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes an account's unconsumed tokens except `keep` (after an email change).
///
/// # Errors
/// [`StoreError`].
pub async fn delete_account_tokens_except(
    conn: &mut AnyConnection,
    account_id: &str,
    keep: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "delete from email_tokens where account_id = $1 and consumed_at is null and token_hash <> $2",
    )
    .bind(account_id)
    .bind(keep)
    .execute(conn)
    .await?;
    Ok(())
}

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
pub async fn consume_bind_code(
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
    /// The token with this hash.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn find_token(&self, token_hash: &str) -> Result<Option<EmailToken>, StoreError> {
        let mut conn = self.db.pool().acquire().await?;
        token_by_hash(&mut conn, token_hash).await
    }

    /// Whether an unconsumed, unexpired join token names `peer` (membership `pending_email`).
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn has_pending_join(&self, peer: &str, now_ms: i64) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "select cast(count(*) as bigint) from email_tokens where peer_id = $1 and purpose = 'join' \
             and consumed_at is null and expires_at > $2",
        )
        .bind(peer)
        .bind(now_ms)
        .fetch_one(self.db.pool())
        .await?;
        Ok(n > 0)
    }

    /// The unexpired session with this hash; renews it to `renew_to` when its expiry is before
    /// `renew_before` (used after half its life).
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn touch_session(
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

    /// Deletes tokens, bind codes and sessions that expired before `now_ms` (the sweep, §6.7);
    /// returns how many rows went.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn delete_expired_secrets(&self, now_ms: i64) -> Result<u64, StoreError> {
        let mut tx = self.db.begin_write().await?;
        let mut gone = 0;
        for sql in [
            "delete from email_tokens where expires_at <= $1",
            "delete from bind_codes where expires_at <= $1",
            "delete from sessions where expires_at <= $1",
        ] {
            gone += sqlx::query(sql)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(gone)
    }
}

//! `email_tokens` (hub.md §6.8): the single-use links of join, login and email change, stored only
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
pub async fn insert_email_token(
    conn: &mut AnyConnection,
    t: &EmailToken,
) -> Result<(), StoreError> {
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
pub async fn find_email_token(
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
pub async fn mark_email_token_consumed(
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
pub async fn find_newest_join_token(
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

/// Deletes an account's unconsumed tokens except `keep` and, with `keep_marked`, those whose
/// `message` is that mark (the undo links of earlier address changes, which a later change must
/// not void; hub.md §6.10).
///
/// # Errors
/// [`StoreError`].
pub async fn delete_account_tokens_except(
    conn: &mut AnyConnection,
    account_id: &str,
    keep: &str,
    keep_marked: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query(
        "delete from email_tokens where account_id = $1 and consumed_at is null and token_hash <> $2 \
         and (cast($3 as text) is null or message is null or message <> cast($3 as text))",
    )
    .bind(account_id)
    .bind(keep)
    .bind(keep_marked)
    .execute(conn)
    .await?;
    Ok(())
}

impl Store {
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
}

/// Deletes the tokens that expired at or before `now_ms` (the sweep); how many.
pub(super) async fn delete_expired_email_tokens(
    conn: &mut AnyConnection,
    now_ms: i64,
) -> Result<u64, StoreError> {
    super::rows_affected(
        conn,
        "delete from email_tokens where expires_at <= $1",
        now_ms,
    )
    .await
}

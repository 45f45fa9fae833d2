//! `invites` (hub.md §6.2, §9): invite codes, their uses and their revocation.

use sqlx::AnyConnection;

use super::StoreError;

/// An invite as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Invite {
    /// The normalized code (12 Crockford base32 characters, no dashes).
    pub code: String,
    /// The admin's note.
    pub note: Option<String>,
    /// Uses allowed.
    pub max_uses: i64,
    /// Uses consumed.
    pub uses: i64,
    /// Admin actor that created it.
    pub created_by: String,
    /// Created (ms).
    pub created_at: i64,
    /// Expires (ms); `None` = never.
    pub expires_at: Option<i64>,
    /// Revoked (ms).
    pub revoked_at: Option<i64>,
}

impl Invite {
    /// Whether the invite admits one more use at `now_ms`.
    pub fn is_usable(&self, now_ms: i64) -> bool {
        self.revoked_at.is_none()
            && self.expires_at.is_none_or(|at| at > now_ms)
            && self.uses < self.max_uses
    }
}

const INVITE_COLUMNS: &str =
    "code, note, max_uses, uses, created_by, created_at, expires_at, revoked_at";

/// The invite with this (normalized) code.
///
/// # Errors
/// [`StoreError`].
pub async fn find_invite(
    conn: &mut AnyConnection,
    code: &str,
) -> Result<Option<Invite>, StoreError> {
    let sql = format!("select {INVITE_COLUMNS} from invites where code = $1");
    Ok(sqlx::query_as::<_, Invite>(sqlx::AssertSqlSafe(sql))
        .bind(code)
        .fetch_optional(conn)
        .await?)
}

/// Consumes one use of an invite if it still has one; whether it did.
///
/// # Errors
/// [`StoreError`].
pub async fn mark_invite_used(
    conn: &mut AnyConnection,
    code: &str,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "update invites set uses = uses + 1 where code = $1 and revoked_at is null \
         and (expires_at is null or expires_at > $2) and uses < max_uses",
    )
    .bind(code)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Inserts an invite.
///
/// # Errors
/// [`StoreError::Conflict`] for a code that exists.
pub async fn insert_invite(conn: &mut AnyConnection, invite: &Invite) -> Result<(), StoreError> {
    let sql =
        format!("insert into invites ({INVITE_COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8)");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&invite.code)
        .bind(&invite.note)
        .bind(invite.max_uses)
        .bind(invite.uses)
        .bind(&invite.created_by)
        .bind(invite.created_at)
        .bind(invite.expires_at)
        .bind(invite.revoked_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Invites, newest first (at most `limit`); revoked ones only when asked.
///
/// # Errors
/// [`StoreError`].
pub async fn list_invites(
    conn: &mut AnyConnection,
    include_revoked: bool,
    limit: i64,
) -> Result<Vec<Invite>, StoreError> {
    let filter = if include_revoked {
        ""
    } else {
        " where revoked_at is null"
    };
    let sql = format!(
        "select {INVITE_COLUMNS} from invites{filter} order by created_at desc, code desc limit $1"
    );
    Ok(sqlx::query_as::<_, Invite>(sqlx::AssertSqlSafe(sql))
        .bind(limit)
        .fetch_all(conn)
        .await?)
}

/// Marks an unrevoked invite revoked; whether it did.
///
/// # Errors
/// [`StoreError`].
pub async fn mark_invite_revoked(
    conn: &mut AnyConnection,
    code: &str,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let done =
        sqlx::query("update invites set revoked_at = $2 where code = $1 and revoked_at is null")
            .bind(code)
            .bind(now_ms)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

//! `invites` and `applications` (hub.md §6.2, §9).

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

pub(crate) const INVITE_COLUMNS: &str =
    "code, note, max_uses, uses, created_by, created_at, expires_at, revoked_at";

/// The invite with this (normalized) code.
///
/// # Errors
/// [`StoreError`].
pub async fn invite_by_code(
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
pub async fn use_invite(
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

/// An application as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Application {
    /// UUIDv7.
    pub id: String,
    /// The applicant's account (null once the account is gone).
    pub account_id: Option<String>,
    /// The address.
    pub email: String,
    /// The applicant's message.
    pub message: String,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// Created (ms).
    pub created_at: i64,
    /// Decided (ms).
    pub decided_at: Option<i64>,
    /// Who decided.
    pub decided_by: Option<String>,
    /// Why (reject reason or approval note).
    pub decision_reason: Option<String>,
}

pub(crate) const APPLICATION_COLUMNS: &str =
    "id, account_id, email, message, status, created_at, decided_at, decided_by, decision_reason";

/// Inserts a pending application.
///
/// # Errors
/// [`StoreError`].
pub async fn insert_application(
    conn: &mut AnyConnection,
    application: &Application,
) -> Result<(), StoreError> {
    let sql = format!(
        "insert into applications ({APPLICATION_COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&application.id)
        .bind(&application.account_id)
        .bind(&application.email)
        .bind(&application.message)
        .bind(&application.status)
        .bind(application.created_at)
        .bind(application.decided_at)
        .bind(&application.decided_by)
        .bind(&application.decision_reason)
        .execute(conn)
        .await?;
    Ok(())
}

/// The newest application of an account.
///
/// # Errors
/// [`StoreError`].
pub async fn application_of(
    conn: &mut AnyConnection,
    account_id: &str,
) -> Result<Option<Application>, StoreError> {
    let sql = format!(
        "select {APPLICATION_COLUMNS} from applications where account_id = $1 order by created_at desc, id desc limit 1"
    );
    Ok(sqlx::query_as::<_, Application>(sqlx::AssertSqlSafe(sql))
        .bind(account_id)
        .fetch_optional(conn)
        .await?)
}

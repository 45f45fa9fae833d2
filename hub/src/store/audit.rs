//! `admin_audit` (hub.md §9 "Audit"): one row per admin change, written in the transaction that
//! makes the change.

use sqlx::AnyConnection;

use super::Cursor;
use super::StoreError;
use super::page::{Clauses, rows_as};

/// One `admin_audit` row (hub.md §9 "Audit").
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditEntry {
    /// UUIDv7.
    pub id: String,
    /// When (ms).
    pub at: i64,
    /// `X-Goop-Admin-Actor`, or `admin`.
    pub actor: String,
    /// `member.ban`, `invite.create`, …
    pub action: String,
    /// `account`, `peer`, `invite`.
    pub target_type: String,
    /// The account id, PeerId or invite code.
    pub target_id: String,
    /// JSON object with the request's parameters.
    pub details: String,
    /// The client IP.
    pub ip: Option<String>,
}

/// Writes one audit row inside the caller's transaction (the one making the change).
///
/// # Errors
/// [`StoreError`].
pub async fn insert_audit(conn: &mut AnyConnection, entry: &AuditEntry) -> Result<(), StoreError> {
    sqlx::query(
        "insert into admin_audit (id, at, actor, action, target_type, target_id, details, ip) \
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&entry.id)
    .bind(entry.at)
    .bind(&entry.actor)
    .bind(&entry.action)
    .bind(&entry.target_type)
    .bind(&entry.target_id)
    .bind(&entry.details)
    .bind(&entry.ip)
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces the details of the audit row `id` (a change that finishes after its commit, such as
/// a ban's cancellation at Stripe, adds its outcome).
///
/// # Errors
/// [`StoreError::NotFound`] when there is no such row.
pub async fn update_audit_details(
    conn: &mut AnyConnection,
    id: &str,
    details: &str,
) -> Result<(), StoreError> {
    let done = sqlx::query("update admin_audit set details = $1 where id = $2")
        .bind(details)
        .bind(id)
        .execute(conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

const AUDIT_COLUMNS: &str = "id, at, actor, action, target_type, target_id, details, ip";

/// Audit rows, newest first, after `after`.
///
/// # Errors
/// [`StoreError`].
pub async fn list_audit(
    conn: &mut AnyConnection,
    after: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<AuditEntry>, StoreError> {
    let select = format!("select {AUDIT_COLUMNS} from admin_audit");
    let rows = Clauses::default()
        .page(conn, &select, "at", after, limit)
        .await?;
    rows_as(&rows)
}

/// The newest audit rows about `target_id`.
///
/// # Errors
/// [`StoreError`].
pub async fn list_audit_of_target(
    conn: &mut AnyConnection,
    target_id: &str,
    limit: i64,
) -> Result<Vec<AuditEntry>, StoreError> {
    let sql = format!(
        "select {AUDIT_COLUMNS} from admin_audit where target_id = $1 order by at desc, id desc limit $2"
    );
    Ok(sqlx::query_as::<_, AuditEntry>(sqlx::AssertSqlSafe(sql))
        .bind(target_id)
        .bind(limit)
        .fetch_all(conn)
        .await?)
}

//! `applications` (hub.md §6.2, §9): what applicants wrote under `join.mode = "approval"`, and the
//! admin's decision.

use sqlx::AnyConnection;

use super::Cursor;
use super::StoreError;
use super::page::{Clauses, Value, rows_as};

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

const APPLICATION_COLUMNS: &str =
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
pub async fn find_latest_application(
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

/// Applications with `status`, newest first, after `after`.
///
/// # Errors
/// [`StoreError`].
pub async fn list_applications(
    conn: &mut AnyConnection,
    status: &str,
    after: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<Application>, StoreError> {
    let mut clauses = Clauses::default();
    let p = clauses.push(Value::Text(status.to_owned()));
    clauses.sql.push(format!("status = {p}"));
    let select = format!("select {APPLICATION_COLUMNS} from applications");
    let rows = clauses
        .page(conn, &select, "created_at", after, limit)
        .await?;
    rows_as(&rows)
}

/// Records the decision on an account's pending applications; how many there were.
///
/// # Errors
/// [`StoreError`].
pub async fn mark_applications_decided(
    conn: &mut AnyConnection,
    account_id: &str,
    status: &str,
    actor: &str,
    reason: Option<&str>,
    now_ms: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "update applications set status = $2, decided_at = $3, decided_by = $4, decision_reason = $5 \
         where account_id = $1 and status = 'pending'",
    )
    .bind(account_id)
    .bind(status)
    .bind(now_ms)
    .bind(actor)
    .bind(reason)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

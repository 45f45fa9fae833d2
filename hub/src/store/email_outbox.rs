//! `email_outbox`: messages waiting to be sent, and what happened to them (hub.md §6.8 5a).

use sqlx::AnyConnection;

use super::{Store, StoreError};

/// A message to enqueue.
#[derive(Debug, Clone)]
pub struct NewEmail {
    /// Row id (UUIDv7).
    pub id: String,
    /// The RFC 5322 Message-ID used on every attempt, with angle brackets.
    pub message_id: String,
    /// `join`, `login` or `change_email`.
    pub purpose: String,
    /// Recipient address.
    pub to_addr: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
}

/// A message the worker should (re)try now.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueEmail {
    /// Row id.
    pub id: String,
    /// Stable Message-ID.
    pub message_id: String,
    /// Purpose, for metrics.
    pub purpose: String,
    /// Recipient.
    pub to_addr: String,
    /// Subject.
    pub subject: String,
    /// Body.
    pub body: String,
    /// Attempts so far.
    pub attempts: i64,
    /// When it was enqueued (ms).
    pub created_at: i64,
}

/// Enqueues a message inside the caller's transaction, so it exists exactly when its token does.
///
/// # Errors
/// [`StoreError`]; a reused id or Message-ID is [`StoreError::Conflict`].
pub async fn insert_email(
    conn: &mut AnyConnection,
    email: &NewEmail,
    now_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into email_outbox (id, message_id, purpose, to_addr, subject, body, next_attempt_at, created_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(&email.id)
    .bind(&email.message_id)
    .bind(&email.purpose)
    .bind(&email.to_addr)
    .bind(&email.subject)
    .bind(&email.body)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(())
}

impl Store {
    /// Unsent messages whose next attempt is due, oldest first.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn list_due_emails(
        &self,
        now_ms: i64,
        limit: i64,
    ) -> Result<Vec<DueEmail>, StoreError> {
        let rows = sqlx::query_as::<_, DueEmail>(
            "select id, message_id, purpose, to_addr, subject, body, attempts, created_at from email_outbox \
             where sent_at is null and body is not null and next_attempt_at <= $1 \
             order by next_attempt_at limit $2",
        )
        .bind(now_ms)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows)
    }

    /// Records a delivery and drops the body (it holds the raw link).
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn mark_email_sent(&self, id: &str, now_ms: i64) -> Result<(), StoreError> {
        sqlx::query("update email_outbox set sent_at = $2, body = null, attempts = attempts + 1 where id = $1")
            .bind(id)
            .bind(now_ms)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Records a failed attempt and when to try again.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn mark_email_failed(
        &self,
        id: &str,
        next_attempt_at: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "update email_outbox set attempts = attempts + 1, next_attempt_at = $2, last_error = $3 where id = $1",
        )
        .bind(id)
        .bind(next_attempt_at)
        .bind(error)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Gives up on unsent messages enqueued before `cutoff_ms` (their tokens have expired) and
    /// drops their bodies; returns how many.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn mark_emails_expired(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "update email_outbox set body = null where sent_at is null and body is not null and created_at < $1",
        )
        .bind(cutoff_ms)
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Messages still waiting to be sent.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn count_pending_emails(&self) -> Result<i64, StoreError> {
        let count: i64 = sqlx::query_scalar(
            "select cast(count(*) as bigint) from email_outbox where sent_at is null and body is not null",
        )
        .fetch_one(self.db.pool())
        .await?;
        Ok(count)
    }
}

/// Messages sent since `since_ms`, and messages created since then that are unsent and failed at
/// least once.
///
/// # Errors
/// [`StoreError`].
pub async fn count_emails_since(
    conn: &mut AnyConnection,
    since_ms: i64,
) -> Result<(i64, i64), StoreError> {
    let sent: i64 =
        sqlx::query_scalar("select cast(count(*) as bigint) from email_outbox where sent_at >= $1")
            .bind(since_ms)
            .fetch_one(&mut *conn)
            .await?;
    let failed: i64 = sqlx::query_scalar(
        "select cast(count(*) as bigint) from email_outbox where created_at >= $1 and sent_at is null \
         and last_error is not null",
    )
    .bind(since_ms)
    .fetch_one(conn)
    .await?;
    Ok((sent, failed))
}

/// Deletes the rows sent or abandoned (body dropped) before `before_ms` (the sweep); how many.
pub(super) async fn delete_finished_emails(
    conn: &mut AnyConnection,
    before_ms: i64,
) -> Result<u64, StoreError> {
    super::rows_affected(
        conn,
        "delete from email_outbox where body is null and created_at < $1",
        before_ms,
    )
    .await
}

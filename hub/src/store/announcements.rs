//! `announcements` (hub.md §11.4, §14): per configured super hub, the outcome of the latest
//! announcement and when the next one is due.

use super::{Store, StoreError};

/// One super hub's row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Announcement {
    /// The super hub's normalized base URL.
    pub superhub_url: String,
    /// The latest attempt (ms).
    pub last_attempt_at: Option<i64>,
    /// The latest accepted announcement (ms).
    pub last_success_at: Option<i64>,
    /// The `state` the super hub answered last (`pending_probe`, `listed`, `tombstoned`, …).
    pub last_state: Option<String>,
    /// Why the latest attempt failed; `None` after a success.
    pub last_error: Option<String>,
    /// When the next attempt is due (ms).
    pub next_attempt_at: Option<i64>,
}

impl Store {
    /// Every row, by URL.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn list_announcements(&self) -> Result<Vec<Announcement>, StoreError> {
        Ok(sqlx::query_as::<_, Announcement>(
            "select superhub_url, last_attempt_at, last_success_at, last_state, last_error, \
             next_attempt_at from announcements order by superhub_url",
        )
        .fetch_all(self.db.pool())
        .await?)
    }

    /// Records an attempt. `last_success_at` and `last_state` keep their stored values when
    /// `None` (a failure does not forget the last success); the other columns are replaced.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn upsert_announcement(&self, row: &Announcement) -> Result<(), StoreError> {
        sqlx::query(
            "insert into announcements (superhub_url, last_attempt_at, last_success_at, last_state, \
             last_error, next_attempt_at) values ($1, $2, $3, $4, $5, $6) \
             on conflict (superhub_url) do update set last_attempt_at = excluded.last_attempt_at, \
             last_success_at = coalesce(excluded.last_success_at, announcements.last_success_at), \
             last_state = coalesce(excluded.last_state, announcements.last_state), \
             last_error = excluded.last_error, next_attempt_at = excluded.next_attempt_at",
        )
        .bind(&row.superhub_url)
        .bind(row.last_attempt_at)
        .bind(row.last_success_at)
        .bind(row.last_state.as_deref())
        .bind(row.last_error.as_deref())
        .bind(row.next_attempt_at)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }
}

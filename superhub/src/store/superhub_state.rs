//! `superhub_state`: small key/value facts about the super hub itself (`change_seq`).

use super::{Store, StoreError};

impl Store {
    /// The value stored under `key`, if any.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn find_state(&self, key: &str) -> Result<Option<String>, StoreError> {
        let value = sqlx::query_scalar("select value from superhub_state where key = $1")
            .bind(key)
            .fetch_optional(self.db.pool())
            .await?;
        Ok(value)
    }

    /// Stores `value` under `key`, replacing any previous value.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn upsert_state(
        &self,
        key: &str,
        value: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "insert into superhub_state (key, value, updated_at) values ($1, $2, $3) \
             on conflict (key) do update set value = $2, updated_at = $3",
        )
        .bind(key)
        .bind(value)
        .bind(now_ms)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }
}

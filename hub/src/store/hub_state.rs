//! `hub_state`: small key/value facts about the hub itself (`record_seq`, `reconcile_cursor`,
//! `decommissioned_at`).

use shared::db::StateTable;

use super::{Store, StoreError};

const TABLE: StateTable = StateTable::new("hub_state");

impl Store {
    /// The value stored under `key`, if any.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn find_state(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.db.find_state(TABLE, key).await
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
        self.db.upsert_state(TABLE, key, value, now_ms).await
    }
}

/// The `hub_state` key of the last record or tombstone `seq` issued (hub.md §11.3).
const RECORD_SEQ: &str = "record_seq";

impl Store {
    /// Allocates the `seq` of a new record or tombstone: `max(previous + 1, now_ms)`, stored before
    /// it returns, so every `seq` is greater than all before it, across restarts and concurrent
    /// issuers (one atomic update of the row).
    ///
    /// # Errors
    /// [`StoreError`] on database failure, or a stored value that is not a number.
    pub async fn next_record_seq(&self, now_ms: i64) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "insert into hub_state (key, value, updated_at) values ($1, '0', $2) \
             on conflict (key) do nothing",
        )
        .bind(RECORD_SEQ)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        let value: String = sqlx::query_scalar(
            "update hub_state set value = cast(case when cast(value as bigint) + 1 > $2 \
             then cast(value as bigint) + 1 else $2 end as text), updated_at = $2 \
             where key = $1 returning value",
        )
        .bind(RECORD_SEQ)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        value
            .parse()
            .map_err(|_| StoreError::Corrupt("hub_state.record_seq"))
    }

    /// Removes `key`; whether it was present.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn delete_state(&self, key: &str) -> Result<bool, StoreError> {
        let deleted = sqlx::query("delete from hub_state where key = $1")
            .bind(key)
            .execute(self.db.pool())
            .await?
            .rows_affected();
        Ok(deleted > 0)
    }
}

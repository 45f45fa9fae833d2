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

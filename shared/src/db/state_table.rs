//! The `<server>_state` tables: small key/value facts a server keeps about itself (`record_seq`,
//! `change_seq`, …). One implementation for every server; the table name is checked once, at
//! compile time, because it is spliced into the SQL.

use super::{Database, StoreError};

/// The name of a `(key text primary key, value text, updated_at bigint)` table.
#[derive(Debug, Clone, Copy)]
pub struct StateTable(&'static str);

impl StateTable {
    /// Names the table.
    ///
    /// # Panics
    /// Unless `name` is lower-case ASCII letters and underscores ending in `_state`; used in a
    /// `const`, a bad name fails the build.
    pub const fn new(name: &'static str) -> Self {
        assert!(is_state_table_name(name), "state table: [a-z_]+_state");
        Self(name)
    }

    /// The table name.
    pub fn name(&self) -> &'static str {
        self.0
    }
}

const fn is_state_table_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let suffix = b"_state";
    if bytes.len() <= suffix.len() {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if !(bytes[i].is_ascii_lowercase() || bytes[i] == b'_') {
            return false;
        }
        i += 1;
    }
    let start = bytes.len() - suffix.len();
    let mut j = 0;
    while j < suffix.len() {
        if bytes[start + j] != suffix[j] {
            return false;
        }
        j += 1;
    }
    true
}

impl Database {
    /// The value stored under `key` in `table`, if any.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn find_state(
        &self,
        table: StateTable,
        key: &str,
    ) -> Result<Option<String>, StoreError> {
        let sql = format!("select value from {} where key = $1", table.name());
        let value = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .fetch_optional(self.pool())
            .await?;
        Ok(value)
    }

    /// Stores `value` under `key` in `table`, replacing any previous value.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn upsert_state(
        &self,
        table: StateTable,
        key: &str,
        value: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "insert into {} (key, value, updated_at) values ($1, $2, $3) \
             on conflict (key) do update set value = $2, updated_at = $3",
            table.name()
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .bind(value)
            .bind(now_ms)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_name_is_accepted_only_when_lower_snake_case_ending_in_state() {
        assert!(is_state_table_name("hub_state"));
        assert!(is_state_table_name("superhub_state"));
        assert!(!is_state_table_name("_state"));
        assert!(!is_state_table_name("hub_state; drop table x"));
        assert!(!is_state_table_name("Hub_state"));
        assert!(!is_state_table_name("hub_states"));
    }

    #[tokio::test]
    async fn upsert_replaces_value_when_key_exists() {
        const TABLE: StateTable = StateTable::new("test_state");
        let dir = tempfile::tempdir().unwrap();
        let config = crate::db::DatabaseConfig::with_url("sqlite://t.db?mode=rwc");
        let db = Database::connect(&config, dir.path()).await.unwrap();
        sqlx::query("create table test_state (key text primary key, value text not null, updated_at bigint not null)")
            .execute(db.pool())
            .await
            .unwrap();

        let missing = db.find_state(TABLE, "seq").await.unwrap();
        db.upsert_state(TABLE, "seq", "1", 1).await.unwrap();
        db.upsert_state(TABLE, "seq", "2", 2).await.unwrap();

        assert_eq!(missing, None);
        assert_eq!(
            db.find_state(TABLE, "seq").await.unwrap(),
            Some("2".to_owned())
        );
    }
}

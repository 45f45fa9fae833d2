//! The super hub's storage: one [`Store`] over SQLite or Postgres with the portable SQL of
//! `migrations/README.md`. All of the super hub's SQL lives in this module and its children.

mod superhub_state;

use std::path::Path;

use shared::db::{ConnectError, Database, DatabaseConfig, DbKind, Migrations};

pub use shared::db::StoreError;

static MIGRATIONS: Migrations = Migrations {
    sqlite: &sqlx::migrate!("../migrations/superhub/sqlite"),
    postgres: &sqlx::migrate!("../migrations/superhub/postgres"),
};

/// The super hub's database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    db: Database,
}

impl Store {
    /// Connects (retrying while the database is unreachable) and, unless disabled, migrates.
    ///
    /// # Errors
    /// [`ConnectError`] naming the database.
    pub async fn open(config: &DatabaseConfig, data_dir: &Path) -> Result<Self, ConnectError> {
        Ok(Self {
            db: Database::open(config, data_dir, &MIGRATIONS).await?,
        })
    }

    /// Whether `select 1` answers within a second.
    pub async fn is_reachable(&self) -> bool {
        self.db.ping().await.is_ok()
    }

    /// The dialect in use.
    pub fn kind(&self) -> DbKind {
        self.db.kind()
    }

    /// The database URL without its password.
    pub fn display_url(&self) -> &str {
        self.db.display_url()
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.db.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_versions_match_when_comparing_dialects() {
        let [sqlite, postgres] = MIGRATIONS.versions();

        assert_eq!(sqlite, postgres);
        assert!(!sqlite.is_empty());
    }
}

//! The peer's database (peer.md §12): `peer.db` in the data directory, SQLite in WAL mode, the
//! migrations of `migrations/peer/sqlite` applied at start. All of the peer's SQL lives in this
//! module and its children, one file per table; callers see domain types only.

mod chat_messages;
mod group_access;
mod group_subscriptions;
mod groups;
mod hubs;
mod memberships;
mod peer_cache;

use std::path::Path;
use std::time::Duration;

use shared::db::{ConnectError, Database, DatabaseConfig};
use sqlx::migrate::{MigrateError, Migrator};

pub use chat_messages::{ChatRow, HISTORY_PER_PEER, NewChat};
pub use group_access::Access;
pub use group_subscriptions::SubscriptionRow;
pub use groups::{GroupMemberRow, GroupRow};
pub use hubs::{HubRow, HubSource};
pub use memberships::{MembershipRow, StoredVoucher};
pub use peer_cache::PeerCacheRow;
pub use shared::db::StoreError;

/// The peer's migrations.
static MIGRATOR: Migrator = sqlx::migrate!("../migrations/peer/sqlite");

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "peer.db";

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenStoreError {
    /// The file could not be opened or a migration failed.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The database was written by a newer peer (a migration this binary does not know).
    #[error("{0} was written by a newer peer; downgrades are not supported")]
    TooNew(String),
}

/// The peer's database handle. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    db: Database,
}

impl Store {
    /// Opens (creating) `peer.db` in `data_dir` and applies the migrations.
    ///
    /// # Errors
    /// [`OpenStoreError::TooNew`] when the file holds a migration this binary lacks,
    /// [`OpenStoreError::Connect`] otherwise.
    pub async fn open(data_dir: &Path) -> Result<Self, OpenStoreError> {
        let mut config = DatabaseConfig::with_url(&format!("sqlite://{DB_FILE}?mode=rwc"));
        config.max_connections = 5;
        config.connect_timeout = Duration::from_secs(5);
        let db = Database::connect(&config, data_dir).await?;
        match MIGRATOR.run(db.pool()).await {
            Ok(()) => Ok(Self { db }),
            Err(MigrateError::VersionMissing(_)) => {
                db.close().await;
                Err(OpenStoreError::TooNew(
                    data_dir.join(DB_FILE).display().to_string(),
                ))
            }
            Err(source) => {
                db.close().await;
                Err(OpenStoreError::Connect(ConnectError::Migrate {
                    url: data_dir.join(DB_FILE).display().to_string(),
                    source,
                }))
            }
        }
    }

    /// The underlying database, for the table modules.
    pub(crate) fn db(&self) -> &Database {
        &self.db
    }

    /// Closes the pool (checkpointing the WAL).
    pub async fn close(&self) {
        self.db.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn open_migrates_an_empty_directory_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        store.close().await;
        let store = Store::open(dir.path()).await.unwrap();
        assert!(store.list_hubs().await.unwrap().is_empty());
        store.close().await;
    }

    #[tokio::test]
    async fn database_of_a_newer_peer_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        sqlx::query(
            "insert into _sqlx_migrations (version, description, success, checksum, \
             execution_time) values (9999, 'future', 1, x'00', 0)",
        )
        .execute(store.db().pool())
        .await
        .unwrap();
        store.close().await;
        assert!(matches!(
            Store::open(dir.path()).await,
            Err(OpenStoreError::TooNew(_))
        ));
    }
}

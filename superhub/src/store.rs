//! The super hub's storage: one [`Store`] over SQLite or Postgres with the portable SQL of
//! `migrations/README.md`. All of the super hub's SQL lives in this module and its children.

mod changes;
mod federation_peers;
mod hub_languages;
mod hub_tags;
mod hubs;
mod probes;
mod search;
mod slug_claims;
mod superhub_state;

use std::path::Path;

use shared::db::{ConnectError, Database, DatabaseConfig, DbKind, Migrations};

pub use changes::{ChangeKind, append_change, lock_directory, next_change_seq};
pub use changes::{ChangePage, FeedEntry, StoredClaim, StoredItem};
pub use federation_peers::{PeerRow, PeerState, PullOutcome};
pub use hubs::{
    DETAIL_PROBES, HubCounts, HubDetailRow, HubListing, HubState, LISTING_COLUMNS, Provenance,
    PutRecord, PutTombstone, TombstoneRow, fts_rowid, index_for_search,
};
pub use probes::{DueProbe, ProbeReport, ProbeResult, ProbeRow, ProbeStatus, Recorded, Transition};
pub use search::{HubSearch, SearchHit, SearchSort, SortKey};
pub use shared::db::StoreError;
pub use slug_claims::{Claim, HeldClaim, claim_key, release_claims, winner, witness_claim};

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

    /// Begins a write transaction (`begin immediate` on SQLite) for the multi-statement functions
    /// of this module.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(self.db.begin_write().await?)
    }

    /// The connection pool, for reads by the free functions of this module.
    pub(crate) fn pool(&self) -> &sqlx::AnyPool {
        self.db.pool()
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

//! One fresh database per test: a temp-file SQLite database, or a `test_<uuid>` database created
//! in the Postgres cluster that `scripts/test` starts.

use sqlx::{Connection as _, Executor as _};
use tempfile::TempDir;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A temp-file SQLite database.
    Sqlite,
    /// A database in the throwaway Postgres cluster.
    Postgres,
}

/// A database for one test. SQLite files vanish with the value; Postgres databases vanish with the
/// cluster.
#[derive(Debug)]
pub struct TestDb {
    /// The URL to configure a server or store with.
    pub url: String,
    /// The backend.
    pub backend: Backend,
    _dir: Option<TempDir>,
}

impl TestDb {
    /// A fresh SQLite database in a temporary directory (a file, never `:memory:`: pooled
    /// in-memory connections would each see their own database).
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir for SQLite");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
        Self {
            url,
            backend: Backend::Sqlite,
            _dir: Some(dir),
        }
    }

    /// A fresh Postgres database in the cluster named by `TEST_DATABASE_URL`.
    ///
    /// # Panics
    /// Without `TEST_DATABASE_URL`, naming `scripts/test`; or when the cluster refuses.
    pub async fn postgres() -> Self {
        let admin_url = std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| {
            panic!(
                "TEST_DATABASE_URL is not set: Postgres tests need the throwaway cluster that \
                 `scripts/test` starts; run the suite with `scripts/test`"
            )
        });
        sqlx::any::install_default_drivers();
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::AnyConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| {
                panic!("cannot reach TEST_DATABASE_URL ({e}); is scripts/test's cluster up?")
            });
        admin
            .execute(sqlx::AssertSqlSafe(format!("create database {name}")))
            .await
            .expect("create test database");
        let _ = admin.close().await;
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(base, _)| base);
        Self {
            url: format!("{base}/{name}"),
            backend: Backend::Postgres,
            _dir: None,
        }
    }

    /// A second handle on this database through the hub's store, to arrange or inspect rows as
    /// earlier flows would leave them.
    ///
    /// # Panics
    /// When the store cannot be opened.
    pub async fn hub_store(&self) -> hub::store::Store {
        let dir = tempfile::tempdir().expect("temp dir for the store");
        hub::store::Store::open(&shared::db::DatabaseConfig::with_url(&self.url), dir.path())
            .await
            .expect("the hub store opens")
    }
}

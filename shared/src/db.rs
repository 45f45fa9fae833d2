//! The one way to the database: an `sqlx::AnyPool` over SQLite or Postgres chosen by URL, SQLite
//! pragmas, write transactions that cannot hit `SQLITE_BUSY` mid-way, connection retries at
//! start, and a readiness probe. Each server keeps its own SQL in its `store` module on top.

mod state_table;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::config::LoadConfigError;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyPool, Connection as _, Executor as _, Transaction};

pub use state_table::StateTable;

/// SQLite `busy_timeout` in milliseconds (hub.md §14).
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;
/// SQLite `mmap_size`: the database is read through a shared memory map of up to this many bytes
/// (the page cache of the OS, shared by every pooled connection) instead of `read` calls into
/// each connection's own 2 MiB page cache. Address space only; pages count as memory once read.
const SQLITE_MMAP_BYTES: u64 = 1 << 30;
/// How long a request waits for a pooled connection before it is answered 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// `select 1` longer than this makes `/readyz` fail (hub.md §12).
const PING_TIMEOUT: Duration = Duration::from_secs(1);
/// First and largest pause between connection attempts at start.
const RETRY_FIRST: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// Which dialect a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    /// `sqlite:` URLs: the embedded default.
    Sqlite,
    /// `postgres://` or `postgresql://` URLs.
    Postgres,
}

impl DbKind {
    /// The dialect of `url`.
    ///
    /// # Errors
    /// [`ConnectError::UnsupportedUrl`] for any other scheme.
    pub fn from_url(url: &str) -> Result<Self, ConnectError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(ConnectError::UnsupportedUrl { url: redact(url) })
        }
    }
}

/// The `[database]` section shared by the servers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://file.db?mode=rwc` (relative paths resolve against the data dir) or `postgres://…`.
    pub url: String,
    /// A file holding the URL (content trimmed), relative to the data dir; when set it replaces
    /// `url`, so a password need not sit in the config or the environment (`url_file`).
    #[serde(default)]
    pub url_file: PathBuf,
    /// Pool size.
    pub max_connections: u32,
    /// Run embedded migrations at start.
    pub run_migrations: bool,
    /// How long start-up keeps retrying an unreachable database before giving up
    /// (`connect_timeout_secs`).
    #[serde(rename = "connect_timeout_secs", with = "crate::config::secs")]
    pub connect_timeout: Duration,
}

impl DatabaseConfig {
    /// Defaults with the given URL.
    pub fn with_url(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            url_file: PathBuf::new(),
            max_connections: 8,
            run_migrations: true,
            connect_timeout: Duration::from_secs(30),
        }
    }

    /// Reads the URL from `url_file` (resolved against `data_dir`) when that is set.
    ///
    /// # Errors
    /// [`LoadConfigError::File`] when the file cannot be read (an empty one fails validation).
    pub fn read_url_file(&mut self, data_dir: &Path) -> Result<(), LoadConfigError> {
        if !self.url_file.as_os_str().is_empty() {
            let path = crate::config::resolve(data_dir, &self.url_file);
            self.url = crate::config::read_secret_file(&path)?;
        }
        Ok(())
    }

    /// Checks the section at config load, so a bad URL stops start-up before anything is created.
    ///
    /// # Errors
    /// [`LoadConfigError::Rule`] naming `database.url` or `database.max_connections`.
    pub fn validate(&self) -> Result<(), LoadConfigError> {
        DbKind::from_url(&self.url).map_err(|e| LoadConfigError::rule("database.url", e))?;
        if self.max_connections == 0 {
            return Err(LoadConfigError::rule(
                "database.max_connections",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Neither `sqlite:` nor `postgres://`.
    #[error("{url}: only sqlite: and postgres:// URLs are supported")]
    UnsupportedUrl {
        /// The URL without its password.
        url: String,
    },
    /// Every attempt failed (or a non-transient error occurred).
    #[error("database {url}: cannot connect after {attempts} attempt(s): {source}")]
    Unreachable {
        /// The URL without its password.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last error.
        #[source]
        source: sqlx::Error,
    },
    /// A migration failed.
    #[error("database {url}: migration failed: {source}")]
    Migrate {
        /// The URL without its password.
        url: String,
        /// The migrator's error.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
}

/// Errors of store operations, shared by every server's `Store`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist.
    #[error("not found")]
    NotFound,
    /// A unique constraint refused the write.
    #[error("conflict")]
    Conflict,
    /// A stored value breaks the domain's rules (e.g. an unknown enumeration value).
    #[error("corrupt value in {0}")]
    Corrupt(&'static str),
    /// The database cannot be reached right now (answered 503 `unavailable`).
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// Any other database error.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::Conflict,
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
                Self::Unavailable(error)
            }
            _ => Self::Database(error),
        }
    }
}

/// A server's embedded migrations, one directory per dialect with identical version lists.
#[derive(Debug)]
pub struct Migrations {
    /// `migrations/<server>/sqlite`.
    pub sqlite: &'static Migrator,
    /// `migrations/<server>/postgres`.
    pub postgres: &'static Migrator,
}

impl Migrations {
    /// The versions and descriptions of each dialect, for the test that they match.
    pub fn versions(&self) -> [Vec<(i64, String)>; 2] {
        let list = |m: &Migrator| {
            m.iter()
                .map(|x| (x.version, x.description.to_string()))
                .collect()
        };
        [list(self.sqlite), list(self.postgres)]
    }
}

/// A pool plus its dialect. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Database {
    pool: AnyPool,
    kind: DbKind,
    url: String,
}

impl Database {
    /// Opens the pool, retrying transient failures with backoff for `connect_timeout_secs` and
    /// logging each attempt. Relative SQLite paths resolve against `base_dir`.
    ///
    /// # Errors
    /// [`ConnectError`] naming the database (never its password).
    pub async fn connect(config: &DatabaseConfig, base_dir: &Path) -> Result<Self, ConnectError> {
        install_default_drivers();
        let kind = DbKind::from_url(&config.url)?;
        let url = match kind {
            DbKind::Sqlite => resolve_sqlite_url(&config.url, base_dir),
            DbKind::Postgres => config.url.clone(),
        };
        let shown = redact(&url);
        let deadline = Instant::now() + config.connect_timeout;
        let mut pause = RETRY_FIRST;
        let mut attempts = 0;
        loop {
            attempts += 1;
            // A single direct connection first: it fails fast with the real cause (the pool would
            // retry internally and report only a timeout).
            let result = match sqlx::AnyConnection::connect(&url).await {
                Ok(probe) => {
                    let _ = probe.close().await;
                    pool_options(kind, config.max_connections)
                        .connect(&url)
                        .await
                }
                Err(error) => Err(error),
            };
            match result {
                Ok(pool) => {
                    return Ok(Self {
                        pool,
                        kind,
                        url: shown,
                    });
                }
                Err(error) if is_transient(&error) && Instant::now() + pause < deadline => {
                    tracing::warn!(database = %shown, attempt = attempts, %error,
                        retry_in_ms = pause.as_millis() as u64, "database unreachable, retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(RETRY_MAX);
                }
                Err(source) => {
                    return Err(ConnectError::Unreachable {
                        url: shown,
                        attempts,
                        source,
                    });
                }
            }
        }
    }

    /// Connects (see [`Database::connect`]) and, unless `run_migrations` is off, applies the
    /// migrations of the URL's dialect.
    ///
    /// # Errors
    /// [`ConnectError`] naming the database.
    pub async fn open(
        config: &DatabaseConfig,
        base_dir: &Path,
        migrations: &Migrations,
    ) -> Result<Self, ConnectError> {
        let db = Self::connect(config, base_dir).await?;
        if config.run_migrations {
            let migrator = match db.kind {
                DbKind::Sqlite => migrations.sqlite,
                DbKind::Postgres => migrations.postgres,
            };
            db.migrate(migrator).await?;
        }
        Ok(db)
    }

    /// Applies `migrator` (the caller picks the one for [`Database::kind`]).
    ///
    /// # Errors
    /// [`ConnectError::Migrate`].
    pub async fn migrate(&self, migrator: &Migrator) -> Result<(), ConnectError> {
        migrator
            .run(&self.pool)
            .await
            .map_err(|source| ConnectError::Migrate {
                url: self.url.clone(),
                source,
            })
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock up front
    /// (`begin immediate`): a deferred transaction that upgrades to a writer later can fail with
    /// `SQLITE_BUSY` regardless of `busy_timeout`.
    ///
    /// # Errors
    /// The database error; cancel-safe (a dropped transaction rolls back).
    pub async fn begin_write(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.kind {
            DbKind::Sqlite => self.pool.begin_with("begin immediate").await,
            DbKind::Postgres => self.pool.begin().await,
        }
    }

    /// `select 1` under a one-second deadline, for `/readyz`.
    ///
    /// # Errors
    /// The database error, or [`sqlx::Error::PoolTimedOut`] when it took too long.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        let probe = async {
            let mut conn = self.pool.acquire().await?;
            conn.ping().await
        };
        tokio::time::timeout(PING_TIMEOUT, probe)
            .await
            .unwrap_or(Err(sqlx::Error::PoolTimedOut))
    }

    /// The pool, for queries.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The dialect.
    pub fn kind(&self) -> DbKind {
        self.kind
    }

    /// The URL without its password, for logs.
    pub fn display_url(&self) -> &str {
        &self.url
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn pool_options(kind: DbKind, max_connections: u32) -> AnyPoolOptions {
    let options = AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT);
    match kind {
        DbKind::Postgres => options,
        DbKind::Sqlite => options.after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute("pragma journal_mode = wal").await?;
                conn.execute("pragma synchronous = normal").await?;
                conn.execute("pragma foreign_keys = on").await?;
                let busy = format!("pragma busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}");
                conn.execute(sqlx::AssertSqlSafe(busy)).await?;
                let mmap = format!("pragma mmap_size = {SQLITE_MMAP_BYTES}");
                conn.execute(sqlx::AssertSqlSafe(mmap)).await?;
                Ok(())
            })
        }),
    }
}

/// Connection refused, timeouts and "the database is starting up" are worth retrying at start;
/// bad credentials or a missing database are not.
fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| code == "57P03"),
        _ => false,
    }
}

/// Makes the path of a `sqlite:` URL absolute against `base_dir`, keeping its query.
pub fn resolve_sqlite_url(url: &str, base_dir: &Path) -> String {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    if path.is_empty() || path.starts_with(':') || Path::new(path).is_absolute() {
        return url.to_owned();
    }
    let full = base_dir.join(path);
    match query {
        Some(query) => format!("sqlite://{}?{query}", full.display()),
        None => format!("sqlite://{}", full.display()),
    }
}

/// The URL with any password replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => match rest[..at].split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***{}", &rest[at..]),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Row as _;

    async fn sqlite() -> (tempfile::TempDir, Database) {
        let dir = tempfile::tempdir().unwrap();
        let config = DatabaseConfig::with_url("sqlite://t.db?mode=rwc");
        let db = Database::connect(&config, dir.path()).await.unwrap();
        (dir, db)
    }

    #[test]
    fn url_file_replaces_url_relative_to_data_dir_and_missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("db.url"), "postgres://u:pw@db/x\n").unwrap();
        let mut config = DatabaseConfig::with_url("sqlite://t.db?mode=rwc");
        config.url_file = PathBuf::from("db.url");
        let mut missing = config.clone();
        missing.url_file = PathBuf::from("nope.url");

        config.read_url_file(dir.path()).unwrap();
        let error = missing.read_url_file(dir.path()).unwrap_err();

        assert_eq!(config.url, "postgres://u:pw@db/x");
        assert!(error.to_string().contains("nope.url"), "{error}");
    }

    #[tokio::test]
    async fn sqlite_binds_placeholders_by_number_when_reused_out_of_order() {
        let (_dir, db) = sqlite().await;

        let row = sqlx::query("select $2 || $1 || $2 as s, $1 as first")
            .bind("a")
            .bind("b")
            .fetch_one(db.pool())
            .await
            .unwrap();

        assert_eq!(row.get::<String, _>("s"), "bab");
        assert_eq!(row.get::<String, _>("first"), "a");
    }

    #[tokio::test]
    async fn sqlite_pragmas_apply_when_connected() {
        let (_dir, db) = sqlite().await;

        let mode: String = sqlx::query_scalar("pragma journal_mode")
            .fetch_one(db.pool())
            .await
            .unwrap();
        let fk: i64 = sqlx::query_scalar("pragma foreign_keys")
            .fetch_one(db.pool())
            .await
            .unwrap();
        let busy: i64 = sqlx::query_scalar("pragma busy_timeout")
            .fetch_one(db.pool())
            .await
            .unwrap();
        let mmap: i64 = sqlx::query_scalar("pragma mmap_size")
            .fetch_one(db.pool())
            .await
            .unwrap();

        assert_eq!(mode, "wal");
        assert_eq!(mmap, SQLITE_MMAP_BYTES as i64);
        assert_eq!(fk, 1);
        assert_eq!(busy, i64::from(SQLITE_BUSY_TIMEOUT_MS));
    }

    #[tokio::test]
    async fn concurrent_write_transactions_all_commit_when_on_sqlite() {
        let (_dir, db) = sqlite().await;
        sqlx::query("create table n (v bigint not null)")
            .execute(db.pool())
            .await
            .unwrap();

        let writers = (0..16).map(|i| {
            let db = db.clone();
            tokio::spawn(async move {
                let mut tx = db.begin_write().await?;
                let count: i64 = sqlx::query_scalar("select count(*) from n")
                    .fetch_one(&mut *tx)
                    .await?;
                sqlx::query("insert into n (v) values ($1)")
                    .bind(i + count)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await
            })
        });
        for writer in writers {
            writer.await.unwrap().unwrap();
        }

        let total: i64 = sqlx::query_scalar("select count(*) from n")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(total, 16);
    }

    #[tokio::test]
    async fn connect_gives_up_naming_database_when_postgres_is_down() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut config = DatabaseConfig::with_url(&format!("postgres://u:pw@127.0.0.1:{port}/x"));
        config.connect_timeout = Duration::from_secs(1);

        let err = Database::connect(&config, Path::new("."))
            .await
            .unwrap_err();

        let text = err.to_string();
        assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
        assert!(!text.contains("pw"), "password leaked: {text}");
        assert!(matches!(err, ConnectError::Unreachable { attempts, .. } if attempts > 1));
    }

    #[test]
    fn unsupported_url_is_refused_when_scheme_unknown() {
        assert!(matches!(
            DbKind::from_url("mysql://x"),
            Err(ConnectError::UnsupportedUrl { .. })
        ));
        assert!(DbKind::from_url("hub.db").is_err());
    }

    #[test]
    fn sqlite_url_resolves_against_base_when_relative() {
        let base = Path::new("/data/hub");

        assert_eq!(
            resolve_sqlite_url("sqlite://hub.db?mode=rwc", base),
            "sqlite:///data/hub/hub.db?mode=rwc"
        );
        assert_eq!(
            resolve_sqlite_url("sqlite:///abs/x.db", base),
            "sqlite:///abs/x.db"
        );
        assert_eq!(
            resolve_sqlite_url("sqlite::memory:", base),
            "sqlite::memory:"
        );
    }

    #[test]
    fn redact_hides_password_when_present() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }
}

//! Single-flight work across replicas (superhub.md §15): a [`Leases`] holds Postgres session
//! advisory locks on one dedicated connection, opened apart from the pool (a session lock on a
//! pooled connection would be lost or leaked when the pool recycles it). A lease lasts while that
//! connection lives; when it dies every lease taken on it is lost, so a holder checks
//! [`Lease::is_held`] before each unit of work and stops when it returns false. On SQLite every
//! lease is granted: one process does all the work.

use std::sync::Arc;
use std::time::Duration;

use shared::db::DbKind;
use sqlx::{AnyConnection, Connection as _};
use tokio::sync::Mutex;

/// How long a lock or liveness query may take before the connection counts as dead.
const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// The advisory locks of this process. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Leases {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// `None` on SQLite.
    url: Option<String>,
    conn: Mutex<Session>,
}

#[derive(Debug, Default)]
struct Session {
    conn: Option<AnyConnection>,
    /// Bumped whenever a connection is lost, so leases taken on it know they are gone.
    generation: u64,
}

/// A lease on one name, held while the dedicated connection it was taken on lives.
#[derive(Debug)]
pub struct Lease {
    leases: Leases,
    generation: u64,
    name: String,
}

impl Leases {
    /// Leases over the database at `url` of dialect `kind` (connections open lazily).
    pub fn new(kind: DbKind, url: &str) -> Self {
        Self {
            inner: Arc::new(Inner {
                url: (kind == DbKind::Postgres).then(|| url.to_owned()),
                conn: Mutex::new(Session::default()),
            }),
        }
    }

    /// Takes the lease on `name` unless another session holds it. On SQLite always granted.
    pub async fn try_acquire(&self, name: &str) -> Option<Lease> {
        let Some(url) = &self.inner.url else {
            return Some(self.lease(0, name));
        };
        let mut session = self.inner.conn.lock().await;
        if session.conn.is_none() {
            match tokio::time::timeout(QUERY_TIMEOUT, AnyConnection::connect(url)).await {
                Ok(Ok(conn)) => session.conn = Some(conn),
                Ok(Err(error)) => {
                    tracing::warn!(%error, "lease connection failed");
                    return None;
                }
                Err(_) => return None,
            }
        }
        let conn = session.conn.as_mut()?;
        let query = sqlx::query_scalar::<_, bool>("select pg_try_advisory_lock(hashtext($1))")
            .bind(lock_name(name))
            .fetch_one(conn);
        match tokio::time::timeout(QUERY_TIMEOUT, query).await {
            Ok(Ok(true)) => Some(self.lease(session.generation, name)),
            Ok(Ok(false)) => None,
            Ok(Err(_)) | Err(_) => {
                lose(&mut session);
                None
            }
        }
    }

    /// Keeps `lease` on `name` for a job that runs in rounds: true when this process holds it for
    /// the next round (re-taking it if it was lost or never taken), false when another replica
    /// does the work.
    pub async fn hold(&self, lease: &mut Option<Lease>, name: &str) -> bool {
        if let Some(held) = lease.as_ref()
            && held.is_held().await
        {
            return true;
        }
        *lease = self.try_acquire(name).await;
        lease.is_some()
    }

    /// Closes the dedicated connection, releasing every lease of this process.
    pub async fn close(&self) {
        let mut session = self.inner.conn.lock().await;
        if let Some(conn) = session.conn.take() {
            session.generation += 1;
            let _ = conn.close().await;
        }
    }

    fn lease(&self, generation: u64, name: &str) -> Lease {
        Lease {
            leases: self.clone(),
            generation,
            name: name.to_owned(),
        }
    }
}

impl Lease {
    /// The leased name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the lease still holds: the connection it was taken on answers. Call before each
    /// unit of work; once false it stays false (take a new lease).
    pub async fn is_held(&self) -> bool {
        if self.leases.inner.url.is_none() {
            return true;
        }
        let mut session = self.leases.inner.conn.lock().await;
        if session.generation != self.generation {
            return false;
        }
        let Some(conn) = session.conn.as_mut() else {
            return false;
        };
        let alive = matches!(
            tokio::time::timeout(QUERY_TIMEOUT, conn.ping()).await,
            Ok(Ok(()))
        );
        if !alive {
            lose(&mut session);
        }
        alive
    }

    /// Gives the lease back so another replica may take it at once.
    pub async fn release(self) {
        if self.leases.inner.url.is_none() {
            return;
        }
        let mut session = self.leases.inner.conn.lock().await;
        if session.generation != self.generation {
            return;
        }
        if let Some(conn) = session.conn.as_mut() {
            let unlock = sqlx::query("select pg_advisory_unlock(hashtext($1))")
                .bind(lock_name(&self.name))
                .execute(conn);
            if !matches!(tokio::time::timeout(QUERY_TIMEOUT, unlock).await, Ok(Ok(_))) {
                lose(&mut session);
            }
        }
    }
}

/// Drops a dead connection; leases taken on it are lost.
fn lose(session: &mut Session) {
    session.conn = None;
    session.generation += 1;
    tracing::warn!("lease connection lost; its leases are released");
}

fn lock_name(name: &str) -> String {
    format!("goop-superhub:{name}")
}

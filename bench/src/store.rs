//! `store`: insert and read throughput of the hub store on SQLite (temp file) and on Postgres
//! (a fresh database in the `TEST_DATABASE_URL` cluster), with the same SQL and concurrency.

use std::sync::Arc;
use std::time::Instant;

use hub::store::Store;
use shared::db::DatabaseConfig;
use testkit::TestDb;

/// Rows inserted per backend.
const INSERTS: usize = 4_000;
/// Point reads per backend.
const READS: usize = 20_000;
/// Concurrent tasks issuing queries (the pool's default size).
const CONCURRENCY: usize = 8;

pub(crate) async fn run() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (sqlite, postgres) = (TestDb::sqlite(), TestDb::postgres().await);
    println!("inserts {INSERTS} reads {READS} concurrency {CONCURRENCY}");
    for (label, db) in [("sqlite", sqlite), ("postgres", postgres)] {
        let store = Store::open(&DatabaseConfig::with_url(&db.url), dir.path())
            .await
            .map_err(|e| e.to_string())?;
        let store = Arc::new(store);
        let inserts = throughput(&store, INSERTS, |store, i| async move {
            store
                .upsert_state(&format!("key-{i}"), "value", i as i64)
                .await
                .is_ok()
        })
        .await?;
        let reads = throughput(&store, READS, |store, i| async move {
            let key = format!("key-{}", (i * 7919) % INSERTS);
            matches!(store.find_state(&key).await, Ok(Some(_)))
        })
        .await?;
        crate::result(&format!("store_{label}_inserts_per_s"), inserts);
        crate::result(&format!("store_{label}_reads_per_s"), reads);
        store.close().await;
    }
    Ok(())
}

/// Runs `op` for indices `0..count` on `CONCURRENCY` tasks; returns operations per second.
async fn throughput<F, Fut>(store: &Arc<Store>, count: usize, op: F) -> Result<f64, String>
where
    F: Fn(Arc<Store>, usize) -> Fut + Copy + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let started = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|worker| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut ok = true;
                for i in (worker..count).step_by(CONCURRENCY) {
                    ok &= op(store.clone(), i).await;
                }
                ok
            })
        })
        .collect();
    for task in tasks {
        if !task.await.map_err(|e| e.to_string())? {
            return Err("an operation failed".to_owned());
        }
    }
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

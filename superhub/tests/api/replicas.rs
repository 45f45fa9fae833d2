//! Several replicas over one Postgres (superhub.md §15): a peer is pulled once per interval, and a
//! due hub probed once, by whichever replica holds the lease; losing the holder hands the work to
//! another replica within one interval.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::routing::get;
use serde_json::json;
use sqlx::Connection as _;
use testkit::{TestDb, TestSuperhub, eventually};

use crate::federation::{loopback, peer, serve};
use crate::probe::{Harness, probing};

/// Kills the dedicated connection holding the lease `name`; how many sessions held it.
async fn kill_lease_holder(db: &TestDb, name: &str) -> i64 {
    sqlx::any::install_default_drivers();
    let mut admin = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let killed = sqlx::query_scalar(
        "select cast(count(pg_terminate_backend(pid)) as bigint) from pg_locks \
         where locktype = 'advisory' \
         and database = (select oid from pg_database where datname = current_database()) \
         and cast(objid as bigint) = (cast(hashtext($1) as bigint) & 4294967295)",
    )
    .bind(format!("goop-superhub:{name}"))
    .fetch_one(&mut admin)
    .await
    .unwrap();
    let _ = admin.close().await;
    killed
}

/// A peer serving an empty feed page, recording when it was asked.
async fn counting_peer() -> (String, Arc<std::sync::Mutex<Vec<Instant>>>) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let url = serve(axum::Router::new().route(
        "/api/v1/federation/changes",
        get(move || {
            log.lock().unwrap().push(Instant::now());
            async { Json(json!({"superhub": "peer", "items": [], "next": "c1.0", "more": false})) }
        }),
    ))
    .await;
    (url, seen)
}

async fn replica(db: &TestDb, url: &str) -> TestSuperhub {
    TestSuperhub::spawn_with(db, |config| loopback(config, vec![peer(url, "")])).await
}

/// Waits for `more` further pulls after the current count; returns the instants of all pulls.
async fn after_pulls(seen: &std::sync::Mutex<Vec<Instant>>, more: usize) -> Vec<Instant> {
    let target = seen.lock().unwrap().len() + more;
    eventually(Duration::from_secs(10), "further pulls", || async {
        let seen = seen.lock().unwrap().clone();
        (seen.len() >= target).then_some(seen)
    })
    .await
}

/// The smallest gap between consecutive pulls in `pulls[from..]`.
fn smallest_gap(pulls: &[Instant], from: usize) -> Duration {
    pulls[from..]
        .windows(2)
        .map(|w| w[1] - w[0])
        .min()
        .unwrap_or(Duration::MAX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_pull_each_peer_once_per_interval_and_hand_over_when_the_holder_dies() {
    testkit::init_tracing();
    let db = TestDb::postgres().await;
    let (url, seen) = counting_peer().await;
    let _first = replica(&db, &url).await;
    let _second = replica(&db, &url).await;

    let pulls = after_pulls(&seen, 4).await;
    // Two pullers would pull twice per interval; one pulls every 0.9–1.1 s.
    assert!(
        smallest_gap(&pulls, 1) >= Duration::from_millis(800),
        "{pulls:?}"
    );

    // Kill the dedicated lease connection of the replica holding this peer's lease (the probe
    // and sweep leases may sit on either replica).
    let killed = kill_lease_holder(&db, &format!("federation:{url}")).await;
    let killed_at = Instant::now();
    let before = seen.lock().unwrap().len();
    let after = after_pulls(&seen, 3).await;

    assert_eq!(killed, 1, "one session holds the lease");
    let first_after = after[before];
    assert!(
        first_after - killed_at < Duration::from_millis(1100 + 500),
        "the next pull came {:?} after the kill",
        first_after - killed_at
    );
    assert!(
        smallest_gap(&after, before) >= Duration::from_millis(800),
        "{after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_hand_over_pulls_when_the_holder_shuts_down() {
    testkit::init_tracing();
    let db = TestDb::postgres().await;
    let (url, seen) = counting_peer().await;
    let first = replica(&db, &url).await;
    after_pulls(&seen, 1).await;
    let second = replica(&db, &url).await;

    first.shutdown().await;
    let stopped_at = Instant::now();
    let before = seen.lock().unwrap().len();
    let after = after_pulls(&seen, 2).await;

    assert!(
        after[before] - stopped_at < Duration::from_millis(1100 + 500),
        "the next pull came {:?} after the shutdown",
        after[before] - stopped_at
    );
    drop(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_probe_a_due_hub_once_and_hand_over_when_the_holder_dies() {
    testkit::init_tracing();
    let db = TestDb::postgres().await;
    let first = Harness::start(&db, |_| {}).await;
    let clock = first.clock.clone();
    let _second = TestSuperhub::spawn_with(&db, |c| probing(c, &clock)).await;
    let key = libp2p::identity::ed25519::Keypair::generate();
    let (hub, record) = first.register_answering(&key).await;
    let period = Duration::from_secs(11 * 60);

    first.wait_for_probes(&record.id, "http", 1).await;
    clock.advance(period);
    first.wait_for_probes(&record.id, "http", 2).await;
    let killed = kill_lease_holder(&db, "probe").await;
    clock.advance(period);
    let probes = first.wait_for_probes(&record.id, "http", 3).await;

    assert_eq!(killed, 1, "one session holds the probe lease");
    assert_eq!(probes.len(), 3, "each due time probed once: {probes:?}");
    assert_eq!(hub.requests(), 3, "the hub saw one probe per due time");
}

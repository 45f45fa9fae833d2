//! §14 check 9 and the failures of §7.2 rule 5: a down peer backs off by clamp(1.25ⁿ s, min, cap)
//! and turns `dead`; garbage, endless and silent peers back off and store nothing; a peer serving
//! another id is `misconfigured`.

use std::time::Duration;

use axum::body::Body;
use axum::routing::get;
use shared::clock::Clock;
use superhub::store::PeerRow;
use testkit::{TestDb, TestSuperhub, each_backend, eventually};

use super::chain::another;
use super::{peer, register, serve, store_of, superhub};

each_backend!(federation_down_peer_backs_off_by_the_clamped_power_and_turns_dead);

/// The peer row once `check` holds for it.
async fn row_when(db: &TestDb, key: &str, what: &str, check: impl Fn(&PeerRow) -> bool) -> PeerRow {
    let (store, _dir) = store_of(db).await;
    eventually(Duration::from_secs(8), what, || async {
        store
            .federation_peer(key)
            .await
            .unwrap()
            .filter(|row| check(row))
    })
    .await
}

fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

async fn federation_down_peer_backs_off_by_the_clamped_power_and_turns_dead(db: TestDb) {
    let url = closed_port_url();
    let clock = Clock::system();
    let _server = TestSuperhub::spawn_with(&db, |config| {
        super::loopback(config, vec![peer(&url, "")]);
        config.federation.pull_interval = Duration::from_secs(3600);
        config.federation.backoff_min = Duration::from_secs(1);
        config.federation.backoff_cap = Duration::from_secs(100);
        config.federation.dead_after = Duration::from_secs(60);
        config.clock = clock.clone();
    })
    .await;

    let mut deltas = Vec::new();
    for n in 1..=3 {
        let row = row_when(&db, &url, "a failed pull", |r| r.consecutive_failures == n).await;
        assert_eq!(row.state, "backoff");
        assert!(row.last_error.is_some());
        deltas.push(row.next_attempt_at.unwrap() - row.last_attempt_at.unwrap());
        clock.advance(Duration::from_millis(
            u64::try_from(row.next_attempt_at.unwrap() - clock.now_ms()).unwrap_or(0),
        ));
    }
    clock.advance(Duration::from_secs(61));
    let dead = row_when(&db, &url, "a dead peer", |r| r.consecutive_failures >= 5).await;

    for (n, delta) in deltas.iter().enumerate() {
        let expected = (1.25f64.powi(i32::try_from(n).unwrap() + 1) * 1000.0) as i64;
        assert!(
            (expected..expected + 900).contains(delta),
            "failure {}: waited {delta} ms, expected {expected}",
            n + 1
        );
    }
    assert_eq!(dead.state, "dead");
    assert!(dead.last_success_at.is_none());
}

/// A super hub pulling `url` with a 1 s timeout and a 64 KiB page cap; returns the peer row
/// after its first failure and the change head (which must stay 0).
async fn first_failure(url: &str) -> (PeerRow, i64) {
    let db = TestDb::sqlite();
    let _server = TestSuperhub::spawn_with(&db, |config| {
        super::loopback(config, vec![peer(url, "")]);
        config.federation.request_timeout = Duration::from_secs(1);
        config.federation.max_response_bytes = 64 << 10;
    })
    .await;
    let row = row_when(&db, url, "a failed pull", |r| r.consecutive_failures >= 1).await;
    let (store, _dir) = store_of(&db).await;
    (row, store.changes_head().await.unwrap())
}

#[tokio::test]
async fn federation_garbage_body_backs_off_and_stores_nothing() {
    let url = serve(axum::Router::new().route(
        "/api/v1/federation/changes",
        get(|| async { "{\"superhub\": \"x\", \"items\": [" }),
    ))
    .await;

    let (row, head) = first_failure(&url).await;

    assert_eq!(row.state, "backoff");
    assert!(row.last_error.unwrap().contains("invalid JSON"));
    assert_eq!(head, 0);
}

#[tokio::test]
async fn federation_endless_body_backs_off_and_stores_nothing() {
    let url = serve(axum::Router::new().route(
        "/api/v1/federation/changes",
        get(|| async {
            let chunks = futures::stream::repeat_with(|| {
                Ok::<_, std::io::Error>(axum::body::Bytes::from_static(&[b' '; 4096]))
            });
            Body::from_stream(chunks)
        }),
    ))
    .await;

    let (row, head) = first_failure(&url).await;

    assert_eq!(row.state, "backoff");
    assert!(row.last_error.unwrap().contains("larger than"));
    assert_eq!(head, 0);
}

#[tokio::test]
async fn federation_silent_peer_times_out_and_stores_nothing() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });

    let (row, head) = first_failure(&url).await;

    assert_eq!(row.state, "backoff");
    assert_eq!(row.last_error.as_deref(), Some("timed out"));
    assert_eq!(head, 0);
}

#[tokio::test]
async fn federation_peer_with_another_id_is_misconfigured_and_nothing_is_stored() {
    let db_a = TestDb::sqlite();
    let a = superhub(&db_a, Vec::new()).await;
    register(&a).await;
    let other = libp2p::identity::Keypair::generate_ed25519()
        .public()
        .to_peer_id()
        .to_string();
    let db = another(&db_a).await;
    let _b = superhub(&db, vec![peer(&a.base_url, &other)]).await;

    let row = row_when(&db, &other, "a misconfigured peer", |r| {
        r.consecutive_failures >= 1
    })
    .await;
    let (store, _dir) = store_of(&db).await;

    assert_eq!(row.state, "misconfigured");
    assert!(row.last_error.unwrap().starts_with("id_mismatch"));
    assert_eq!(store.changes_head().await.unwrap(), 0);
}

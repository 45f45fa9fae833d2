//! §14 check 8: a chain A ← B ← C converges within two intervals per link, an altered envelope
//! is rejected, and mutual pulling stops after one round.

use std::time::Duration;

use axum::Json;
use axum::routing::get;
use libp2p::identity::ed25519::Keypair;
use serde_json::json;
use testkit::record::{hub_record, sign_record};
use testkit::{Backend, TestDb, TestSuperhub, each_backend, eventually};

use super::{holds_record, peer, register, serve, store_of, superhub, whole_feed};

each_backend!(
    federation_chain_stores_a_record_of_a_at_c_within_two_intervals_per_link,
    federation_pull_rejects_an_envelope_altered_in_the_feed,
    federation_mutual_pulling_creates_no_repeated_changes,
);

/// A fresh database on the backend of `db`.
pub(crate) async fn another(db: &TestDb) -> TestDb {
    match db.backend {
        Backend::Sqlite => TestDb::sqlite(),
        Backend::Postgres => TestDb::postgres().await,
    }
}

fn id_of(server: &TestSuperhub) -> String {
    server.server().peer_id().to_string()
}

async fn federation_chain_stores_a_record_of_a_at_c_within_two_intervals_per_link(db: TestDb) {
    let a = superhub(&db, Vec::new()).await;
    let db_b = another(&db).await;
    let b = superhub(&db_b, vec![peer(&a.base_url, &id_of(&a))]).await;
    let db_c = another(&db).await;
    let c = superhub(&db_c, vec![peer(&b.base_url, &id_of(&b))]).await;

    let (hub_id, envelope) = register(&a).await;
    // Two links of 2 × 1 s, plus processing.
    let items = eventually(Duration::from_secs(6), "C stores A's record", || async {
        let items = whole_feed(&c).await;
        holds_record(&items, &hub_id).then_some(items)
    })
    .await;

    let record = items.iter().find(|i| i["kind"] == "hub-record").unwrap();
    assert_eq!(record["envelope"], serde_json::to_value(&envelope).unwrap());
    assert_eq!(record["origin"], id_of(&a));
    assert_eq!(record["received_from"], id_of(&b));
    assert!(
        items
            .iter()
            .any(|i| i["kind"] == "slug-claim" && i["hub_id"] == hub_id.as_str())
    );
    let info: serde_json::Value = c.get("/api/v1/info").await.json().await.unwrap();
    assert_eq!(info["federation"]["pull_interval_secs"], 1);
    assert_eq!(info["federation"]["peers"][0]["id"], id_of(&b));
    assert_eq!(info["federation"]["peers"][0]["state"], "ok");
}

async fn federation_pull_rejects_an_envelope_altered_in_the_feed(db: TestDb) {
    let now = shared::clock::unix_ms();
    let (honest_key, forged_key) = (Keypair::generate(), Keypair::generate());
    let honest = sign_record(
        &honest_key,
        &hub_record(&honest_key, "http://127.0.0.1:9", now),
    );
    let mut forged = sign_record(
        &forged_key,
        &hub_record(&forged_key, "http://127.0.0.1:9", now),
    );
    forged.payload = forged.payload.replace("Test community", "Evil community");
    let item = |envelope: &shared::envelope::Envelope| {
        json!({"kind": "hub-record", "envelope": envelope, "origin": "x", "received_from": "direct",
               "received_at": now})
    };
    let page = json!({"superhub": "stand-in", "items": [item(&forged), item(&honest)],
                      "next": "c1.2", "more": false});
    let a = serve(axum::Router::new().route(
        "/api/v1/federation/changes",
        get(move || {
            let page = page.clone();
            async move { Json(page) }
        }),
    ))
    .await;
    let b = superhub(&db, vec![peer(&a, "")]).await;

    let items = eventually(
        Duration::from_secs(5),
        "B stores the honest record",
        || async {
            let items = whole_feed(&b).await;
            holds_record(&items, &testkit::record::hub_id(&honest_key)).then_some(items)
        },
    )
    .await;

    assert!(!holds_record(&items, &testkit::record::hub_id(&forged_key)));
    let (store, _dir) = store_of(&db).await;
    let row = store.federation_peer(&a).await.unwrap().unwrap();
    assert_eq!(row.state, "ok");
    assert_eq!(row.cursor.as_deref(), Some("c1.2"));
    let metrics = metrics_of(&b).await;
    assert!(
        metrics.contains("kind=\"hub-record\",outcome=\"invalid\"} 1"),
        "{metrics}"
    );
}

async fn federation_mutual_pulling_creates_no_repeated_changes(db: TestDb) {
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let a_addr = reserved.local_addr().unwrap();
    drop(reserved);
    let db_b = another(&db).await;
    let b = TestSuperhub::spawn_with(&db_b, |config| {
        super::loopback(config, vec![peer(&format!("http://{a_addr}"), "")]);
        config.federation.backoff_min = Duration::from_secs(1);
        config.federation.backoff_cap = Duration::from_secs(1);
    })
    .await;
    let a = TestSuperhub::spawn_with(&db, |config| {
        super::loopback(config, vec![peer(&b.base_url, &id_of(&b))]);
        config.http.bind = a_addr;
    })
    .await;
    let (store_a, _dir_a) = store_of(&db).await;
    let (store_b, _dir_b) = store_of(&db_b).await;

    let (hub_id, _) = register(&a).await;
    eventually(Duration::from_secs(5), "B stores A's record", || async {
        holds_record(&whole_feed(&b).await, &hub_id).then_some(())
    })
    .await;
    let rounds = |after: i64| {
        let (store_a, store_b) = (store_a.clone(), store_b.clone());
        let (key_a, key_b) = (format!("http://{a_addr}"), id_of(&b));
        async move {
            let a_pulled = store_a.federation_peer(&key_b).await.unwrap().unwrap();
            let b_pulled = store_b.federation_peer(&key_a).await.unwrap().unwrap();
            (a_pulled.last_success_at.unwrap_or(0) > after
                && b_pulled.last_success_at.unwrap_or(0) > after)
                .then_some(())
        }
    };
    let t1 = shared::clock::unix_ms();
    eventually(Duration::from_secs(5), "a round on both sides", || {
        rounds(t1)
    })
    .await;
    let heads = (
        store_a.changes_head().await.unwrap(),
        store_b.changes_head().await.unwrap(),
    );
    let t2 = shared::clock::unix_ms();
    eventually(
        Duration::from_secs(5),
        "another round on both sides",
        || rounds(t2),
    )
    .await;

    assert_eq!(heads, (2, 2), "one record and one slug claim each");
    assert_eq!(
        (
            store_a.changes_head().await.unwrap(),
            store_b.changes_head().await.unwrap()
        ),
        heads
    );
}

/// The Prometheus text of a super hub.
pub(crate) async fn metrics_of(server: &TestSuperhub) -> String {
    let addr = server.server().metrics_addr().unwrap();
    reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

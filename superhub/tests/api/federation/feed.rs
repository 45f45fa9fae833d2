//! `GET /api/v1/federation/changes` (§7.1): paging, compaction, cursors, exact envelopes.

use std::time::Duration;

use serde_json::{Value, json};
use testkit::{TestDb, TestSuperhub, code_of, each_backend, json_of};

use shared::record::HubRecord;
use superhub::store::Provenance;
use testkit::record::sign_record;

use super::{register, register_keyed, store_of, superhub, whole_feed};

each_backend!(
    federation_feed_pages_in_change_order_and_keeps_the_newest_change_per_key,
    federation_feed_exports_envelopes_byte_for_byte,
    federation_feed_skips_expired_records,
);

async fn federation_feed_pages_in_change_order_and_keeps_the_newest_change_per_key(db: TestDb) {
    let server = superhub(&db, Vec::new()).await;
    let (first, key, envelope) = register_keyed(&server).await;
    let (second, _) = register(&server).await;
    let (third, _) = register(&server).await;
    let (store, _dir) = store_of(&db).await;
    let mut newer: HubRecord = serde_json::from_str(&envelope.payload).unwrap();
    newer.seq += 1;
    newer.name = "Renamed".to_owned();
    let now = server.server().directory().now_ms();
    store
        .put_record(
            &sign_record(&key, &newer),
            &newer,
            &Provenance::direct("x"),
            now,
        )
        .await
        .unwrap();

    let mut pages = Vec::new();
    let mut since = "c1.0".to_owned();
    loop {
        let (status, page) = json_of(
            server
                .get(&format!("/api/v1/federation/changes?since={since}&limit=3"))
                .await,
        )
        .await;
        assert_eq!(status, 200);
        since = page["next"].as_str().unwrap().to_owned();
        let more = page["more"] == true;
        pages.push(page);
        if !more {
            break;
        }
    }

    let items: Vec<&Value> = pages
        .iter()
        .flat_map(|p| p["items"].as_array().unwrap())
        .collect();
    let records: Vec<&str> = items
        .iter()
        .filter(|i| i["kind"] == "hub-record")
        .map(|i| i["envelope"]["signer"].as_str().unwrap())
        .collect();
    assert_eq!(records, [second.as_str(), &third, &first]);
    assert_eq!(
        items.iter().filter(|i| i["kind"] == "slug-claim").count(),
        3
    );
    assert_eq!(
        items.len(),
        6,
        "7 changes, the first record's replaced by its newer one"
    );
    assert_eq!(pages.len(), 2);
    assert!(
        pages
            .iter()
            .all(|p| p["superhub"] == server.server().peer_id().to_string())
    );
    let last = items.last().unwrap();
    assert_eq!(last["kind"], "hub-record");
    assert_eq!(last["received_from"], "direct");
    assert_eq!(last["origin"], "x");
    assert_eq!(store.changes_head().await.unwrap(), 7);
    assert_eq!(since, "c1.7");
}

async fn federation_feed_exports_envelopes_byte_for_byte(db: TestDb) {
    let server = superhub(&db, Vec::new()).await;
    let (hub_id, envelope) = register(&server).await;

    let items = whole_feed(&server).await;

    let record = items.iter().find(|i| i["kind"] == "hub-record").unwrap();
    assert_eq!(record["envelope"], serde_json::to_value(&envelope).unwrap());
    assert_eq!(
        record["envelope"]["payload"].as_str().unwrap(),
        envelope.payload
    );
    assert_eq!(record["envelope"]["sig"].as_str().unwrap(), envelope.sig);
    assert_eq!(record["origin"], server.server().peer_id().to_string());
    let claim = items.iter().find(|i| i["kind"] == "slug-claim").unwrap();
    assert_eq!(claim["hub_id"], hub_id.as_str());
    assert_eq!(claim["slug"], "community");
    assert_eq!(claim["envelope"], serde_json::to_value(&envelope).unwrap());
    let parsed =
        shared::envelope::Envelope::parse(&serde_json::to_vec(&record["envelope"]).unwrap())
            .unwrap();
    assert!(parsed.verify().is_ok());
}

async fn federation_feed_skips_expired_records(db: TestDb) {
    let clock = shared::clock::Clock::system();
    let server = TestSuperhub::spawn_with(&db, |config| {
        super::loopback(config, Vec::new());
        config.clock = clock.clone();
    })
    .await;
    let (hub_id, _) = register(&server).await;

    clock.advance(Duration::from_secs(2 * 3600));
    let items = whole_feed(&server).await;

    assert!(!super::holds_record(&items, &hub_id));
    assert!(
        items.iter().any(|i| i["kind"] == "slug-claim"),
        "claims outlive records"
    );
}

#[tokio::test]
async fn federation_feed_refuses_malformed_cursors_and_limits() {
    let db = TestDb::sqlite();
    let server = superhub(&db, Vec::new()).await;
    register(&server).await;

    for since in [
        "x",
        "c1.-1",
        "c1.1x",
        "c2.1",
        "c1.",
        "%20c1.1",
        &"9".repeat(600),
    ] {
        let response = server
            .get(&format!("/api/v1/federation/changes?since={since}"))
            .await;
        let (status, code) = code_of(response).await;
        assert_eq!(
            (status.as_u16(), code.as_str()),
            (400, "bad_cursor"),
            "{since}"
        );
    }
    for limit in ["0", "501", "abc", "-1", "1e2"] {
        let (status, body) = json_of(
            server
                .get(&format!("/api/v1/federation/changes?limit={limit}"))
                .await,
        )
        .await;
        assert_eq!(status, 400, "{limit}");
        assert_eq!(body["error"]["code"], "invalid_field");
        assert_eq!(body["error"]["field"], "limit");
    }
}

#[tokio::test]
async fn federation_feed_past_the_head_is_empty_with_the_same_cursor() {
    let db = TestDb::sqlite();
    let server = superhub(&db, Vec::new()).await;
    register(&server).await;

    let (status, page) =
        json_of(server.get("/api/v1/federation/changes?since=c1.1000").await).await;

    assert_eq!(status, 200);
    assert_eq!(page["items"], json!([]));
    assert_eq!(page["next"], "c1.1000");
    assert_eq!(page["more"], false);
}

#[tokio::test]
async fn federation_feed_answers_404_when_federation_is_disabled() {
    let db = TestDb::sqlite();
    let server = TestSuperhub::spawn_with(&db, |config| config.federation.enabled = false).await;

    let (status, _) = code_of(server.get("/api/v1/federation/changes").await).await;
    let info: Value = server.get("/api/v1/info").await.json().await.unwrap();

    assert_eq!(status, 404);
    assert_eq!(info["federation"]["enabled"], false);
}

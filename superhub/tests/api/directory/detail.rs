//! The public detail and record of a hub (superhub.md §5.2, §3.4) and the info counts (§2).

use libp2p::identity::ed25519::Keypair;
use serde_json::json;
use superhub::store::ProbeRow;
use testkit::record::{hub_id, sign_record, sign_tombstone};
use testkit::{TestDb, each_backend};

use super::Fixture;

each_backend!(
    detail_shows_the_record_provenance_and_last_ten_probes,
    detail_and_record_refuse_malformed_unknown_and_hidden_ids,
    info_counts_listed_and_known_hubs_live,
);

async fn detail_shows_the_record_provenance_and_last_ten_probes(db: TestDb) {
    let fixture = Fixture::spawn(&db).await;
    let key = Keypair::generate();
    let id = hub_id(&key);
    let mut record = fixture.record(&key);
    record.description = "d".repeat(400);
    record.tags = vec!["go".into()];
    let envelope = sign_record(&key, &record);
    fixture.register(&envelope).await;
    let (_, pending) = fixture.get_json(&format!("/api/v1/hubs/{id}")).await;
    fixture.list(&id).await;
    let at = fixture.now() - 60_000;
    for n in 0..12_i64 {
        let probe = ProbeRow {
            at: at + n * 1_000,
            kind: if n % 2 == 0 { "http" } else { "p2p" }.into(),
            outcome: "ok".into(),
            rtt_ms: Some(n),
        };
        fixture
            .store
            .insert_probe_row(&format!("p{n:02}"), &id, &probe)
            .await
            .unwrap();
    }

    let (status, detail) = fixture.get_json(&format!("/api/v1/hubs/{id}")).await;
    let (record_status, stored) = fixture.get_json(&format!("/api/v1/hubs/{id}/record")).await;

    assert_eq!(pending["listed"], false);
    assert_eq!(status, 200);
    assert_eq!(detail["id"], id.as_str());
    assert_eq!(detail["slug_status"], "owner");
    assert_eq!(detail["state"], "listed");
    assert_eq!(detail["listed"], true);
    assert_eq!(
        detail["description"],
        record.description.as_str(),
        "the full description"
    );
    assert_eq!(detail["tags"], json!(["go"]));
    assert_eq!(
        detail["plans"],
        serde_json::to_value(&record.plans).unwrap()
    );
    assert_eq!(
        detail["relay"],
        serde_json::to_value(&record.relay).unwrap()
    );
    assert_eq!(
        detail["software"],
        serde_json::to_value(&record.software).unwrap()
    );
    assert_eq!(
        detail["multiaddrs"],
        serde_json::to_value(&record.multiaddrs).unwrap()
    );
    assert_eq!(
        detail["record"],
        json!({"seq": record.seq, "issued_at": record.issued_at, "expires_at": record.expires_at})
    );
    let superhub_id = fixture.superhub.server().peer_id().to_string();
    assert_eq!(detail["provenance"]["origin"], superhub_id.as_str());
    assert_eq!(detail["provenance"]["received_from"], "direct");
    assert_eq!(detail["source"], "direct");
    let probes = detail["probes"].as_array().unwrap();
    assert_eq!(probes.len(), 10);
    assert_eq!(
        probes[0],
        json!({"at": at + 11_000, "kind": "p2p", "outcome": "ok", "rtt_ms": 11})
    );
    assert_eq!(probes[9]["at"], at + 2_000);
    assert_eq!(record_status, 200);
    assert_eq!(
        stored,
        serde_json::to_value(&envelope).unwrap(),
        "the envelope as received"
    );
}

async fn detail_and_record_refuse_malformed_unknown_and_hidden_ids(db: TestDb) {
    let fixture = Fixture::spawn(&db).await;
    let key = Keypair::generate();
    let id = hub_id(&key);
    fixture.register_record(&key, &fixture.record(&key)).await;
    fixture.list(&id).await;
    let long = "1".repeat(5000);
    let malformed = [
        "nope",
        "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N",
        "%FF%FE",
        "%00",
        "12D3KooW%20",
        "%E2%80%AE",
        long.as_str(),
    ];

    for bad in malformed {
        for path in [
            format!("/api/v1/hubs/{bad}"),
            format!("/api/v1/hubs/{bad}/record"),
        ] {
            let (status, body) = fixture.get_json(&path).await;
            assert_eq!(status, 400, "{path}");
            assert_eq!(body["error"]["code"], "invalid_field", "{path}");
            assert_eq!(body["error"]["field"], "id", "{path}");
        }
    }
    let unknown = hub_id(&Keypair::generate());
    for path in [
        format!("/api/v1/hubs/{unknown}"),
        format!("/api/v1/hubs/{unknown}/record"),
    ] {
        let (status, body) = fixture.get_json(&path).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("not_found")),
            "{path}"
        );
    }
    fixture
        .store
        .set_hub_hidden(&id, Some(fixture.now()))
        .await
        .unwrap();
    for path in [
        format!("/api/v1/hubs/{id}"),
        format!("/api/v1/hubs/{id}/record"),
    ] {
        let (status, _) = fixture.get_json(&path).await;
        assert_eq!(status, 404, "hidden: {path}");
    }
}

async fn info_counts_listed_and_known_hubs_live(db: TestDb) {
    let fixture = Fixture::spawn(&db).await;
    let (listed_key, pending_key, hidden_key, gone_key) = (
        Keypair::generate(),
        Keypair::generate(),
        Keypair::generate(),
        Keypair::generate(),
    );
    for key in [&listed_key, &pending_key, &hidden_key, &gone_key] {
        fixture.register_record(key, &fixture.record(key)).await;
    }
    fixture.list(&hub_id(&listed_key)).await;
    fixture.list(&hub_id(&hidden_key)).await;
    fixture
        .store
        .set_hub_hidden(&hub_id(&hidden_key), Some(fixture.now()))
        .await
        .unwrap();
    let seq = fixture.record(&gone_key).seq + 1;
    fixture
        .register(&sign_tombstone(&gone_key, seq, fixture.now(), ""))
        .await;

    let (status, info) = fixture.get_json("/api/v1/info").await;

    assert_eq!(status, 200);
    assert_eq!(info["counts"], json!({"listed": 1, "known": 2}));
    assert_eq!(
        info["policy"],
        json!({"require_https": true, "record_max_lifetime_secs": 7200, "probe_interval_secs": 600,
               "listing": "probe_required"})
    );
}

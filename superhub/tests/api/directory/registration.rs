//! `POST /api/v1/hubs` (superhub.md §3, §14 checks 2 and 3), the detail and record of a hub
//! (§5.2) and the info counts (§2).

use libp2p::identity::ed25519::Keypair;
use serde_json::{Value, json};
use shared::envelope::{Envelope, EnvelopeType};
use superhub::store::ProbeRow;
use testkit::record::{envelope_bytes, hub_id, sign_record, sign_tombstone};
use testkit::{TestDb, code_of, each_backend};

use super::Fixture;

/// An envelope over the record of `key` with its payload object edited, signed as `kind`.
fn edited(
    fixture: &Fixture,
    key: &Keypair,
    kind: EnvelopeType,
    edit: impl FnOnce(&mut Value),
) -> Vec<u8> {
    let mut payload = serde_json::to_value(fixture.record(key)).unwrap();
    edit(&mut payload);
    envelope_bytes(&Envelope::sign(key, kind, payload.to_string()))
}

async fn refusal(fixture: &Fixture, body: Vec<u8>) -> (u16, Value) {
    let response = fixture.post_raw(body, "application/json").await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (status, body["error"].clone())
}

#[tokio::test]
async fn registration_refuses_rows_1_to_10_each_with_its_code() {
    let db = TestDb::sqlite();
    let fixture = Fixture::spawn_with(&db, |c| c.rate_limits.register_ip.burst = 100).await;
    let key = Keypair::generate();
    let now = fixture.now();
    let good: Value =
        serde_json::from_slice(&envelope_bytes(&sign_record(&key, &fixture.record(&key)))).unwrap();
    let mut extra = good.clone();
    extra["extra"] = json!("x");
    let mut rsa = good.clone();
    rsa["signer"] = json!("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N");
    let mut tampered = good.clone();
    let payload = good["payload"]
        .as_str()
        .unwrap()
        .replacen("Test", "Tost", 1);
    tampered["payload"] = json!(payload);
    let not_object = envelope_bytes(&Envelope::sign(
        &key,
        EnvelopeType::HubRecord,
        "\"x\"".into(),
    ));
    let cases: Vec<(&str, Vec<u8>, &str, Option<&str>)> = vec![
        ("not JSON", b"{nope".to_vec(), "invalid_envelope", None),
        (
            "deeply nested",
            "[".repeat(10_000).into_bytes(),
            "invalid_envelope",
            None,
        ),
        (
            "extra field",
            extra.to_string().into_bytes(),
            "invalid_envelope",
            None,
        ),
        (
            "moderation note",
            edited(&fixture, &key, EnvelopeType::ModerationNote, |_| {}),
            "unsupported_type",
            None,
        ),
        (
            "RSA signer",
            rsa.to_string().into_bytes(),
            "unsupported_peer_id",
            None,
        ),
        (
            "tampered payload",
            tampered.to_string().into_bytes(),
            "bad_signature",
            None,
        ),
        ("payload not an object", not_object, "invalid_payload", None),
        (
            "v:2",
            edited(&fixture, &key, EnvelopeType::HubRecord, |p| {
                p["v"] = json!(2)
            }),
            "invalid_payload",
            None,
        ),
        (
            "id of another hub",
            edited(&fixture, &key, EnvelopeType::HubRecord, |p| {
                p["id"] = json!(hub_id(&Keypair::generate()));
            }),
            "id_mismatch",
            None,
        ),
        (
            "bad slug",
            edited(&fixture, &key, EnvelopeType::HubRecord, |p| {
                p["slug"] = json!("No Slug")
            }),
            "invalid_field",
            Some("slug"),
        ),
        (
            "bad tags",
            edited(&fixture, &key, EnvelopeType::HubRecord, |p| {
                p["tags"] = json!(["-x-"])
            }),
            "invalid_field",
            Some("tags"),
        ),
        (
            "issued 10 min ahead",
            edited(&fixture, &key, EnvelopeType::HubRecord, |p| {
                p["issued_at"] = json!(now + 600_000);
                p["expires_at"] = json!(now + 1_200_000);
            }),
            "future_issued_at",
            None,
        ),
        (
            "expired",
            edited(&fixture, &key, EnvelopeType::HubRecord, |p| {
                p["issued_at"] = json!(now - 3_600_000);
                p["expires_at"] = json!(now - 1_000);
            }),
            "expired",
            None,
        ),
        (
            "3 h lifetime",
            edited(&fixture, &key, EnvelopeType::HubRecord, |p| {
                p["expires_at"] = json!(now + 3 * 3_600_000);
            }),
            "invalid_field",
            Some("expires_at"),
        ),
        (
            "http:// with require_https",
            edited(&fixture, &key, EnvelopeType::HubRecord, |p| {
                p["http_url"] = json!("http://hub.example.org");
            }),
            "https_required",
            None,
        ),
    ];

    for (what, body, code, field) in cases {
        let (status, error) = refusal(&fixture, body).await;

        assert_eq!(status, 400, "{what}: {error}");
        assert_eq!(error["code"], code, "{what}: {error}");
        if let Some(field) = field {
            assert_eq!(error["field"], field, "{what}");
        }
    }
    let (status, _) = fixture
        .get_json(&format!("/api/v1/hubs/{}", hub_id(&key)))
        .await;
    assert_eq!(status, 404, "nothing refused was stored");
}

#[tokio::test]
async fn registration_refuses_oversized_bodies_wrong_types_and_floods() {
    let db = TestDb::sqlite();
    let fixture = Fixture::spawn(&db).await;
    let key = Keypair::generate();
    let envelope = sign_record(&key, &fixture.record(&key));

    let first = fixture.register(&envelope).await;
    let (large, _) = code_of(
        fixture
            .post_raw(vec![b' '; 17 * 1024], "application/json")
            .await,
    )
    .await;
    let (plain, plain_code) = code_of(
        fixture
            .post_raw(envelope_bytes(&envelope), "text/plain")
            .await,
    )
    .await;
    for _ in 0..7 {
        let (status, _) = code_of(
            fixture
                .post_raw(b"{nope".to_vec(), "application/json")
                .await,
        )
        .await;
        assert_eq!(status, 400);
    }
    let flooded = fixture.register(&envelope).await;

    assert_eq!(first.status(), 202);
    assert_eq!(large.as_u16(), 413);
    assert_eq!(plain.as_u16(), 415);
    assert_eq!(plain_code, "unsupported_media_type");
    assert_eq!(flooded.status(), 429, "the 11th POST from one IP");
    assert!(flooded.headers().contains_key("retry-after"));
    let metrics = fixture.metrics().await;
    for line in [
        r#"superhub_registrations_total{type="hub-record",outcome="accepted"} 1"#,
        r#"superhub_registrations_total{type="hub-record",outcome="invalid"} 1"#,
        r#"superhub_registrations_total{type="hub-record",outcome="rate_limited"} 1"#,
        r#"superhub_registrations_total{type="other",outcome="invalid"} 8"#,
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}

#[tokio::test]
async fn registration_limits_accepted_records_per_hub() {
    let db = TestDb::sqlite();
    let fixture = Fixture::spawn(&db).await;
    let key = Keypair::generate();
    let mut record = fixture.record(&key);
    let mut statuses = Vec::new();

    for _ in 0..4 {
        record.seq += 1;
        statuses.push(fixture.register(&sign_record(&key, &record)).await);
    }

    let last = statuses.pop().unwrap();
    assert!(statuses.iter().all(|r| r.status().is_success()));
    assert_eq!(
        last.status(),
        429,
        "the 4th record of one hub within a minute"
    );
    assert!(last.headers().contains_key("retry-after"));
}

each_backend!(
    registration_orders_by_seq_and_tombstones_end_and_revive_a_hub,
    detail_shows_the_record_provenance_and_last_ten_probes,
    detail_and_record_refuse_malformed_unknown_and_hidden_ids,
    info_counts_listed_and_known_hubs_live,
);

async fn registration_orders_by_seq_and_tombstones_end_and_revive_a_hub(db: TestDb) {
    // Seven envelopes of one hub: more than `register_hub` lets through in a minute.
    let fixture = Fixture::spawn_with(&db, |c| c.rate_limits.register_hub.burst = 10).await;
    let key = Keypair::generate();
    let id = hub_id(&key);
    let record = fixture.record(&key);
    let envelope = sign_record(&key, &record);
    let mut older = record.clone();
    older.seq -= 1;

    let first = fixture.register(&envelope).await;
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["state"], "pending_probe");
    assert_eq!(first["seq"], record.seq);
    assert_eq!(first["expires_at"], record.expires_at);
    let refresh = first["refresh_after_secs"].as_i64().unwrap();
    assert!(
        (2870..=2880).contains(&refresh),
        "80 % of an hour: {refresh}"
    );
    fixture.list(&id).await;
    let again = fixture.register(&envelope).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap()["state"], "listed");
    let (stale, stale_code) = code_of(fixture.register(&sign_record(&key, &older)).await).await;
    assert_eq!((stale.as_u16(), stale_code.as_str()), (409, "stale_seq"));
    let (status, resolved) = fixture.get_json("/api/v1/resolve/community").await;
    assert_eq!((status, resolved["id"].as_str()), (200, Some(id.as_str())));

    let tombstone = sign_tombstone(&key, record.seq + 1, fixture.now(), "closing down");
    let buried = fixture.register(&tombstone).await;
    assert_eq!(buried.status(), 200);
    assert_eq!(
        buried.json::<Value>().await.unwrap(),
        json!({"id": id, "seq": record.seq + 1, "state": "tombstoned"})
    );
    let (status, gone) = fixture.get_json(&format!("/api/v1/hubs/{id}")).await;
    assert_eq!(status, 410);
    assert_eq!(gone["error"]["code"], "gone");
    assert_eq!(gone["id"], id.as_str());
    assert_eq!(gone["seq"], record.seq + 1);
    assert_eq!(gone["reason"], "closing down");
    let (status, stored) = fixture.get_json(&format!("/api/v1/hubs/{id}/record")).await;
    assert_eq!(status, 200);
    assert_eq!(stored, serde_json::to_value(&tombstone).unwrap());
    let (status, _) = fixture.get_json("/api/v1/resolve/community").await;
    assert_eq!(status, 404);
    let mut buried_record = record.clone();
    buried_record.seq += 1;
    let (late, late_code) =
        code_of(fixture.register(&sign_record(&key, &buried_record)).await).await;
    assert_eq!((late.as_u16(), late_code.as_str()), (409, "tombstoned"));

    let mut revival = record.clone();
    revival.seq += 2;
    let revived = fixture.register(&sign_record(&key, &revival)).await;
    assert_eq!(revived.status(), 202);
    assert_eq!(
        revived.json::<Value>().await.unwrap()["state"],
        "pending_probe"
    );
    let (status, detail) = fixture.get_json(&format!("/api/v1/hubs/{id}")).await;
    assert_eq!(
        (status, detail["state"].as_str()),
        (200, Some("pending_probe"))
    );
}

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

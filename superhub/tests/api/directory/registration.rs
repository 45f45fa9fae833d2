//! `POST /api/v1/hubs` (superhub.md §3, §14 checks 2 and 3): each refusal with its code, the
//! buckets, ordering by `seq`, tombstones and revival.

use libp2p::identity::ed25519::Keypair;
use serde_json::{Value, json};
use shared::envelope::{Envelope, EnvelopeType};
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

each_backend!(registration_orders_by_seq_and_tombstones_end_and_revive_a_hub);

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
    let repeated = fixture.register(&envelope).await;
    assert_eq!(repeated.status(), 200, "a repeat starts nothing");
    assert_eq!(
        repeated.json::<Value>().await.unwrap()["state"],
        "pending_probe"
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

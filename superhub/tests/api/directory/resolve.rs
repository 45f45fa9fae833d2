//! `GET /api/v1/resolve/{slug}` (superhub.md §5.3, §5.4, §14 check 7).

use libp2p::identity::ed25519::Keypair;
use serde_json::json;
use testkit::record::{hub_id, sign_record, sign_tombstone};
use testkit::{TestDb, each_backend};

use super::Fixture;

each_backend!(
    resolve_answers_the_earliest_claim_and_hands_the_slug_on_only_at_a_tombstone,
    resolve_breaks_equal_claims_by_the_bytewise_smaller_id,
    resolve_releases_an_old_slug_when_the_hub_changes_it,
);

async fn resolve_answers_the_earliest_claim_and_hands_the_slug_on_only_at_a_tombstone(db: TestDb) {
    let fixture = Fixture::spawn(&db).await;
    let (first, second) = (Keypair::generate(), Keypair::generate());
    let early = fixture.record(&first);
    let mut late = fixture.record(&second);
    late.issued_at += 1_000;
    late.seq += 1_000;
    late.http_url = "https://other.example.org".into();
    fixture.register_record(&second, &late).await;
    fixture.register_record(&first, &early).await;
    fixture.list(&hub_id(&first)).await;
    fixture.list(&hub_id(&second)).await;

    let response = fixture.superhub.get("/api/v1/resolve/community").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "public, max-age=60");
    let resolved: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        resolved,
        json!({"slug": "community", "id": hub_id(&first), "http_url": "https://hub.example.org",
               "multiaddrs": early.multiaddrs, "claimed_at": early.issued_at, "state": "listed",
               "listed": true, "contenders": 2})
    );

    fixture
        .store
        .set_hub_hidden(&hub_id(&first), Some(fixture.now()))
        .await
        .unwrap();
    let (hidden, body) = fixture.get_json("/api/v1/resolve/community").await;
    assert_eq!(
        (hidden, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    fixture
        .store
        .set_hub_hidden(&hub_id(&first), None)
        .await
        .unwrap();
    let (back, body) = fixture.get_json("/api/v1/resolve/community").await;
    assert_eq!(
        (back, body["id"].as_str()),
        (200, Some(hub_id(&first).as_str()))
    );

    let tombstone = sign_tombstone(&first, early.seq + 1, fixture.now(), "");
    assert_eq!(fixture.register(&tombstone).await.status(), 200);
    let (status, handed_on) = fixture.get_json("/api/v1/resolve/community").await;
    assert_eq!(status, 200);
    assert_eq!(handed_on["id"], hub_id(&second).as_str());
    assert_eq!(handed_on["claimed_at"], late.issued_at);
    assert_eq!(handed_on["contenders"], 1);
}

async fn resolve_breaks_equal_claims_by_the_bytewise_smaller_id(db: TestDb) {
    let fixture = Fixture::spawn(&db).await;
    let keys = [Keypair::generate(), Keypair::generate()];
    let record = fixture.record(&keys[0]);
    for key in &keys {
        let mut same_time = fixture.record(key);
        same_time.issued_at = record.issued_at;
        same_time.expires_at = record.expires_at;
        fixture.register_record(key, &same_time).await;
        fixture.list(&hub_id(key)).await;
    }
    let smaller = keys
        .iter()
        .map(hub_id)
        .min_by(|a, b| a.as_bytes().cmp(b.as_bytes()))
        .unwrap();

    let (status, resolved) = fixture.get_json("/api/v1/resolve/community").await;

    assert_eq!(status, 200);
    assert_eq!(resolved["id"], smaller.as_str());
    assert_eq!(resolved["contenders"], 2);
}

async fn resolve_releases_an_old_slug_when_the_hub_changes_it(db: TestDb) {
    let fixture = Fixture::spawn(&db).await;
    let (first, second) = (Keypair::generate(), Keypair::generate());
    let early = fixture.record(&first);
    let mut late = fixture.record(&second);
    late.issued_at += 1_000;
    fixture.register_record(&first, &early).await;
    fixture.register_record(&second, &late).await;
    fixture.list(&hub_id(&first)).await;
    fixture.list(&hub_id(&second)).await;
    let (_, before) = fixture.get_json("/api/v1/resolve/community").await;
    let (unknown, _) = fixture.get_json("/api/v1/resolve/renamed").await;

    let mut renamed = early.clone();
    renamed.seq += 1;
    renamed.slug = "renamed".into();
    assert!(
        fixture
            .register(&sign_record(&first, &renamed))
            .await
            .status()
            .is_success()
    );
    fixture.list(&hub_id(&first)).await;

    let (_, old_slug) = fixture.get_json("/api/v1/resolve/community").await;
    let (_, new_slug) = fixture.get_json("/api/v1/resolve/renamed").await;
    assert_eq!(before["id"], hub_id(&first).as_str());
    assert_eq!(unknown, 404);
    assert_eq!(old_slug["id"], hub_id(&second).as_str());
    assert_eq!(new_slug["id"], hub_id(&first).as_str());
}

#[tokio::test]
async fn resolve_refuses_malformed_slugs_and_counts_outcomes() {
    let db = TestDb::sqlite();
    let fixture = Fixture::spawn(&db).await;
    let long = "a".repeat(64);
    let huge = "a".repeat(10_000);

    for bad in [
        "A-B",
        "ab",
        "-ab",
        "ab-",
        "a_b",
        "a.b",
        "%00abc",
        "%FF%FE%FD",
        "h%C3%BCb",
        "a%2Fb",
        &long,
        &huge,
    ] {
        let (status, body) = fixture.get_json(&format!("/api/v1/resolve/{bad}")).await;

        assert_eq!(status, 400, "{bad}");
        assert_eq!(body["error"]["code"], "invalid_field", "{bad}");
        assert_eq!(body["error"]["field"], "slug", "{bad}");
    }
    let (status, _) = fixture.get_json("/api/v1/resolve/nobody-here").await;
    assert_eq!(status, 404);
    let metrics = fixture.metrics().await;
    assert!(
        metrics.contains(r#"superhub_resolve_total{outcome="not_found"} 1"#),
        "{metrics}"
    );
}

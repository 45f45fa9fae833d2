//! `GET /api/v1/info` (hub.md §11.1) and the shape of errors on unknown routes (hub.md §0.1, §12).

use serde_json::Value;
use testkit::{TestDb, TestHub, each_backend};

each_backend!(info_describes_the_hub_with_public_cache_headers_when_requested);

async fn info_describes_the_hub_with_public_cache_headers_when_requested(db: TestDb) {
    let hub = TestHub::spawn_with(&db, |config| {
        config.hub.name = "Go Developers".into();
        config.hub.slug = shared::ids::Slug::parse("go-developers").unwrap();
        config.hub.tags = vec!["go".into()];
    })
    .await;
    let id = hub.server().peer_id().to_string();

    let response = hub.get("/api/v1/info").await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    assert_eq!(response.headers()["cache-control"], "public, max-age=60");
    let info: Value = response.json().await.unwrap();
    assert_eq!(info["id"], id.as_str());
    assert_eq!(info["name"], "Go Developers");
    assert_eq!(info["slug"], "go-developers");
    assert_eq!(info["tags"], serde_json::json!(["go"]));
    assert_eq!(info["http_url"], hub.base_url.as_str());
    assert_eq!(info["software"]["name"], "goop-hub");
    let addrs = info["multiaddrs"].as_array().unwrap();
    assert!(!addrs.is_empty());
    assert!(
        addrs
            .iter()
            .all(|a| a.as_str().unwrap().ends_with(&format!("/p2p/{id}"))),
        "{addrs:?}"
    );
    assert_eq!(info["join_mode"], "email");
    assert_eq!(info["access"], "free");
    assert_eq!(info["relay"]["reservations"], "members");
    assert_eq!(info["relay"]["circuit_max_bytes"], 16_777_216);
    assert_eq!(info["rendezvous"]["namespace"], "go-developers");
    assert_eq!(info["presence"]["allow_unsigned"], false);
    assert_eq!(info["voucher"]["aud"], "goop-membership");
    assert_eq!(
        info["voucher"]["jwks_url"],
        format!("{}/.well-known/jwks.json", hub.base_url)
    );
    assert_eq!(info["voucher"]["keys"][0]["kid"], id.as_str());
    assert_eq!(info["member_count"], 0);
    assert_eq!(
        info["plans"],
        serde_json::json!([{"id": "free", "kind": "free", "name": "Member"}])
    );
}

#[tokio::test]
async fn unknown_api_route_answers_json_404_when_requested() {
    let db = TestDb::sqlite();
    let hub = TestHub::spawn(&db).await;

    let response = hub.get("/api/v1/nope").await;

    assert_eq!(response.status(), 404);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn unknown_page_answers_html_404_when_requested() {
    let db = TestDb::sqlite();
    let hub = TestHub::spawn(&db).await;

    let response = hub.get("/no/such/page").await;

    assert_eq!(response.status(), 404);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

#[tokio::test]
async fn wrong_method_answers_405_with_allow_when_route_exists() {
    let db = TestDb::sqlite();
    let hub = TestHub::spawn(&db).await;

    let response = hub
        .client
        .delete(hub.url("/api/v1/info"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 405);
    assert!(
        response.headers()["allow"]
            .to_str()
            .unwrap()
            .contains("GET")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn jwks_publishes_the_hub_key_that_verifies_its_vouchers() {
    let db = TestDb::sqlite();
    let hub = TestHub::spawn(&db).await;
    let id = hub.hub_id();

    let response = hub.get("/.well-known/jwks.json").await;

    assert_eq!(response.headers()["cache-control"], "public, max-age=3600");
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let jwks: Value = response.json().await.unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kid"], id.to_string());
    assert_eq!(
        (
            key["kty"].as_str(),
            key["crv"].as_str(),
            key["use"].as_str()
        ),
        (Some("OKP"), Some("Ed25519"), Some("sig"))
    );
    let x = shared::signing::b64u_decode(key["x"].as_str().unwrap()).unwrap();
    assert_eq!(x, id.public_key().to_bytes());
}

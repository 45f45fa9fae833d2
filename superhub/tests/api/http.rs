//! `/healthz`, `/readyz`, `/api/v1/info` and start-up failures (superhub.md §1, §2).

use serde_json::Value;
use shared::keyfile::KeyFileError;
use shared::server::OpenIdentityError;
use superhub::{Config, Server, StartError};
use testkit::{TestDb, TestSuperhub, each_backend};

each_backend!(
    readyz_reports_database_ok_when_started,
    info_describes_the_directory_with_public_cache_headers_when_requested,
);

async fn readyz_reports_database_ok_when_started(db: TestDb) {
    let superhub = TestSuperhub::spawn(&db).await;

    let health = superhub.get("/healthz").await.text().await.unwrap();
    let ready = superhub.get("/readyz").await;

    assert_eq!(health, "ok");
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"status": "ready", "checks": {"database": "ok"}})
    );
}

async fn info_describes_the_directory_with_public_cache_headers_when_requested(db: TestDb) {
    let superhub = TestSuperhub::spawn_with(&db, |config| {
        config.superhub.name = "Example Directory".into();
    })
    .await;

    let response = superhub.get("/api/v1/info").await;

    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    assert_eq!(response.headers()["cache-control"], "public, max-age=60");
    let info: Value = response.json().await.unwrap();
    assert_eq!(info["id"], superhub.server().peer_id().to_string().as_str());
    assert_eq!(info["name"], "Example Directory");
    assert_eq!(info["http_url"], superhub.base_url.as_str());
    assert_eq!(info["software"]["name"], "goop-superhub");
}

#[tokio::test]
async fn unknown_api_route_answers_json_404_when_requested() {
    let db = TestDb::sqlite();
    let superhub = TestSuperhub::spawn(&db).await;

    let response = superhub.get("/api/v1/hubs/nope/nope").await;

    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn start_refuses_key_of_another_type_and_leaves_it_untouched() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("superhub.key");
    // A valid libp2p protobuf key of another type: field 1 = KeyType 2 (Secp256k1), field 2 = 32 bytes.
    let mut foreign = vec![0x08, 0x02, 0x12, 32];
    foreign.extend([1u8; 32]);
    std::fs::write(&path, &foreign).unwrap();

    let err = Server::start(Config::for_tests(dir.path(), &db.url))
        .await
        .unwrap_err();

    assert!(
        matches!(
            err,
            StartError::Identity(OpenIdentityError::Key(
                KeyFileError::NotEd25519 { .. } | KeyFileError::Corrupt { .. }
            ))
        ),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), foreign);
}

//! The hub store on both backends.

use hub::store::Store;
use shared::db::DatabaseConfig;
use testkit::{TestDb, each_backend};

each_backend!(
    find_state_returns_none_when_key_was_never_stored,
    upsert_state_replaces_the_value_when_key_exists,
    migrations_are_idempotent_when_store_reopens,
);

async fn open(db: &TestDb) -> Store {
    let dir = tempfile::tempdir().unwrap();
    Store::open(&DatabaseConfig::with_url(&db.url), dir.path())
        .await
        .unwrap()
}

async fn find_state_returns_none_when_key_was_never_stored(db: TestDb) {
    let store = open(&db).await;

    assert_eq!(store.find_state("record_seq").await.unwrap(), None);
}

async fn upsert_state_replaces_the_value_when_key_exists(db: TestDb) {
    let store = open(&db).await;

    store.upsert_state("record_seq", "1", 1_000).await.unwrap();
    store.upsert_state("record_seq", "2", 2_000).await.unwrap();
    store
        .upsert_state("reconcile_cursor", "c", 2_000)
        .await
        .unwrap();

    assert_eq!(
        store.find_state("record_seq").await.unwrap().as_deref(),
        Some("2")
    );
    assert_eq!(
        store
            .find_state("reconcile_cursor")
            .await
            .unwrap()
            .as_deref(),
        Some("c")
    );
}

async fn migrations_are_idempotent_when_store_reopens(db: TestDb) {
    let first = open(&db).await;
    first.upsert_state("k", "v", 1).await.unwrap();
    first.close().await;

    let second = open(&db).await;

    assert_eq!(second.find_state("k").await.unwrap().as_deref(), Some("v"));
}

//! The super hub store on both backends.

use shared::db::DatabaseConfig;
use superhub::store::Store;
use testkit::{TestDb, each_backend};

each_backend!(upsert_state_keeps_the_latest_value_when_written_twice);

async fn upsert_state_keeps_the_latest_value_when_written_twice(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&DatabaseConfig::with_url(&db.url), dir.path())
        .await
        .unwrap();

    let before = store.find_state("change_seq").await.unwrap();
    store.upsert_state("change_seq", "41", 1).await.unwrap();
    store.upsert_state("change_seq", "42", 2).await.unwrap();

    assert_eq!(before, None);
    assert_eq!(
        store.find_state("change_seq").await.unwrap().as_deref(),
        Some("42")
    );
}

//! The servers side by side.

use testkit::{TestDb, TestHub, TestSuperhub};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_and_superhub_serve_distinct_identities_when_running_side_by_side() {
    let (hub_db, superhub_db) = (TestDb::postgres().await, TestDb::postgres().await);
    let hub = TestHub::spawn(&hub_db).await;
    let superhub = TestSuperhub::spawn(&superhub_db).await;

    let hub_info: serde_json::Value = hub.get("/api/v1/info").await.json().await.unwrap();
    let superhub_info: serde_json::Value = superhub.get("/api/v1/info").await.json().await.unwrap();

    assert_eq!(hub_info["software"]["name"], "goop-hub");
    assert_eq!(superhub_info["software"]["name"], "goop-superhub");
    assert_ne!(hub_info["id"], superhub_info["id"]);
}

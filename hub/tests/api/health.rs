//! `/healthz` and `/readyz` (hub.md §12).

use std::time::Duration;

use serde_json::Value;
use testkit::{Backend, TestDb, TestHub, each_backend, eventually};

each_backend!(
    healthz_answers_ok_as_text_when_running,
    readyz_reports_every_check_ok_when_started
);

async fn healthz_answers_ok_as_text_when_running(db: TestDb) {
    let hub = TestHub::spawn(&db).await;

    let response = hub.get("/healthz").await;

    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(response.text().await.unwrap(), "ok");
}

async fn readyz_reports_every_check_ok_when_started(db: TestDb) {
    let hub = TestHub::spawn(&db).await;

    let response = hub.get("/readyz").await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"status": "ready", "checks": {"database": "ok", "p2p": "ok"}})
    );
}

/// Makes the test database refuse connections and drops the open ones, or lets them in again.
async fn set_postgres_reachable(db: &TestDb, reachable: bool) {
    use sqlx::{Connection as _, Executor as _};
    let admin_url = std::env::var("TEST_DATABASE_URL").unwrap();
    let name = db.url.rsplit('/').next().unwrap();
    let mut admin = sqlx::AnyConnection::connect(&admin_url).await.unwrap();
    let allow = if reachable { "true" } else { "false" };
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "alter database {name} allow_connections {allow}"
        )))
        .await
        .unwrap();
    if !reachable {
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "select pg_terminate_backend(pid) from pg_stat_activity where datname = '{name}'"
            )))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_503_while_postgres_is_away_and_recovers_when_back() {
    let db = TestDb::postgres().await;
    assert_eq!(db.backend, Backend::Postgres);
    let hub = TestHub::spawn(&db).await;

    set_postgres_reachable(&db, false).await;
    let away: Value = eventually(Duration::from_secs(15), "/readyz to answer 503", || async {
        let response = hub.get("/readyz").await;
        (response.status() == 503).then_some(())?;
        response.json().await.ok()
    })
    .await;
    let health_while_away = hub.get("/healthz").await.status();
    set_postgres_reachable(&db, true).await;
    eventually(
        Duration::from_secs(15),
        "/readyz to answer 200 again",
        || async { (hub.get("/readyz").await.status() == 200).then_some(()) },
    )
    .await;

    assert_eq!(away["status"], "not_ready");
    assert_eq!(away["checks"]["database"], "fail");
    assert_eq!(away["checks"]["p2p"], "ok");
    assert_eq!(health_while_away, 200);
}

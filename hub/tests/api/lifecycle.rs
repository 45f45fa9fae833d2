//! Start-up order, failures that name their cause, restarts and shutdown (hub.md §1, §2).

use std::time::Duration;

use hub::{Config, Server, StartError};
use shared::db::ConnectError;
use shared::keyfile::KeyFileError;
use shared::server::{BindError, OpenIdentityError};
use testkit::{TestDb, TestHub, each_backend};

each_backend!(hub_id_survives_restart_when_data_dir_is_kept);

async fn hub_id_survives_restart_when_data_dir_is_kept(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let first = Server::start(Config::for_tests(dir.path(), &db.url))
        .await
        .unwrap();
    let id = first.peer_id();
    first.shutdown().await;

    let second = Server::start(Config::for_tests(dir.path(), &db.url))
        .await
        .unwrap();

    assert_eq!(second.peer_id(), id);
    second.shutdown().await;
}

#[tokio::test]
async fn start_refuses_corrupt_key_and_leaves_it_untouched() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hub.key"), b"garbage").unwrap();

    let err = Server::start(Config::for_tests(dir.path(), &db.url))
        .await
        .unwrap_err();

    assert!(
        matches!(
            err,
            StartError::Identity(OpenIdentityError::Key(KeyFileError::Corrupt { .. }))
        ),
        "{err}"
    );
    assert!(err.to_string().contains("hub.key"), "{err}");
    assert_eq!(
        std::fs::read(dir.path().join("hub.key")).unwrap(),
        b"garbage"
    );
}

#[tokio::test]
async fn start_gives_up_naming_the_database_when_postgres_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = Config::for_tests(
        dir.path(),
        &format!("postgres://hub:secret@127.0.0.1:{closed_port}/hub"),
    );
    config.database.connect_timeout = std::time::Duration::from_secs(1);

    let err = Server::start(config).await.unwrap_err();

    assert!(
        matches!(err, StartError::Database(ConnectError::Unreachable { .. })),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!("127.0.0.1:{closed_port}/hub")),
        "{text}"
    );
    assert!(!text.contains("secret"), "{text}");
}

#[tokio::test]
async fn start_fails_naming_the_address_when_http_port_is_taken() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = Config::for_tests(dir.path(), &db.url);
    config.http.bind = taken.local_addr().unwrap();

    let err = Server::start(config).await.unwrap_err();

    assert!(
        matches!(err, StartError::Bind(BindError::Http { .. })),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains(&taken.local_addr().unwrap().to_string()),
        "{err}"
    );
}

#[tokio::test]
async fn start_fails_naming_the_address_when_p2p_port_is_taken() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut config = Config::for_tests(dir.path(), &db.url);
    config.p2p.listen_addrs = vec![format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap()];

    let err = Server::start(config).await.unwrap_err();

    assert!(matches!(err, StartError::Network(_)), "{err}");
    assert!(err.to_string().contains(&format!("/tcp/{port}")), "{err}");
}

#[tokio::test]
async fn shutdown_closes_the_http_listener() {
    let db = TestDb::sqlite();
    let hub = TestHub::spawn(&db).await;
    let addr = hub.server().http_addr();

    tokio::time::timeout(Duration::from_secs(10), hub.shutdown())
        .await
        .expect("shutdown within 10 s");

    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn metrics_endpoint_serves_hub_and_libp2p_metrics_from_one_registry() {
    let db = TestDb::sqlite();
    let hub = TestHub::spawn(&db).await;
    hub.get("/healthz").await;

    let text = hub.metrics().await;

    assert!(
        text.contains("hub_build_info{version=\"0.1.0\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "hub_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains("libp2p_"), "libp2p metrics missing: {text}");
}

#[tokio::test]
async fn metrics_listener_is_absent_when_disabled() {
    let db = TestDb::sqlite();

    let hub = TestHub::spawn_with(&db, |config| config.metrics.enabled = false).await;

    assert!(hub.server().metrics_addr().is_none());
}

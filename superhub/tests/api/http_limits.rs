//! The shared HTTP limits as the super hub wires them (superhub.md §10): `general_ip` before
//! every route but the health checks, the header read deadline and the per-IP TCP cap. These
//! limits live in front of the store, so the tests run on SQLite only.

use std::time::Duration;

use shared::rate_limit::RateLimit;
use testkit::raw_http::{connect, read_until_closed};
use testkit::{TestDb, TestSuperhub, code_of};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

#[tokio::test]
async fn requests_beyond_general_ip_get_429_while_health_checks_answer() {
    let db = TestDb::sqlite();
    let superhub = TestSuperhub::spawn_with(&db, |c| {
        c.rate_limits.general_ip = RateLimit::new(3, 60.0);
    })
    .await;
    let mut codes = Vec::new();

    for _ in 0..5 {
        codes.push(code_of(superhub.get("/api/v1/info").await).await);
    }

    assert!(codes[..3].iter().all(|c| c.0 == 200), "{codes:?}");
    assert!(
        codes[3..]
            .iter()
            .all(|c| c.0 == 429 && c.1 == "rate_limited"),
        "{codes:?}"
    );
    assert_eq!(superhub.get("/healthz").await.status(), 200);
    assert_eq!(superhub.get("/readyz").await.status(), 200);
}

#[tokio::test]
async fn half_a_header_is_closed_when_the_header_read_timeout_passes() {
    let db = TestDb::sqlite();
    let superhub = TestSuperhub::spawn_with(&db, |c| {
        c.http.header_read_timeout = Duration::from_secs(1);
    })
    .await;
    let mut stream = connect(&superhub).await;

    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: sh\r\nx-slow: ")
        .await
        .unwrap();

    assert!(read_until_closed(&mut stream).await.is_some());
}

#[tokio::test]
async fn connections_beyond_the_per_ip_cap_are_closed_at_once() {
    let db = TestDb::sqlite();
    let superhub = TestSuperhub::spawn_with(&db, |c| c.http.max_tcp_connections_per_ip = 1).await;
    let mut first = connect(&superhub).await;
    first
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: sh\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 12];
    first.read_exact(&mut buf).await.unwrap();

    let mut second = connect(&superhub).await;

    assert_eq!(&buf, b"HTTP/1.1 200");
    assert_eq!(read_until_closed(&mut second).await.as_deref(), Some(""));
}

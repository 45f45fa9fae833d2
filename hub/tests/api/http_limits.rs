//! The HTTP server limits of hub.md §13: header read deadline and size, TCP connection caps,
//! body read deadline, health checks outside the in-flight pool, the `general_ip` budget before
//! any signature check, and the client address across every `X-Forwarded-For` line. These
//! limits live in front of the store, so the tests run on SQLite only.

use std::time::Duration;

use libp2p::identity::ed25519::Keypair;
use shared::ids::Ed25519PeerId;
use shared::rate_limit::RateLimit;
use testkit::raw_http::{connect, read_until_closed};
use testkit::{TestDb, TestHub, code_of, eventually};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// How long a test waits for the server to act on a 1 s limit.
const DEADLINE: Duration = Duration::from_secs(5);

/// A `POST /publish` whose body never arrives past its first byte.
async fn slow_body(hub: &TestHub) -> TcpStream {
    let mut stream = connect(hub).await;
    stream
        .write_all(
            b"POST /publish HTTP/1.1\r\nhost: hub\r\ncontent-type: application/json\r\n\
              content-length: 100\r\n\r\n{",
        )
        .await
        .unwrap();
    stream
}

#[tokio::test]
async fn half_a_header_is_closed_when_the_header_read_timeout_passes() {
    let db = TestDb::sqlite();
    let hub =
        TestHub::spawn_with(&db, |c| c.http.header_read_timeout = Duration::from_secs(1)).await;
    let mut stream = connect(&hub).await;

    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: hub\r\nx-slow: ")
        .await
        .unwrap();

    let sent = read_until_closed(&mut stream).await;
    assert!(sent.is_some(), "the connection is still open");
    assert!(
        !sent.unwrap().contains(" 200 "),
        "no answer to half a header"
    );
}

#[tokio::test]
async fn oversized_header_gets_431() {
    let db = TestDb::sqlite();
    let hub = TestHub::spawn(&db).await;

    let response = hub
        .client
        .get(hub.url("/healthz"))
        .header("x-big", "a".repeat(20_000))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 431);
}

#[tokio::test]
async fn connections_beyond_the_per_ip_cap_are_closed_at_once() {
    let db = TestDb::sqlite();
    let hub = TestHub::spawn_with(&db, |c| c.http.max_tcp_connections_per_ip = 3).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = connect(&hub).await;
        // A full exchange proves the server accepted and counts this connection.
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: hub\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 12];
        stream.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"HTTP/1.1 200");
        held.push(stream);
    }

    let mut fourth = connect(&hub).await;
    let _ = fourth
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: hub\r\n\r\n")
        .await;

    assert_eq!(read_until_closed(&mut fourth).await.as_deref(), Some(""));
    assert!(
        hub.metrics()
            .await
            .contains("hub_http_connections_refused_total{reason=\"per_ip\"} 1"),
        "the refused connection is counted"
    );
    drop(held.pop());
    eventually(DEADLINE, "a freed slot admits a connection", || async {
        hub.client
            .get(hub.url("/healthz"))
            .send()
            .await
            .ok()
            .map(drop)
    })
    .await;
}

#[tokio::test]
async fn healthz_answers_when_slow_bodies_hold_every_in_flight_permit() {
    let db = TestDb::sqlite();
    let hub = TestHub::spawn_with(&db, |c| c.http.max_connections = 2).await;
    let _slow = [slow_body(&hub).await, slow_body(&hub).await];
    eventually(DEADLINE, "the pool is exhausted", || async {
        (hub.get("/api/v1/info").await.status() == 503).then_some(())
    })
    .await;

    let healthz = hub.get("/healthz").await;
    let readyz = hub.get("/readyz").await;

    assert_eq!(healthz.status(), 200);
    assert_eq!(readyz.status(), 200);
}

#[tokio::test]
async fn slow_body_gets_408_when_the_body_read_timeout_passes() {
    let db = TestDb::sqlite();
    let hub = TestHub::spawn_with(&db, |c| {
        c.http.max_connections = 1;
        c.http.body_read_timeout = Duration::from_secs(1);
    })
    .await;
    let mut slow = slow_body(&hub).await;

    let sent = read_until_closed(&mut slow)
        .await
        .expect("the server answers");

    assert!(sent.starts_with("HTTP/1.1 408"), "{sent}");
    assert!(sent.contains("request_timeout"), "{sent}");
    assert_eq!(hub.get("/api/v1/info").await.status(), 200, "permit freed");
}

#[tokio::test]
async fn fresh_key_signed_requests_beyond_general_ip_get_429_before_signature_checks() {
    let db = TestDb::sqlite();
    let hub = TestHub::spawn_with(&db, |c| {
        c.rate_limits.general_ip = RateLimit::new(4, 60.0);
    })
    .await;
    let other_hub = Ed25519PeerId::from(Keypair::generate().public());
    let mut codes = Vec::new();

    for _ in 0..20 {
        // A fresh key each time, signing for another audience: a bad signature if checked.
        let request = hub.client.get(hub.url("/api/v1/membership"));
        let request = shared::peer_sig::sign_request(
            request,
            &Keypair::generate(),
            &other_hub,
            testkit::now_ms(),
        )
        .unwrap();
        codes.push(code_of(request.send().await.unwrap()).await);
    }

    assert!(
        codes[..4].iter().all(|c| c.1 == "bad_signature"),
        "{codes:?}"
    );
    assert!(
        codes[4..]
            .iter()
            .all(|c| c.0 == 429 && c.1 == "rate_limited"),
        "{codes:?}"
    );
    assert_eq!(hub.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn client_ip_reads_every_forwarded_for_line_when_the_peer_is_a_trusted_proxy() {
    let db = TestDb::sqlite();
    let hub = TestHub::spawn_with(&db, |c| {
        c.http.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
        c.rate_limits.general_ip = RateLimit::new(1, 60.0);
    })
    .await;
    let get = |lines: &'static [&'static str]| {
        let mut request = hub.client.get(hub.url("/api/v1/info"));
        for line in lines {
            request = request.header("x-forwarded-for", *line);
        }
        request.send()
    };

    let two_lines = get(&["198.51.100.1", "203.0.113.5"]).await.unwrap();
    let last_line_client = get(&["203.0.113.5"]).await.unwrap();
    let first_line_client = get(&["198.51.100.1"]).await.unwrap();

    assert_eq!(two_lines.status(), 200);
    assert_eq!(
        last_line_client.status(),
        429,
        "203.0.113.5 spent its token"
    );
    assert_eq!(first_line_client.status(), 200);
}

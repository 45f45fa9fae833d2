//! `GET /events` (hub.md §5.5): who may subscribe, what the admin stream adds, and how a stream
//! ends when its client cannot keep up (overflow, write deadline).

use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use hub::config::RateLimit;
use serde_json::json;
use testkit::ws::{self, next_json};
use testkit::{TestHub, TestPeer};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;

use super::{DEADLINE, Sse, open_hub};

#[tokio::test]
async fn email_reaches_admin_stream_but_never_a_participant() {
    let hub = open_hub(|c| c.admin.token = Some("admin-secret".to_owned().into())).await;
    let (alice, bob) = (TestPeer::new(), TestPeer::new());
    let (status, mut admin) = Sse::open(
        &hub,
        "/events",
        &[("authorization", "Bearer admin-secret".to_owned())],
    )
    .await
    .unwrap();
    let (mut bob_ws, _) = bob.open_v2(&hub).await;

    let mut msg = alice.msg("online", "Alice");
    msg["email"] = json!("alice@example.org");
    alice.publish(&hub, &msg).await;

    assert_eq!(status, 200);
    assert_eq!(admin.next().await.unwrap()["email"], "alice@example.org");
    let participant = next_json(&mut bob_ws).await;
    assert_eq!(participant["peerId"], alice.id.to_string());
    assert!(participant.get("email").is_none(), "{participant}");
}

#[tokio::test]
async fn wrong_admin_token_or_no_credential_is_refused_on_events() {
    let hub = open_hub(|c| c.admin.token = Some("admin-secret".to_owned().into())).await;

    let (wrong, _) = Sse::open(
        &hub,
        "/events",
        &[("authorization", "Bearer nope".to_owned())],
    )
    .await
    .unwrap();
    let (none, _) = Sse::open(&hub, "/events", &[]).await.unwrap();

    assert_eq!(wrong, 401);
    assert_eq!(none, 401);
}

/// A hub whose unauthenticated `/events` streams are participants and whose WebSocket sessions
/// may send frames as fast as a test can, after `adjust`.
async fn flood_hub(adjust: impl FnOnce(&mut hub::Config)) -> TestHub {
    open_hub(|c| {
        c.presence.allow_unsigned = true;
        c.rate_limits.ws_frames = RateLimit::new(u32::MAX, 0.001);
        // The publisher's session must outlast the flood even when a loaded machine slows the
        // task draining it (a 4008 would end its sends).
        c.presence.ws_queue = 65_536;
        adjust(c);
    })
    .await
}

/// An `/events` stream over a raw socket with a small receive buffer that reads the response
/// head and then stops reading.
async fn stalled_stream(hub: &TestHub) -> TcpStream {
    let addr = hub.server().http_addr();
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    let request = format!("GET /events HTTP/1.1\r\nhost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !String::from_utf8_lossy(&head).contains(": ok\n\n") {
        let mut buf = [0u8; 1024];
        let n = tokio::time::timeout(DEADLINE, stream.read(&mut buf))
            .await
            .expect("the stream head in time")
            .unwrap();
        assert!(n > 0, "the stream ended early");
        head.extend_from_slice(&buf[..n]);
    }
    stream
}

/// A v2 session of a fresh peer that drains what it receives; its sender half.
async fn publisher(hub: &TestHub) -> (TestPeer, futures::stream::SplitSink<ws::Ws, Message>) {
    let peer = TestPeer::new();
    let (socket, _) = peer.open_v2(hub).await;
    let (sink, mut stream) = socket.split();
    tokio::spawn(async move { while stream.next().await.is_some() {} });
    (peer, sink)
}

/// Sends `count` changes of about 9 KB each (content and 20 long addresses) from `peer`.
async fn send_changes(
    peer: &TestPeer,
    sink: &mut futures::stream::SplitSink<ws::Ws, Message>,
    round: usize,
    count: usize,
) {
    let addrs: Vec<String> = (0..20)
        .map(|i| format!("/dns4/{}{i:02}.example/tcp/4001", "a".repeat(220)))
        .collect();
    for i in 0..count {
        let mut msg = peer.msg("update", &format!("{round:04}{i:04}{}", "x".repeat(4000)));
        msg["addrs"] = json!(addrs);
        sink.send(Message::Text(msg.to_string().into()))
            .await
            .unwrap();
    }
}

/// Open SSE subscriptions, from the hub's metrics.
async fn sse_subscribers(hub: &TestHub) -> i64 {
    hub.metrics()
        .await
        .lines()
        .filter(|l| l.starts_with("hub_presence_subscribers{") && l.contains("transport=\"sse\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<i64>().ok())
        .sum()
}

/// Sends changes until the hub holds no SSE subscription any more (at most 60 s).
async fn flood_until_no_sse_subscriber(hub: &TestHub) {
    let (peer, mut sink) = publisher(hub).await;
    let flood = async {
        for round in 0.. {
            if sse_subscribers(hub).await == 0 {
                return;
            }
            send_changes(&peer, &mut sink, round, 50).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), flood)
        .await
        .expect("the SSE subscription is dropped in time");
}

#[tokio::test]
async fn sse_stream_whose_client_stops_reading_is_dropped_after_the_write_deadline() {
    let hub = flood_hub(|c| {
        c.presence.sse_queue = 1_000_000;
        c.presence.sse_write_timeout = Duration::from_secs(1);
        c.presence.sweep_interval = Duration::from_secs(1);
    })
    .await;
    let _stalled = stalled_stream(&hub).await;
    assert_eq!(sse_subscribers(&hub).await, 1);

    flood_until_no_sse_subscriber(&hub).await;

    assert_eq!(sse_subscribers(&hub).await, 0);
}

/// A hub whose SSE subscriptions outlive any test (the presence layer never drops one), with
/// `http.write_timeout` as given: only the socket's write deadline can end a stalled stream.
async fn write_deadline_hub(write_timeout: Duration) -> TestHub {
    flood_hub(|c| {
        c.presence.sse_queue = 1_000_000;
        c.presence.sse_write_timeout = Duration::from_secs(3600);
        c.http.write_timeout = write_timeout;
    })
    .await
}

#[tokio::test]
async fn sse_connection_whose_client_stops_reading_is_closed_after_the_http_write_timeout() {
    let hub = write_deadline_hub(Duration::from_secs(1)).await;
    let mut stalled = stalled_stream(&hub).await;

    flood_until_no_sse_subscriber(&hub).await;

    let drained = tokio::time::timeout(DEADLINE, async {
        let mut buf = vec![0u8; 64 * 1024];
        // End of stream or a reset: either way the server closed the socket.
        while let Ok(n) = stalled.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
    assert!(drained.is_ok(), "the server closed the connection");
}

#[tokio::test]
async fn sse_response_ends_when_its_subscription_overflows() {
    let hub = flood_hub(|c| c.presence.sse_queue = 4).await;
    let mut stalled = stalled_stream(&hub).await;
    flood_until_no_sse_subscriber(&hub).await;

    let mut tail = Vec::new();
    let ended = tokio::time::timeout(DEADLINE, async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = stalled.read(&mut buf).await.unwrap();
            if n == 0 {
                return;
            }
            tail.extend_from_slice(&buf[..n]);
            tail.drain(..tail.len().saturating_sub(16));
            if tail.ends_with(b"\r\n0\r\n\r\n") {
                return;
            }
        }
    })
    .await;

    assert!(ended.is_ok(), "the chunked body ends with its last chunk");
}

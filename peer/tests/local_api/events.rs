//! §11.4: `GET /api/events` frames, `Last-Event-ID` replay, the stream cap.

use std::time::Duration;

use peer::event::{Event, StateChange};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{Api, error_code};

fn hub_state(n: u32) -> Event {
    Event::HubState(StateChange {
        url: format!("http://h{n}.example"),
        state: "online".to_owned(),
        detail: None,
    })
}

/// Opens `/api/events` and reads until the response headers are in.
async fn open(api: &Api, last_event_id: Option<u64>) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(api.addr).await.unwrap();
    let last = last_event_id.map_or(String::new(), |id| format!("Last-Event-ID: {id}\r\n"));
    let request = format!(
        "GET /api/events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n{last}\r\n",
        api.host()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut seen = String::new();
    read_until(&mut stream, &mut seen, "\r\n\r\n").await;
    (stream, seen)
}

async fn read_until(stream: &mut TcpStream, seen: &mut String, needle: &str) {
    tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        while !seen.contains(needle) {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "stream closed before {needle:?}; got {seen:?}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {needle:?} within 10 s; got {seen:?}"));
}

#[tokio::test]
async fn events_replay_after_last_event_id_then_follow_live_ones() {
    let api = Api::start().await;
    let events = &api.peer.node().events;
    for n in 1..=3 {
        events.emit(hub_state(n));
    }

    let (mut stream, mut seen) = open(&api, Some(1)).await;
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    assert!(
        seen.to_ascii_lowercase()
            .contains("content-type: text/event-stream")
    );
    events.emit(hub_state(4));
    read_until(&mut stream, &mut seen, "h4.example").await;

    assert!(!seen.contains("h1.example"), "{seen}");
    assert!(
        seen.contains(
            "id: 2\nevent: hub.state\ndata: {\"url\":\"http://h2.example\",\"state\":\"online\"}\n\n"
        ),
        "{seen}"
    );
    let (two, three, four) = (
        seen.find("id: 2\n").unwrap(),
        seen.find("id: 3\n").unwrap(),
        seen.find("id: 4\n").unwrap(),
    );
    assert!(two < three && three < four, "{seen}");
    api.stop().await;
}

#[tokio::test]
async fn events_without_last_event_id_start_with_new_events_only() {
    let api = Api::start().await;
    let events = &api.peer.node().events;
    events.emit(hub_state(1));

    let (mut stream, mut seen) = open(&api, None).await;
    events.emit(hub_state(2));
    read_until(&mut stream, &mut seen, "h2.example").await;

    assert!(!seen.contains("h1.example"), "{seen}");
    api.stop().await;
}

#[tokio::test]
async fn seventeenth_event_stream_of_either_kind_is_refused_with_503() {
    let api = Api::start().await;
    let mut open_streams = Vec::new();
    for _ in 0..16 {
        let (stream, seen) = open(&api, None).await;
        assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
        open_streams.push(stream);
    }

    // The goop2-SDK stream shares the slots.
    for path in ["/api/events", "/api/mq/events"] {
        let (status, body) = api.get(path).await;
        assert_eq!(
            (status, error_code(&body).as_str()),
            (503, "too_many_streams"),
            "{path}"
        );
    }

    drop(open_streams.pop());
    testkit::eventually(Duration::from_secs(20), "a freed stream slot", || async {
        let (stream, seen) = open(&api, None).await;
        seen.starts_with("HTTP/1.1 200").then_some(stream)
    })
    .await;
    api.stop().await;
}

#[tokio::test]
async fn malformed_last_event_id_is_refused_with_400() {
    let api = Api::start().await;
    let (status, body) = api
        .raw(
            &format!(
                "GET /api/events HTTP/1.1\r\nHost: {}\r\nLast-Event-ID: abc",
                api.host()
            ),
            b"",
        )
        .await;
    assert_eq!((status, error_code(&body).as_str()), (400, "invalid_field"));
    api.stop().await;
}

#[tokio::test]
async fn open_event_stream_ends_when_the_peer_shuts_down() {
    let api = Api::start().await;
    let (mut stream, _) = open(&api, None).await;

    let started = std::time::Instant::now();
    api.stop().await;

    assert!(
        started.elapsed() < peer::SHUTDOWN_TIMEOUT,
        "{:?}",
        started.elapsed()
    );
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
        .await
        .expect("the server closes the stream")
        .unwrap();
}

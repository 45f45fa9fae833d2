//! Hubs that answer garbage, too much or nothing are failing with backoff; the others are not
//! disturbed (peer.md §3, §14 "hub responses").

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::routing::get;
use serde_json::json;
use testkit::TestPeer;

use super::{hub_view, open_hub, start_peer, url};

/// Serves `app` on a loopback port.
async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// An HTTP server answering `/api/capabilities` with `body`, recording when it was asked.
async fn bad_hub(body: &'static [u8]) -> (SocketAddr, Arc<Mutex<Vec<Instant>>>) {
    let hits = Arc::new(Mutex::new(Vec::new()));
    let seen = hits.clone();
    let app = Router::new().route(
        "/api/capabilities",
        get(move || {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(Instant::now());
                body
            }
        }),
    );
    let addr = serve(app).await;
    (addr, hits)
}

/// A TCP listener that accepts and never answers.
async fn silent_hub() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_huge_and_silent_hubs_fail_with_backoff_and_leave_the_others_alone() {
    static HUGE: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
        let mut body = b"{\"x\":\"".to_vec();
        body.resize(2 * 1024 * 1024, b'a');
        body.extend_from_slice(b"\"}");
        body
    });
    let (hub, _db) = open_hub(|_| {}).await;
    let (garbage, hits) = bad_hub(b"<html>not json</html>").await;
    let (huge, _) = bad_hub(HUGE.as_slice()).await;
    let silent = silent_hub().await;
    let urls = [
        format!("http://{garbage}"),
        format!("http://{huge}"),
        format!("http://{silent}"),
        hub.base_url.clone(),
    ];
    let refs: Vec<&str> = urls.iter().map(String::as_str).collect();
    let (a, _d) = start_peer(&refs, |_| {}).await;

    hub_view(&a, &url(&hub.base_url), "the real hub online", |v| {
        v.state == "online"
    })
    .await;
    let g = hub_view(&a, &url(&urls[0]), "garbage failing", |v| {
        v.state == "failing"
    })
    .await;
    let h = hub_view(&a, &url(&urls[1]), "huge failing", |v| v.state == "failing").await;
    let s = hub_view(&a, &url(&urls[2]), "silent failing", |v| {
        v.state == "failing"
    })
    .await;

    assert_eq!(g.last_error.as_deref(), Some("malformed"));
    assert_eq!(h.last_error.as_deref(), Some("too_large"));
    assert_eq!(s.last_error.as_deref(), Some("unreachable"));
    let times = testkit::eventually(super::DEADLINE, "four attempts", || async {
        let times = hits.lock().unwrap().clone();
        (times.len() >= 4).then_some(times)
    })
    .await;
    let gaps: Vec<_> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps[2] > gaps[0] * 2, "backoff grows: {gaps:?}");
    assert_eq!(
        a.node().hubs.get(&url(&hub.base_url)).unwrap().state,
        "online"
    );
    let started = Instant::now();
    a.shutdown().await;
    assert!(
        started.elapsed() < peer::SHUTDOWN_TIMEOUT,
        "{:?}",
        started.elapsed()
    );
}

/// A hub whose WS challenge names another hub id than its info document: the peer must not sign
/// it (peer.md §3.3). Records every text frame the peer sends.
async fn impostor_hub() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    use axum::extract::ws::{Message, WebSocketUpgrade};
    let own = TestPeer::new().id.to_string();
    let other = TestPeer::new().id.to_string();
    let frames = Arc::new(Mutex::new(Vec::new()));
    let seen = frames.clone();
    let app = Router::new()
        .route(
            "/api/capabilities",
            get(|| async { axum::Json(json!({"signed_presence": true})) }),
        )
        .route(
            "/api/v1/info",
            get(move || {
                let own = own.clone();
                async move { axum::Json(json!({"id": own})) }
            }),
        )
        .route(
            "/ws",
            get(move |ws: WebSocketUpgrade| {
                let (other, seen) = (other.clone(), seen.clone());
                async move {
                    ws.on_upgrade(move |mut socket| async move {
                        let challenge = json!({"type": "challenge", "hubId": other,
                            "nonce": "bm9uY2U", "ts": testkit::now_ms()});
                        let _ = socket
                            .send(Message::Text(challenge.to_string().into()))
                            .await;
                        while let Some(Ok(msg)) = socket.recv().await {
                            if let Message::Text(text) = msg {
                                seen.lock().unwrap().push(text.to_string());
                            }
                        }
                    })
                }
            }),
        );
    let addr = serve(app).await;
    (addr, frames)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_for_another_hub_is_never_signed() {
    let (addr, frames) = impostor_hub().await;
    let base = format!("http://{addr}");
    let (a, _d) = start_peer(&[&base], |_| {}).await;

    let view = hub_view(&a, &url(&base), "failing", |v| v.state == "failing").await;

    assert_eq!(view.last_error.as_deref(), Some("wrong_hub"));
    assert!(
        frames.lock().unwrap().is_empty(),
        "{:?}",
        frames.lock().unwrap()
    );
    a.shutdown().await;
}

/// A legacy hub whose WS sends one frame over 64 KiB, recording the close code the peer answers
/// with and counting sessions.
async fn oversized_frame_hub() -> (SocketAddr, Arc<Mutex<Vec<u16>>>) {
    use axum::extract::ws::{Message, WebSocketUpgrade};
    let closes = Arc::new(Mutex::new(Vec::new()));
    let seen = closes.clone();
    let app = Router::new()
        .route("/api/capabilities", get(|| async { axum::Json(json!({})) }))
        .route("/publish", axum::routing::post(|| async { "ok" }))
        .route(
            "/ws",
            get(move |ws: WebSocketUpgrade| {
                let seen = seen.clone();
                async move {
                    ws.on_upgrade(move |mut socket| async move {
                        let huge = "x".repeat(70 * 1024);
                        let _ = socket.send(Message::Text(huge.into())).await;
                        while let Some(Ok(msg)) = socket.recv().await {
                            if let Message::Close(frame) = msg {
                                seen.lock().unwrap().push(frame.map_or(1005, |f| f.code));
                                break;
                            }
                        }
                    })
                }
            }),
        );
    let addr = serve(app).await;
    (addr, closes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_over_64_kib_ends_the_session_with_1009_and_a_reconnect() {
    let (addr, closes) = oversized_frame_hub().await;
    let base = format!("http://{addr}");
    let (a, _d) = start_peer(&[&base], |_| {}).await;

    let closes = testkit::eventually(super::DEADLINE, "two sessions closed", || async {
        let closes = closes.lock().unwrap().clone();
        (closes.len() >= 2).then_some(closes)
    })
    .await;

    assert!(closes.iter().all(|c| *c == 1009), "{closes:?}");
    a.shutdown().await;
}

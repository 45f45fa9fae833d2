//! The MQ and chat routes through the real local API listener.

use std::time::Duration;

use futures::StreamExt as _;
use serde_json::{Value, json};

use super::harness::{Raw, WAIT, pair, random_peer, start};
use crate::Peer;

fn url(peer: &Peer, path: &str) -> String {
    format!("http://{}{path}", peer.http_addr().unwrap())
}

async fn post(peer: &Peer, path: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(url(peer, path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn call(method: reqwest::Method, url: String) -> Value {
    let response = reqwest::Client::new()
        .request(method, url)
        .send()
        .await
        .unwrap();
    response.json().await.unwrap()
}

/// Reads an SSE body until it contains `needle`.
async fn read_until(response: &mut reqwest::Response, seen: &mut String, needle: &str) {
    tokio::time::timeout(WAIT, async {
        while !seen.contains(needle) {
            let chunk = response.chunk().await.unwrap().expect("stream open");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {needle:?} in {seen:?}"));
}

#[tokio::test]
async fn mq_send_delivers_and_events_stream_speaks_the_goop2_sdk_format() {
    let (a, b) = pair().await;
    let mut sse = reqwest::Client::new()
        .get(url(&b.peer, "/api/mq/events"))
        .send()
        .await
        .unwrap();
    let mut seen = String::new();
    read_until(
        &mut sse,
        &mut seen,
        "event: connected\ndata: {\"status\":\"ok\"}",
    )
    .await;

    let (status, body) = post(
        &a.peer,
        "/api/mq/send",
        json!({"peer_id": b.peer.peer_id().to_base58(), "topic": "app:x", "payload": {"k": "v"}}),
    )
    .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "delivered");
    let id = body["msg_id"].as_str().unwrap().to_owned();
    read_until(&mut sse, &mut seen, &id).await;
    let frame = seen[seen.find("event: message").expect("a message frame")..].to_owned();
    let data: Value = serde_json::from_str(
        frame
            .lines()
            .nth(1)
            .unwrap()
            .strip_prefix("data: ")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(data["type"], "message");
    assert_eq!(data["from"], a.peer.peer_id().to_base58());
    assert_eq!(data["msg"]["payload"], json!({"k": "v"}));

    let (status, _) = post(
        &a.peer,
        "/api/mq/ack",
        json!({"msg_id": id, "from_peer_id": b.peer.peer_id().to_base58()}),
    )
    .await;
    assert_eq!(status, 200);
    read_until(&mut sse, &mut seen, "\"type\":\"delivered\"").await;
    a.peer.shutdown().await;
    b.peer.shutdown().await;
}

#[tokio::test]
async fn mq_send_refuses_reserved_and_invalid_input() {
    let a = start("alice").await;
    let peer = random_peer().to_base58();
    let cases = [
        (
            json!({"peer_id": peer, "topic": "group:g:join", "payload": {}}),
            "reserved_topic",
        ),
        (
            json!({"peer_id": peer, "topic": "identity", "payload": null}),
            "reserved_topic",
        ),
        (
            json!({"peer_id": peer, "topic": "call:x", "payload": null}),
            "reserved_topic",
        ),
        (
            json!({"peer_id": "nope", "topic": "app", "payload": null}),
            "invalid_peer_id",
        ),
        (
            json!({"peer_id": peer, "topic": "a b", "payload": null}),
            "invalid_topic",
        ),
        (
            json!({"peer_id": peer, "topic": "chat", "payload": {"content": 5}}),
            "invalid_content",
        ),
        (json!({"topic": "app"}), "invalid_field"),
    ];

    for (body, code) in cases {
        let (status, answer) = post(&a.peer, "/api/mq/send", body.clone()).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some(code)),
            "{body}"
        );
    }
    a.peer.shutdown().await;
}

#[tokio::test]
async fn mq_send_answers_502_when_unreachable_and_504_when_never_acked() {
    let a = start("alice").await;
    let (status, body) = post(
        &a.peer,
        "/api/mq/send",
        json!({"peer_id": random_peer().to_base58(), "topic": "app", "payload": 1}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (502, Some("unreachable"))
    );

    let raw = Raw::connect(&a.peer).await;
    let mut silent = raw.control.clone().accept(crate::mq::PROTOCOL).unwrap();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Some(stream) = silent.next().await {
            held.push(stream);
        }
    });
    let started = std::time::Instant::now();
    let (status, body) = post(
        &a.peer,
        "/api/mq/send",
        json!({"peer_id": raw.id.to_base58(), "topic": "app", "payload": 1}),
    )
    .await;

    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (504, Some("timeout"))
    );
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "{:?}",
        started.elapsed()
    );
    holder.abort();
    a.peer.shutdown().await;
}

#[tokio::test]
async fn chat_routes_send_list_and_clear_history_and_mq_send_of_chat_is_chat() {
    let (a, b) = pair().await;
    let bob = b.peer.peer_id().to_base58();
    for (route, text) in [("chat", "one"), ("chat", "two"), ("mq", "three")] {
        let body = match route {
            "chat" => json!({"peer_id": bob, "content": text}),
            _ => json!({"peer_id": bob, "topic": "chat", "payload": {"content": text}}),
        };
        let (status, body) = post(&a.peer, &format!("/api/{route}/send"), body).await;
        assert_eq!(status, 200, "{body}");
        assert!(body["msg_id"].is_string());
    }
    let history = |query: String| {
        call(
            reqwest::Method::GET,
            url(&a.peer, &format!("/api/chat/history?{query}")),
        )
    };

    let all = history(format!("peer_id={bob}")).await;
    let texts: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["one", "two", "three"]);
    assert_eq!(all[0]["from"], a.peer.peer_id().to_base58());
    assert!(all[0]["id"].is_i64() && all[0]["timestamp"].is_i64());
    let newest = history(format!("peer_id={bob}&limit=1")).await;
    assert_eq!(newest[0]["content"], "three");

    let cleared = call(
        reqwest::Method::DELETE,
        url(&a.peer, &format!("/api/chat/history?peer_id={bob}")),
    )
    .await;
    assert_eq!(cleared, json!({"ok": true, "deleted": 3}));
    assert_eq!(history(format!("peer_id={bob}")).await, json!([]));
    a.peer.shutdown().await;
    b.peer.shutdown().await;
}

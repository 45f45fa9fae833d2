//! Presence over HTTP, WebSocket and SSE (hub.md §5, §18 checks 1–8).

use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use hub::config::JoinMode;
use libp2p::identity::ed25519::Keypair;
use serde_json::{Value, json};
use shared::ids::Ed25519PeerId;
use testkit::{TestDb, TestHub, signed_headers};
use tokio_tungstenite::tungstenite::Message;

const DEADLINE: Duration = Duration::from_secs(10);

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A peer with its own key.
struct Peer {
    key: Keypair,
    id: Ed25519PeerId,
}

impl Peer {
    fn new() -> Self {
        let key = Keypair::generate();
        let id = key.public().into();
        Self { key, id }
    }

    fn msg(&self, kind: &str, content: &str) -> Value {
        json!({"type": kind, "peerId": self.id.to_string(), "content": content})
    }
}

async fn open_hub(adjust: impl FnOnce(&mut hub::Config)) -> TestHub {
    TestHub::spawn_with(&TestDb::sqlite(), |config| {
        config.membership.join_mode = JoinMode::Open;
        adjust(config);
    })
    .await
}

fn hub_id(hub: &TestHub) -> Ed25519PeerId {
    hub.server().peer_id().try_into().unwrap()
}

async fn publish_signed(hub: &TestHub, peer: &Peer, msg: &Value) -> reqwest::Response {
    let body = msg.to_string();
    let mut request = hub.client.post(hub.url("/publish")).body(body.clone());
    for (name, value) in
        signed_headers(&peer.key, &hub_id(hub), "POST", "/publish", body.as_bytes())
    {
        request = request.header(name, value);
    }
    request.send().await.unwrap()
}

async fn publish_unsigned(hub: &TestHub, msg: &Value) -> reqwest::Response {
    hub.client
        .post(hub.url("/publish"))
        .body(msg.to_string())
        .send()
        .await
        .unwrap()
}

fn ws_url(hub: &TestHub, query: &str) -> String {
    format!("{}/ws?{query}", hub.base_url.replacen("http", "ws", 1))
}

/// Reads the v2 challenge and answers it with `peer`'s key.
async fn answer_challenge(ws: &mut Ws, peer: &Peer) {
    let challenge = next_json(ws).await;
    let input = format!(
        "goop-ws-v1\n{}\n{}\n{}",
        challenge["hubId"].as_str().unwrap(),
        challenge["nonce"].as_str().unwrap(),
        peer.id
    );
    let sig = shared::signing::sign_b64u(&peer.key, input.as_bytes());
    let auth = json!({"type": "auth", "peerId": peer.id.to_string(), "nonce": challenge["nonce"], "sig": sig});
    ws.send(Message::Text(auth.to_string().into()))
        .await
        .unwrap();
}

/// Opens a v2 session for `peer` and completes the key challenge; returns the socket after
/// `snapshot-end` and the snapshot's frames.
async fn open_v2(hub: &TestHub, peer: &Peer) -> (Ws, Vec<Value>) {
    let (mut ws, _) =
        tokio_tungstenite::connect_async(ws_url(hub, &format!("peer_id={}&v=2", peer.id)))
            .await
            .unwrap();
    answer_challenge(&mut ws, peer).await;
    assert_eq!(next_json(&mut ws).await["type"], "auth-ok");
    let mut snapshot = Vec::new();
    loop {
        let frame = next_json(&mut ws).await;
        if frame["type"] == "snapshot-end" {
            assert_eq!(frame["count"], snapshot.len());
            return (ws, snapshot);
        }
        snapshot.push(frame);
    }
}

/// The next text frame as JSON, skipping pings.
async fn next_json(ws: &mut Ws) -> Value {
    match next_text_or_close(ws, DEADLINE).await {
        Ok(text) => serde_json::from_str(&text).unwrap(),
        Err(close) => panic!("socket closed: {close:?}"),
    }
}

async fn next_text_or_close(
    ws: &mut Ws,
    deadline: Duration,
) -> Result<String, Option<(u16, String)>> {
    tokio::time::timeout(deadline, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => return Ok(text.to_string()),
                Some(Ok(Message::Close(frame))) => {
                    return Err(frame.map(|f| (u16::from(f.code), f.reason.to_string())));
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return Err(None),
            }
        }
    })
    .await
    .expect("a frame in time")
}

/// The close frame of a socket, skipping everything before it.
async fn close_of(ws: &mut Ws) -> (u16, String) {
    loop {
        match next_text_or_close(ws, DEADLINE).await {
            Ok(_) => {}
            Err(close) => return close.expect("a close frame"),
        }
    }
}

/// Collects SSE `data:` payloads from a streaming response.
struct Sse {
    body: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buffer: String,
}

impl Sse {
    async fn open(
        hub: &TestHub,
        path: &str,
        headers: &[(&str, String)],
    ) -> reqwest::Result<(reqwest::StatusCode, Self)> {
        let mut request = hub.client.get(hub.url(path));
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await?;
        let status = response.status();
        Ok((
            status,
            Self {
                body: Box::pin(response.bytes_stream()),
                buffer: String::new(),
            },
        ))
    }

    /// The next event's data, or `None` when the stream ended.
    async fn next(&mut self) -> Option<Value> {
        tokio::time::timeout(DEADLINE, async {
            loop {
                while let Some(end) = self.buffer.find("\n\n") {
                    let event: String = self.buffer.drain(..end + 2).collect();
                    if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: "))
                        && !event.contains("event: snapshot-end")
                    {
                        return Some(serde_json::from_str(data).unwrap());
                    }
                }
                match self.body.next().await {
                    Some(Ok(chunk)) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                    _ => return None,
                }
            }
        })
        .await
        .expect("an SSE event in time")
    }
}

#[tokio::test]
async fn signed_publish_reaches_ws_and_sse_subscribers() {
    let hub = open_hub(|_| {}).await;
    let (alice, bob) = (Peer::new(), Peer::new());
    let (mut ws, _) = open_v2(&hub, &bob).await;
    let headers = signed_headers(&bob.key, &hub_id(&hub), "GET", "/events?v=2", b"");
    let (status, mut sse) = Sse::open(&hub, "/events?v=2", &headers).await.unwrap();

    let response = publish_signed(&hub, &alice, &alice.msg("online", "Alice")).await;

    assert_eq!(status, 200);
    assert_eq!(response.status(), 204);
    let via_ws = next_json(&mut ws).await;
    let via_sse = sse.next().await.unwrap();
    for frame in [via_ws, via_sse] {
        assert_eq!(frame["type"], "online");
        assert_eq!(frame["peerId"], alice.id.to_string());
        assert_eq!(frame["content"], "Alice");
    }
}

#[tokio::test]
async fn unsigned_publish_is_refused_when_unsigned_is_not_allowed() {
    let hub = open_hub(|_| {}).await;
    let peer = Peer::new();

    let publish = publish_unsigned(&hub, &peer.msg("online", "x")).await;
    let v1 = tokio_tungstenite::connect_async(ws_url(&hub, &format!("peer_id={}", peer.id))).await;

    assert_eq!(publish.status(), 401);
    assert_eq!(
        publish.json::<Value>().await.unwrap()["error"]["code"],
        "signature_required"
    );
    match v1 {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        other => panic!("v1 upgrade should be refused with 403, got {other:?}"),
    }
}

#[tokio::test]
async fn impersonation_is_refused_when_signer_or_signature_does_not_match() {
    let hub = open_hub(|c| c.presence.allow_unsigned = true).await;
    let (alice, mallory) = (Peer::new(), Peer::new());
    publish_signed(&hub, &alice, &alice.msg("online", "Alice")).await;

    let body = alice.msg("update", "pwned").to_string();
    let mut as_alice = hub.client.post(hub.url("/publish")).body(body.clone());
    for (name, value) in signed_headers(
        &mallory.key,
        &hub_id(&hub),
        "POST",
        "/publish",
        body.as_bytes(),
    ) {
        as_alice = as_alice.header(name, value);
    }
    let mismatch = as_alice.send().await.unwrap();
    let mut forged = hub.client.post(hub.url("/publish")).body(body.clone());
    for (name, value) in signed_headers(&alice.key, &hub_id(&hub), "POST", "/publish", b"{}") {
        forged = forged.header(name, value);
    }
    let bad_signature = forged.send().await.unwrap();
    let unsigned_over_signed = publish_unsigned(&hub, &alice.msg("update", "pwned")).await;

    assert_eq!(mismatch.status(), 400);
    assert_eq!(
        mismatch.json::<Value>().await.unwrap()["error"]["code"],
        "peer_id_mismatch"
    );
    assert_eq!(bad_signature.status(), 401);
    assert_eq!(
        bad_signature.json::<Value>().await.unwrap()["error"]["code"],
        "bad_signature"
    );
    assert_eq!(unsigned_over_signed.status(), 401);
    assert_eq!(
        unsigned_over_signed.json::<Value>().await.unwrap()["error"]["code"],
        "signature_required"
    );
}

#[tokio::test]
async fn legacy_ws_needs_a_publish_first_then_snapshots_the_peer_itself() {
    let hub = open_hub(|c| c.presence.allow_unsigned = true).await;
    let peer = Peer::new();
    let url = ws_url(&hub, &format!("peer_id={}", peer.id));

    let early = tokio_tungstenite::connect_async(&url).await;
    publish_unsigned(&hub, &peer.msg("online", "goop2")).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();

    match early {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 425)
        }
        other => panic!("expected 425, got {other:?}"),
    }
    let snapshot = next_json(&mut ws).await;
    assert_eq!(snapshot["type"], "online");
    assert_eq!(snapshot["peerId"], peer.id.to_string());
}

#[tokio::test]
async fn v2_ws_closes_with_4001_when_nonce_is_wrong() {
    let hub = open_hub(|_| {}).await;
    let peer = Peer::new();
    let (mut ws, _) =
        tokio_tungstenite::connect_async(ws_url(&hub, &format!("peer_id={}&v=2", peer.id)))
            .await
            .unwrap();
    let challenge = next_json(&mut ws).await;
    let input = format!(
        "goop-ws-v1\n{}\nwrong\n{}",
        challenge["hubId"].as_str().unwrap(),
        peer.id
    );
    let sig = shared::signing::sign_b64u(&peer.key, input.as_bytes());

    let auth = json!({"type": "auth", "peerId": peer.id.to_string(), "nonce": "wrong", "sig": sig});
    ws.send(Message::Text(auth.to_string().into()))
        .await
        .unwrap();

    assert_eq!(close_of(&mut ws).await, (4001, "auth-failed".to_owned()));
}

#[tokio::test]
async fn v2_ws_closes_with_4002_when_no_auth_arrives_in_time() {
    let hub = open_hub(|c| c.presence.ws_auth_timeout = Duration::from_secs(1)).await;
    let peer = Peer::new();

    let (mut ws, _) =
        tokio_tungstenite::connect_async(ws_url(&hub, &format!("peer_id={}&v=2", peer.id)))
            .await
            .unwrap();

    assert_eq!(close_of(&mut ws).await, (4002, "auth-timeout".to_owned()));
}

#[tokio::test]
async fn v2_ws_closes_with_4003_when_peer_is_not_a_member() {
    let hub = TestHub::spawn_with(&TestDb::sqlite(), |c| {
        c.membership.join_mode = JoinMode::Email
    })
    .await;
    let peer = Peer::new();
    let (mut ws, _) =
        tokio_tungstenite::connect_async(ws_url(&hub, &format!("peer_id={}&v=2", peer.id)))
            .await
            .unwrap();

    answer_challenge(&mut ws, &peer).await;

    assert_eq!(close_of(&mut ws).await, (4003, "not_member".to_owned()));
}

#[tokio::test]
async fn unchanged_updates_fan_out_nothing_and_a_change_exactly_one_frame() {
    let hub = open_hub(|c| {
        c.rate_limits.publish_peer = hub::config::RateLimit {
            burst: 100,
            refill_secs: 1.0,
        }
    })
    .await;
    let (alice, bob, carol) = (Peer::new(), Peer::new(), Peer::new());
    publish_signed(&hub, &alice, &alice.msg("online", "Alice")).await;
    let (mut bob_ws, _) = open_v2(&hub, &bob).await;
    let (mut carol_ws, _) = open_v2(&hub, &carol).await;

    for _ in 0..10 {
        assert_eq!(
            publish_signed(&hub, &alice, &alice.msg("update", "Alice"))
                .await
                .status(),
            204
        );
    }
    publish_signed(&hub, &alice, &alice.msg("update", "Alice B.")).await;

    for ws in [&mut bob_ws, &mut carol_ws] {
        let frame = next_json(ws).await;
        assert_eq!(
            (frame["type"].as_str(), frame["content"].as_str()),
            (Some("update"), Some("Alice B."))
        );
    }
}

#[tokio::test]
async fn legacy_subscriber_receives_a_refresh_of_every_live_peer() {
    let hub = open_hub(|c| {
        c.presence.allow_unsigned = true;
        c.presence.legacy_refresh = Duration::from_secs(1);
    })
    .await;
    let (alice, legacy) = (Peer::new(), Peer::new());
    publish_signed(&hub, &alice, &alice.msg("online", "Alice")).await;
    publish_unsigned(&hub, &legacy.msg("online", "goop2")).await;
    let (mut ws, _) =
        tokio_tungstenite::connect_async(ws_url(&hub, &format!("peer_id={}", legacy.id)))
            .await
            .unwrap();
    let _snapshot = (next_json(&mut ws).await, next_json(&mut ws).await);

    let refresh = loop {
        let frame = next_json(&mut ws).await;
        if frame["peerId"] == alice.id.to_string() {
            break frame;
        }
    };

    assert_eq!(refresh["type"], "update");
    assert_eq!(refresh["content"], "Alice");
}

#[tokio::test]
async fn email_reaches_admin_stream_but_never_a_participant() {
    let hub = open_hub(|c| c.admin.token = Some("admin-secret".to_owned().into())).await;
    let (alice, bob) = (Peer::new(), Peer::new());
    let (status, mut admin) = Sse::open(
        &hub,
        "/events",
        &[("authorization", "Bearer admin-secret".to_owned())],
    )
    .await
    .unwrap();
    let (mut bob_ws, _) = open_v2(&hub, &bob).await;

    let mut msg = alice.msg("online", "Alice");
    msg["email"] = json!("alice@example.org");
    publish_signed(&hub, &alice, &msg).await;

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

#[tokio::test]
async fn replacing_a_session_emits_no_offline_and_closing_the_last_emits_one() {
    let hub = open_hub(|_| {}).await;
    let (alice, watcher) = (Peer::new(), Peer::new());
    let (mut watch, _) = open_v2(&hub, &watcher).await;
    let (mut first, _) = open_v2(&hub, &alice).await;
    first
        .send(Message::Text(
            alice.msg("online", "Alice").to_string().into(),
        ))
        .await
        .unwrap();
    assert_eq!(next_json(&mut watch).await["type"], "online");

    let (mut second, _) = open_v2(&hub, &alice).await;
    let replaced = close_of(&mut first).await;
    second.close(None).await.unwrap();
    let after = next_json(&mut watch).await;

    assert_eq!(replaced, (4000, "replaced".to_owned()));
    assert_eq!(
        after["type"], "offline",
        "the replacement must not have emitted anything first: {after}"
    );
    assert_eq!(after["peerId"], alice.id.to_string());
    assert_eq!(
        after.as_object().unwrap().len(),
        3,
        "offline carries only type, peerId, ts: {after}"
    );
}

#[tokio::test]
async fn peer_goes_offline_when_its_ttl_expires() {
    let hub = open_hub(|c| {
        c.presence.peer_ttl = Duration::from_secs(1);
        c.presence.sweep_interval = Duration::from_secs(1);
    })
    .await;
    let (alice, bob) = (Peer::new(), Peer::new());
    let (mut ws, _) = open_v2(&hub, &bob).await;
    publish_signed(&hub, &alice, &alice.msg("online", "Alice")).await;
    assert_eq!(next_json(&mut ws).await["type"], "online");

    let offline = next_json(&mut ws).await;

    assert_eq!(offline["type"], "offline");
    assert_eq!(offline["peerId"], alice.id.to_string());
}

#[tokio::test]
async fn shutdown_emits_offline_for_every_live_peer_before_closing() {
    let hub = open_hub(|_| {}).await;
    let (alice, carol, bob) = (Peer::new(), Peer::new(), Peer::new());
    publish_signed(&hub, &alice, &alice.msg("online", "Alice")).await;
    publish_signed(&hub, &carol, &carol.msg("online", "Carol")).await;
    let (mut ws, snapshot) = open_v2(&hub, &bob).await;
    assert_eq!(snapshot.len(), 2);

    let stop = tokio::spawn(hub.shutdown());
    let mut offline = Vec::new();
    let close = loop {
        match next_text_or_close(&mut ws, DEADLINE).await {
            Ok(text) => offline.push(serde_json::from_str::<Value>(&text).unwrap()),
            Err(close) => break close,
        }
    };
    stop.await.unwrap();

    let mut ids: Vec<String> = offline
        .iter()
        .filter(|f| f["type"] == "offline")
        .map(|f| f["peerId"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    let mut expected = vec![alice.id.to_string(), carol.id.to_string()];
    expected.sort();
    assert_eq!(ids, expected);
    assert_eq!(close.map(|c| c.0), Some(1001));
}

#[tokio::test]
async fn malformed_and_oversized_publishes_are_refused_and_change_nothing() {
    let hub = open_hub(|c| c.presence.allow_unsigned = true).await;
    let peer = Peer::new();
    let post = |body: Vec<u8>| hub.client.post(hub.url("/publish")).body(body).send();

    let not_json = post(b"{not json".to_vec()).await.unwrap();
    let bad_type = post(peer.msg("dance", "x").to_string().into_bytes())
        .await
        .unwrap();
    let huge = post(vec![b' '; 64 * 1024 + 1]).await.unwrap();
    let rsa = post(
        json!({"type": "online", "peerId": "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"})
            .to_string()
            .into_bytes(),
    )
    .await
    .unwrap();

    assert_eq!(not_json.status(), 400);
    assert_eq!(
        not_json.json::<Value>().await.unwrap()["error"]["code"],
        "invalid_json"
    );
    assert_eq!(bad_type.status(), 400);
    assert_eq!(
        bad_type.json::<Value>().await.unwrap()["error"]["field"],
        "type"
    );
    assert_eq!(huge.status(), 413);
    assert_eq!(
        huge.json::<Value>().await.unwrap()["error"]["code"],
        "payload_too_large"
    );
    assert_eq!(
        rsa.json::<Value>().await.unwrap()["error"]["code"],
        "unsupported_peer_id"
    );
    let metrics_addr = hub.server().metrics_addr().unwrap();
    let metrics = hub
        .client
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("hub_presence_peers 0"), "{metrics}");
}

#[tokio::test]
async fn publish_flood_from_one_ip_gets_429_with_retry_after() {
    let hub = open_hub(|c| {
        c.presence.allow_unsigned = true;
        c.rate_limits.publish_ip = hub::config::RateLimit {
            burst: 3,
            refill_secs: 60.0,
        };
    })
    .await;
    let peer = Peer::new();

    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..4 {
        let response = publish_unsigned(&hub, &peer.msg("update", "x")).await;
        statuses.push(response.status().as_u16());
        retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
    }

    assert_eq!(statuses, [204, 204, 204, 429]);
    assert_eq!(retry_after.as_deref(), Some("60"));
}

#[tokio::test]
async fn ws_session_is_closed_with_4009_after_ten_bad_frames() {
    let hub = open_hub(|_| {}).await;
    let peer = Peer::new();
    let (mut ws, _) = open_v2(&hub, &peer).await;

    for _ in 0..10 {
        ws.send(Message::Text("{garbage".into())).await.unwrap();
    }

    assert_eq!(close_of(&mut ws).await, (4009, "bad-frames".to_owned()));
}

#[tokio::test]
async fn ws_frame_naming_another_peer_is_dropped() {
    let hub = open_hub(|_| {}).await;
    let (alice, victim, watcher) = (Peer::new(), Peer::new(), Peer::new());
    let (mut watch, _) = open_v2(&hub, &watcher).await;
    let (mut ws, _) = open_v2(&hub, &alice).await;

    ws.send(Message::Text(
        victim.msg("online", "fake").to_string().into(),
    ))
    .await
    .unwrap();
    ws.send(Message::Text(
        alice.msg("online", "real").to_string().into(),
    ))
    .await
    .unwrap();

    let frame = next_json(&mut watch).await;
    assert_eq!(frame["peerId"], alice.id.to_string());
    assert_eq!(frame["content"], "real");
}

#[tokio::test]
async fn probe_upgrades_then_closes_with_probe_ok() {
    let hub = open_hub(|_| {}).await;

    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url(&hub, "probe=1"))
        .await
        .unwrap();

    assert_eq!(close_of(&mut ws).await, (1000, "probe-ok".to_owned()));
}

#[tokio::test]
async fn relay_endpoint_describes_the_relay_in_goop2_keys() {
    let hub = open_hub(|_| {}).await;

    let relay: Value = hub.get("/relay").await.json().await.unwrap();
    let caps: Value = hub.get("/api/capabilities").await.json().await.unwrap();

    let keys: Vec<&str> = relay
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 7);
    for key in [
        "peer_id",
        "addrs",
        "cleanup_delay_sec",
        "poll_deadline_sec",
        "connect_timeout_sec",
        "refresh_interval_sec",
        "recovery_grace_sec",
    ] {
        assert!(relay.get(key).is_some(), "{key} missing from {relay}");
    }
    assert_eq!(relay["peer_id"], hub.server().peer_id().to_string());
    assert!(
        relay["addrs"][0]
            .as_str()
            .unwrap()
            .ends_with(&format!("/p2p/{}", hub.server().peer_id()))
    );
    assert!(
        caps.as_object().unwrap().values().all(Value::is_boolean),
        "{caps}"
    );
    assert_eq!(caps["relay"], true);
    assert_eq!(caps["registration"], false);
}

#[tokio::test]
async fn relay_endpoint_answers_404_when_relay_is_disabled() {
    let hub = open_hub(|c| c.relay.enabled = false).await;

    let response = hub.get("/relay").await;

    assert_eq!(response.status(), 404);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["code"],
        "relay_disabled"
    );
}

#[tokio::test]
async fn revoked_peer_goes_offline_and_its_session_closes_with_4003() {
    let hub = open_hub(|_| {}).await;
    let (alice, watcher) = (Peer::new(), Peer::new());
    let (mut watch, _) = open_v2(&hub, &watcher).await;
    let (mut ws, _) = open_v2(&hub, &alice).await;
    ws.send(Message::Text(
        alice.msg("online", "Alice").to_string().into(),
    ))
    .await
    .unwrap();
    assert_eq!(next_json(&mut watch).await["type"], "online");

    hub.server()
        .set_rights(alice.id.peer_id(), hub::Rights::NONE, "banned")
        .await;

    assert_eq!(close_of(&mut ws).await.0, 4003);
    let offline = next_json(&mut watch).await;
    assert_eq!(
        (offline["type"].as_str(), offline["peerId"].as_str()),
        (Some("offline"), Some(alice.id.to_string().as_str()))
    );
}

fn sign_at(
    peer: &Peer,
    audience: &Ed25519PeerId,
    ts: i64,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    let input =
        shared::signing::request_signing_input(audience, &ts.to_string(), "POST", "/publish", body);
    vec![
        ("x-goop-peer-id", peer.id.to_string()),
        ("x-goop-timestamp", ts.to_string()),
        (
            "x-goop-signature",
            shared::signing::sign_b64u(&peer.key, &input),
        ),
    ]
}

#[tokio::test]
async fn peer_sig_accepts_once_and_refuses_tampered_stale_and_replayed_requests() {
    let hub = open_hub(|_| {}).await;
    let peer = Peer::new();
    let body = peer.msg("online", "x").to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let send = |headers: Vec<(&'static str, String)>, body: String| {
        let mut request = hub.client.post(hub.url("/publish")).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send()
    };
    let code = |response: reqwest::Response| async move {
        response.json::<Value>().await.unwrap()["error"]["code"].clone()
    };

    let fresh = sign_at(&peer, &hub_id(&hub), now, body.as_bytes());
    let accepted = send(fresh.clone(), body.clone()).await.unwrap();
    let replayed = send(fresh, body.clone()).await.unwrap();
    let flipped = send(
        sign_at(&peer, &hub_id(&hub), now + 1, body.as_bytes()),
        body.replacen('x', "y", 1),
    )
    .await
    .unwrap();
    let stale = send(
        sign_at(&peer, &hub_id(&hub), now - 61_000, body.as_bytes()),
        body.clone(),
    )
    .await
    .unwrap();

    assert_eq!(accepted.status(), 204);
    assert_eq!(replayed.status(), 401);
    assert_eq!(code(replayed).await, "replayed");
    assert_eq!(flipped.status(), 401);
    assert_eq!(code(flipped).await, "bad_signature");
    assert_eq!(stale.status(), 401);
    assert_eq!(code(stale).await, "stale_timestamp");
}

#[tokio::test]
async fn address_change_sends_punch_hints_to_both_peers_of_a_pair_only() {
    let hub = open_hub(|_| {}).await;
    let (alice, bob, carol) = (Peer::new(), Peer::new(), Peer::new());
    let (mut bob_ws, _) = open_v2(&hub, &bob).await;
    let mut bob_online = bob.msg("online", "Bob");
    bob_online["addrs"] = json!(["/ip4/192.0.2.2/tcp/4001"]);
    bob_ws
        .send(Message::Text(bob_online.to_string().into()))
        .await
        .unwrap();
    let (mut carol_ws, _) = open_v2(&hub, &carol).await;
    let (mut alice_ws, _) = open_v2(&hub, &alice).await;

    let mut alice_online = alice.msg("online", "Alice");
    alice_online["addrs"] = json!(["/ip4/192.0.2.1/tcp/4001"]);
    alice_ws
        .send(Message::Text(alice_online.to_string().into()))
        .await
        .unwrap();

    let to_bob = loop {
        let frame = next_json(&mut bob_ws).await;
        if frame["type"] == "punch" {
            break frame;
        }
    };
    let to_alice = loop {
        let frame = next_json(&mut alice_ws).await;
        if frame["type"] == "punch" {
            break frame;
        }
    };
    assert_eq!(to_bob["peerId"], alice.id.to_string());
    assert_eq!(to_bob["target"], bob.id.to_string());
    assert_eq!(to_bob["addrs"], json!(["/ip4/192.0.2.1/tcp/4001"]));
    assert_eq!(to_alice["peerId"], bob.id.to_string());
    assert_eq!(to_alice["target"], alice.id.to_string());
    let carol_saw = next_json(&mut carol_ws).await;
    assert_ne!(
        carol_saw["type"], "punch",
        "carol has no addresses and is not part of the pair"
    );
}

#[tokio::test]
async fn encryption_key_is_served_to_participants_and_hidden_from_the_public() {
    let hub = open_hub(|c| c.presence.public_read = true).await;
    let (alice, bob) = (Peer::new(), Peer::new());
    let mut msg = alice.msg("online", "Alice");
    msg["publicKey"] = json!("c2VjcmV0LWJ1dC1wdWJsaWM");
    publish_signed(&hub, &alice, &msg).await;
    let path = format!("/api/encryption/keys/{}", alice.id);

    let mut as_bob = hub.client.get(hub.url(&path));
    for (name, value) in signed_headers(&bob.key, &hub_id(&hub), "GET", &path, b"") {
        as_bob = as_bob.header(name, value);
    }
    let participant = as_bob.send().await.unwrap();
    let public = hub.get(&path).await;
    let unknown = hub
        .get(&format!("/api/encryption/keys/{}", Peer::new().id))
        .await;

    assert_eq!(participant.status(), 200);
    assert_eq!(
        participant.json::<Value>().await.unwrap()["public_key"],
        "c2VjcmV0LWJ1dC1wdWJsaWM"
    );
    assert_eq!(public.status(), 404);
    assert_eq!(unknown.status(), 404);
}

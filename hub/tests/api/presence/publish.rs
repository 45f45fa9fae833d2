//! `POST /publish` (hub.md §5.1–5.3): signed and unsigned publishes, PeerSig checks, refusals,
//! limits, fan-out of changes only, and the encryption key a publish carries.

use reqwest::Method;
use serde_json::{Value, json};
use shared::ids::Ed25519PeerId;
use testkit::ws::{self, next_json};
use testkit::{TestPeer, signed_headers};

use super::{Sse, open_hub, publish_unsigned};

#[tokio::test]
async fn signed_publish_reaches_ws_and_sse_subscribers() {
    let hub = open_hub(|_| {}).await;
    let (alice, bob) = (TestPeer::new(), TestPeer::new());
    let (mut ws, _) = bob.open_v2(&hub).await;
    let headers = signed_headers(&bob.key, &hub.hub_id(), "GET", "/events?v=2", b"");
    let (status, mut sse) = Sse::open(&hub, "/events?v=2", &headers).await.unwrap();

    let response = alice.publish(&hub, &alice.msg("online", "Alice")).await;

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
    let peer = TestPeer::new();

    let publish = publish_unsigned(&hub, &peer.msg("online", "x")).await;
    let v1 = tokio_tungstenite::connect_async(ws::url(&hub, &format!("peer_id={}", peer.id))).await;

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
    let (alice, mallory) = (TestPeer::new(), TestPeer::new());
    alice.publish(&hub, &alice.msg("online", "Alice")).await;

    let body = alice.msg("update", "pwned").to_string();
    let mismatch = hub
        .signed(
            &mallory,
            Method::POST,
            "/publish",
            body.clone().into_bytes(),
        )
        .send()
        .await
        .unwrap();
    let mut forged = hub.client.post(hub.url("/publish")).body(body.clone());
    for (name, value) in signed_headers(&alice.key, &hub.hub_id(), "POST", "/publish", b"{}") {
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
async fn unchanged_updates_fan_out_nothing_and_a_change_exactly_one_frame() {
    let hub = open_hub(|c| {
        c.rate_limits.publish_peer = hub::config::RateLimit {
            burst: 100,
            refill_secs: 1.0,
        }
    })
    .await;
    let (alice, bob, carol) = (TestPeer::new(), TestPeer::new(), TestPeer::new());
    alice.publish(&hub, &alice.msg("online", "Alice")).await;
    let (mut bob_ws, _) = bob.open_v2(&hub).await;
    let (mut carol_ws, _) = carol.open_v2(&hub).await;

    for _ in 0..10 {
        assert_eq!(
            alice
                .publish(&hub, &alice.msg("update", "Alice"))
                .await
                .status(),
            204
        );
    }
    alice.publish(&hub, &alice.msg("update", "Alice B.")).await;

    for ws in [&mut bob_ws, &mut carol_ws] {
        let frame = next_json(ws).await;
        assert_eq!(
            (frame["type"].as_str(), frame["content"].as_str()),
            (Some("update"), Some("Alice B."))
        );
    }
}

#[tokio::test]
async fn malformed_and_oversized_publishes_are_refused_and_change_nothing() {
    let hub = open_hub(|c| c.presence.allow_unsigned = true).await;
    let peer = TestPeer::new();
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
    let metrics = hub.metrics().await;
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
    let peer = TestPeer::new();

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

fn sign_at(
    peer: &TestPeer,
    audience: &Ed25519PeerId,
    ts: i64,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    shared::peer_sig::SignedHeaders::sign(&peer.key, audience, ts, "POST", "/publish", body)
        .into_pairs()
        .into()
}

#[tokio::test]
async fn peer_sig_accepts_once_and_refuses_tampered_stale_and_replayed_requests() {
    let hub = open_hub(|_| {}).await;
    let peer = TestPeer::new();
    let body = peer.msg("online", "x").to_string();
    let now = testkit::now_ms();
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

    let fresh = sign_at(&peer, &hub.hub_id(), now, body.as_bytes());
    let accepted = send(fresh.clone(), body.clone()).await.unwrap();
    let replayed = send(fresh, body.clone()).await.unwrap();
    let flipped = send(
        sign_at(&peer, &hub.hub_id(), now + 1, body.as_bytes()),
        body.replacen('x', "y", 1),
    )
    .await
    .unwrap();
    let stale = send(
        sign_at(&peer, &hub.hub_id(), now - 61_000, body.as_bytes()),
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
async fn encryption_key_is_served_to_participants_and_hidden_from_the_public() {
    let hub = open_hub(|c| c.presence.public_read = true).await;
    let (alice, bob) = (TestPeer::new(), TestPeer::new());
    let mut msg = alice.msg("online", "Alice");
    msg["publicKey"] = json!("c2VjcmV0LWJ1dC1wdWJsaWM");
    alice.publish(&hub, &msg).await;
    let path = format!("/api/encryption/keys/{}", alice.id);

    let participant = hub.get_signed(&path, &bob).await;
    let public = hub.get(&path).await;
    let unknown = hub
        .get(&format!("/api/encryption/keys/{}", TestPeer::new().id))
        .await;

    assert_eq!(participant.status(), 200);
    assert_eq!(
        participant.json::<Value>().await.unwrap()["public_key"],
        "c2VjcmV0LWJ1dC1wdWJsaWM"
    );
    assert_eq!(public.status(), 404);
    assert_eq!(unknown.status(), 404);
}

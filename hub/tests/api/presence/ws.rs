//! WebSocket sessions (hub.md §5.4): the legacy and v2 handshakes and their close codes, frames
//! sent by a session, the legacy refresh, punch hints, the probe, and the slots an upgrade takes.

use futures::SinkExt as _;
use hub::config::JoinMode;
use serde_json::json;
use testkit::ws::{self, close_of, next_json};
use testkit::{TestDb, TestHub, TestPeer};
use tokio_tungstenite::tungstenite::Message;

use super::{open_hub, publish_unsigned};

#[tokio::test]
async fn legacy_ws_needs_a_publish_first_then_snapshots_the_peer_itself() {
    let hub = open_hub(|c| c.presence.allow_unsigned = true).await;
    let peer = TestPeer::new();
    let url = ws::url(&hub, &format!("peer_id={}", peer.id));

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
    let peer = TestPeer::new();
    let mut ws = peer.connect_v2(&hub).await;

    peer.answer_challenge_with_nonce(&mut ws, Some("wrong"))
        .await;

    assert_eq!(close_of(&mut ws).await, (4001, "auth-failed".to_owned()));
}

#[tokio::test]
async fn v2_ws_closes_with_4002_when_no_auth_arrives_in_time() {
    let hub = open_hub(|c| c.presence.ws_auth_timeout = std::time::Duration::from_secs(1)).await;
    let peer = TestPeer::new();

    let mut ws = peer.connect_v2(&hub).await;

    assert_eq!(close_of(&mut ws).await, (4002, "auth-timeout".to_owned()));
}

#[tokio::test]
async fn v2_ws_closes_with_4003_when_peer_is_not_a_member() {
    let hub = TestHub::spawn_with(&TestDb::sqlite(), |c| {
        c.membership.join_mode = JoinMode::Email
    })
    .await;
    let peer = TestPeer::new();
    let mut ws = peer.connect_v2(&hub).await;

    peer.answer_challenge(&mut ws).await;

    assert_eq!(close_of(&mut ws).await, (4003, "not_member".to_owned()));
}

#[tokio::test]
async fn legacy_subscriber_receives_a_refresh_of_every_live_peer() {
    let hub = open_hub(|c| {
        c.presence.allow_unsigned = true;
        c.presence.legacy_refresh = std::time::Duration::from_secs(1);
    })
    .await;
    let (alice, legacy) = (TestPeer::new(), TestPeer::new());
    alice.publish(&hub, &alice.msg("online", "Alice")).await;
    publish_unsigned(&hub, &legacy.msg("online", "goop2")).await;
    let mut ws = ws::connect(&hub, &format!("peer_id={}", legacy.id)).await;
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
async fn ws_session_is_closed_with_4009_after_ten_bad_frames() {
    let hub = open_hub(|_| {}).await;
    let peer = TestPeer::new();
    let (mut ws, _) = peer.open_v2(&hub).await;

    for _ in 0..10 {
        ws.send(Message::Text("{garbage".into())).await.unwrap();
    }

    assert_eq!(close_of(&mut ws).await, (4009, "bad-frames".to_owned()));
}

#[tokio::test]
async fn ws_frame_naming_another_peer_is_dropped() {
    let hub = open_hub(|_| {}).await;
    let (alice, victim, watcher) = (TestPeer::new(), TestPeer::new(), TestPeer::new());
    let (mut watch, _) = watcher.open_v2(&hub).await;
    let (mut ws, _) = alice.open_v2(&hub).await;

    ws::send_json(&mut ws, &victim.msg("online", "fake")).await;
    ws::send_json(&mut ws, &alice.msg("online", "real")).await;

    let frame = next_json(&mut watch).await;
    assert_eq!(frame["peerId"], alice.id.to_string());
    assert_eq!(frame["content"], "real");
}

#[tokio::test]
async fn probe_upgrades_then_closes_with_probe_ok() {
    let hub = open_hub(|_| {}).await;

    let mut ws = ws::connect(&hub, "probe=1").await;

    assert_eq!(close_of(&mut ws).await, (1000, "probe-ok".to_owned()));
}

#[tokio::test]
async fn address_change_sends_punch_hints_to_both_peers_of_a_pair_only() {
    let hub = open_hub(|_| {}).await;
    let (alice, bob, carol) = (TestPeer::new(), TestPeer::new(), TestPeer::new());
    let (mut bob_ws, _) = bob.open_v2(&hub).await;
    let mut bob_online = bob.msg("online", "Bob");
    bob_online["addrs"] = json!(["/ip4/192.0.2.2/tcp/4001"]);
    ws::send_json(&mut bob_ws, &bob_online).await;
    let (mut carol_ws, _) = carol.open_v2(&hub).await;
    let (mut alice_ws, _) = alice.open_v2(&hub).await;

    let mut alice_online = alice.msg("online", "Alice");
    alice_online["addrs"] = json!(["/ip4/192.0.2.1/tcp/4001"]);
    ws::send_json(&mut alice_ws, &alice_online).await;

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

/// The status of a refused upgrade of `/ws?query`, `None` when the hub upgrades (the socket is
/// kept in `open` so its slot stays taken).
async fn refusal_of(
    hub: &TestHub,
    query: &str,
    open: &mut Vec<ws::Ws>,
) -> Option<reqwest::StatusCode> {
    match tokio_tungstenite::connect_async(ws::url(hub, query)).await {
        Ok((socket, _)) => {
            open.push(socket);
            None
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Some(reqwest::StatusCode::from_u16(response.status().as_u16()).unwrap())
        }
        Err(other) => panic!("the upgrade neither succeeded nor got a status: {other}"),
    }
}

#[tokio::test]
async fn upgrade_beyond_the_pending_cap_gets_429_until_an_unauthenticated_socket_drops() {
    let hub = open_hub(|c| c.presence.ws_max_pending_per_ip = 2).await;
    let query = format!("peer_id={}&v=2", TestPeer::new().id);
    let mut open = Vec::new();
    for _ in 0..2 {
        assert_eq!(refusal_of(&hub, &query, &mut open).await, None);
    }

    let extra = refusal_of(&hub, &query, &mut open).await;
    drop(open.pop());

    assert_eq!(extra, Some(reqwest::StatusCode::TOO_MANY_REQUESTS));
    testkit::eventually(ws::DEADLINE, "the dropped socket's slot", || async {
        refusal_of(&hub, &query, &mut Vec::new())
            .await
            .is_none()
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn upgrade_beyond_the_per_ip_cap_gets_429_when_earlier_sockets_are_still_authenticating() {
    let hub = open_hub(|c| c.presence.ws_max_per_ip = 2).await;
    let (alice, bob) = (TestPeer::new(), TestPeer::new());
    let (_session, _) = alice.open_v2(&hub).await;
    let _authenticating = alice.connect_v2(&hub).await;

    let extra = refusal_of(&hub, &format!("peer_id={}&v=2", bob.id), &mut Vec::new()).await;

    assert_eq!(extra, Some(reqwest::StatusCode::TOO_MANY_REQUESTS));
}

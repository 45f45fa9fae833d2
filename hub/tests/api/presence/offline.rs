//! When a peer goes offline (hub.md §5.8): session replacement and close, TTL expiry,
//! revocation and hub shutdown.

use serde_json::Value;
use testkit::TestPeer;
use testkit::ws::{self, close_of, next_json, next_text_or_close};

use super::{DEADLINE, open_hub};

#[tokio::test]
async fn replacing_a_session_emits_no_offline_and_closing_the_last_emits_one() {
    let hub = open_hub(|_| {}).await;
    let (alice, watcher) = (TestPeer::new(), TestPeer::new());
    let (mut watch, _) = watcher.open_v2(&hub).await;
    let (mut first, _) = alice.open_v2(&hub).await;
    ws::send_json(&mut first, &alice.msg("online", "Alice")).await;
    assert_eq!(next_json(&mut watch).await["type"], "online");

    let (mut second, _) = alice.open_v2(&hub).await;
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
        c.presence.peer_ttl = std::time::Duration::from_secs(1);
        c.presence.sweep_interval = std::time::Duration::from_secs(1);
    })
    .await;
    let (alice, bob) = (TestPeer::new(), TestPeer::new());
    let (mut ws, _) = bob.open_v2(&hub).await;
    alice.publish(&hub, &alice.msg("online", "Alice")).await;
    assert_eq!(next_json(&mut ws).await["type"], "online");

    let offline = next_json(&mut ws).await;

    assert_eq!(offline["type"], "offline");
    assert_eq!(offline["peerId"], alice.id.to_string());
}

#[tokio::test]
async fn shutdown_emits_offline_for_every_live_peer_before_closing() {
    let hub = open_hub(|_| {}).await;
    let (alice, carol, bob) = (TestPeer::new(), TestPeer::new(), TestPeer::new());
    alice.publish(&hub, &alice.msg("online", "Alice")).await;
    carol.publish(&hub, &carol.msg("online", "Carol")).await;
    let (mut ws, snapshot) = bob.open_v2(&hub).await;
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
async fn revoked_peer_goes_offline_and_its_session_closes_with_4003() {
    let hub = open_hub(|_| {}).await;
    let (alice, watcher) = (TestPeer::new(), TestPeer::new());
    let (mut watch, _) = watcher.open_v2(&hub).await;
    let (mut ws, _) = alice.open_v2(&hub).await;
    ws::send_json(&mut ws, &alice.msg("online", "Alice")).await;
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

//! An unmodified goop2 hub (the [`testkit::Goop2Hub`] double): unsigned publish, WS v1, SSE
//! fallback (peer.md §3.3 legacy table, §15.3 check 6).

use peer::hubs::HubKind;
use serde_json::json;
use testkit::Goop2Hub;

use super::{DEADLINE, hub_view, start_peer, url};

fn goop2_peer() -> (String, serde_json::Value) {
    let id =
        shared::ids::Ed25519PeerId::from(libp2p::identity::ed25519::Keypair::generate().public());
    let msg = json!({"type": "online", "peerId": id.to_string(), "content": "goop2 peer",
        "addrs": ["/ip4/192.168.1.20/tcp/4001"]});
    (id.to_string(), msg)
}

/// Another goop2 peer publishes at `hub`; `a` sees it online.
async fn sees_an_announced_goop2_peer(hub: &Goop2Hub, a: &peer::Peer) {
    let (other, msg) = goop2_peer();
    hub.announce(&msg);
    let other: libp2p::PeerId = other.parse().unwrap();
    testkit::eventually(DEADLINE, "the announced goop2 peer", || async {
        a.node().peers.get(&other).filter(|p| p.online).map(|_| ())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_hub_gets_an_unsigned_publish_and_a_ws_v1_session() {
    for capabilities in [true, false] {
        let hub = Goop2Hub::start(capabilities, true).await;
        let (a, _d) = start_peer(&[&hub.base_url], |c| {
            c.presence.heartbeat_secs = 1;
            c.presence.ttl_secs = 5;
            c.hubs
                .verification_tokens
                .insert(hub.base_url.clone(), "tok".into());
        })
        .await;
        let h = url(&hub.base_url);

        let view = hub_view(&a, &h, "online", |v| v.state == "online").await;
        sees_an_announced_goop2_peer(&hub, &a).await;
        let log = testkit::eventually(DEADLINE, "a heartbeat over WS", || async {
            let log = hub.log();
            log.ws_frames
                .iter()
                .any(|f| f["type"] == "update")
                .then_some(log)
        })
        .await;

        assert_eq!(view.kind, Some(HubKind::Legacy));
        assert_eq!(view.membership.as_deref(), Some("legacy"));
        assert!(view.relay_allowed && view.relay_entitled);
        let first = &log.publishes[0];
        assert!(!first.signed);
        assert_eq!(first.body["type"], "online");
        assert_eq!(first.body["peerId"], a.peer_id().to_base58());
        assert_eq!(first.body["verificationToken"], "tok");
        assert!(log.publishes.iter().all(|p| !p.signed));
        assert_eq!(log.ws_queries, vec![format!("peer_id={}", a.peer_id())]);
        assert!(log.ws_frames.iter().all(|f| f.get("sig").is_none()));
        a.shutdown().await;
        let log = hub.log();
        assert!(
            log.ws_frames.iter().any(|f| f["type"] == "offline"),
            "offline on shutdown"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_hub_without_websocket_is_followed_over_unsigned_sse() {
    let hub = Goop2Hub::start(true, false).await;
    let (a, _d) = start_peer(&[&hub.base_url], |c| c.presence.heartbeat_secs = 1).await;
    let h = url(&hub.base_url);

    hub_view(&a, &h, "fallback", |v| v.state == "fallback").await;
    sees_an_announced_goop2_peer(&hub, &a).await;
    let log = testkit::eventually(DEADLINE, "publishes while on SSE", || async {
        let log = hub.log();
        (log.publishes.len() >= 2).then_some(log)
    })
    .await;

    assert!(log.sse_requests >= 1);
    assert!(log.ws_queries.is_empty());
    assert!(log.publishes.iter().all(|p| !p.signed));
    a.shutdown().await;
}

//! §11.3 rows Self and Peers.

use libp2p::identity::Keypair;
use peer::peers::Source;
use serde_json::{Value, json};
use shared::ids::Ed25519PeerId;
use shared::presence::{MsgType, PresenceMsg};

use crate::harness::{Api, error_code};

/// Puts a new peer into the table as gossip saw it; returns its PeerId.
fn seen_peer(api: &Api, label: &str) -> String {
    let key = Keypair::generate_ed25519();
    let id = Ed25519PeerId::try_from(key.public().to_peer_id()).unwrap();
    let mut msg = PresenceMsg::offline(id, 1);
    msg.kind = MsgType::Online;
    msg.content = label.to_owned();
    let now = api.peer.node().clock.now_ms();
    api.peer
        .node()
        .peers
        .upsert(Source::Gossip, &msg, false, now);
    id.to_string()
}

#[tokio::test]
async fn self_shows_identity_addresses_and_hubs() {
    let api = Api::start().await;

    let (status, body) = api.get("/api/self").await;

    assert_eq!(status, 200, "{body}");
    let me: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(me["id"], api.peer.peer_id().to_base58());
    assert_eq!(me["label"], "peer");
    assert_eq!(me["email"], "");
    assert_eq!(me["avatar_hash"], "");
    assert!(
        me["client_version"]
            .as_str()
            .unwrap()
            .starts_with("goop-peer/")
    );
    let addrs = me["addrs"].as_array().unwrap();
    assert!(!addrs.is_empty());
    assert!(
        addrs
            .iter()
            .all(|a| a.as_str().unwrap().starts_with("/ip4/127.0.0.1/"))
    );
    assert!(["public", "private", "unknown"].contains(&me["reachability"].as_str().unwrap()));
    assert_eq!(me["hubs"], json!([]));
    api.stop().await;
}

#[tokio::test]
async fn favorite_and_block_set_the_flags_shown_by_the_peer_list() {
    let api = Api::start().await;
    let id = seen_peer(&api, "alice");
    let other = seen_peer(&api, "bob");

    let (status, body) = api
        .post_json(
            "/api/peers/favorite",
            &json!({"peer_id": id, "favorite": true}),
        )
        .await;
    assert_eq!((status, body.as_str()), (200, r#"{"ok":true}"#));
    let (status, _) = api
        .post_json(
            "/api/peers/block",
            &json!({"peer_id": other, "blocked": true}),
        )
        .await;
    assert_eq!(status, 200);

    let (status, body) = api.get("/api/peers?online=true").await;
    assert_eq!(status, 200);
    let peers: Vec<Value> = serde_json::from_str(&body).unwrap();
    let find = |peer: &str| peers.iter().find(|p| p["peer_id"] == peer).unwrap().clone();
    assert_eq!(find(&id)["favorite"], true);
    assert_eq!(find(&id)["blocked"], false);
    assert_eq!(find(&id)["label"], "alice");
    assert_eq!(find(&other)["blocked"], true);
    assert_eq!(find(&other)["sightings"][0]["source"], "gossip");
    assert!(api.peer.node().peers.is_blocked(&other.parse().unwrap()));

    let (_, body) = api
        .post_json(
            "/api/peers/block",
            &json!({"peer_id": other, "blocked": false}),
        )
        .await;
    assert_eq!(body, r#"{"ok":true}"#);
    assert!(!api.peer.node().peers.is_blocked(&other.parse().unwrap()));
    api.stop().await;
}

#[tokio::test]
async fn favorite_of_unknown_or_malformed_peer_is_refused_and_changes_nothing() {
    let api = Api::start().await;
    let known = seen_peer(&api, "alice");
    let unknown = Ed25519PeerId::try_from(Keypair::generate_ed25519().public().to_peer_id())
        .unwrap()
        .to_string();

    let (status, body) = api
        .post_json(
            "/api/peers/favorite",
            &json!({"peer_id": unknown, "favorite": true}),
        )
        .await;
    assert_eq!((status, error_code(&body).as_str()), (404, "unknown_peer"));
    let (status, body) = api
        .post_json(
            "/api/peers/favorite",
            &json!({"peer_id": "Qm-nope", "favorite": true}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (400, "invalid_peer_id")
    );

    let (_, body) = api.get("/api/peers").await;
    let peers: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0]["peer_id"], known);
    assert_eq!(peers[0]["favorite"], false);
    api.stop().await;
}

#[tokio::test]
async fn peer_list_filters_by_hub_and_refuses_bad_filters() {
    let api = Api::start().await;
    seen_peer(&api, "alice");

    let (status, body) = api.get("/api/peers?hub=http%3A%2F%2Fh.example").await;
    assert_eq!((status, body.as_str()), (200, "[]"));
    let (status, body) = api.get("/api/peers?hub=ftp%3A%2F%2Fh").await;
    assert_eq!((status, error_code(&body).as_str()), (400, "invalid_field"));
    let (status, body) = api.get("/api/peers?online=maybe").await;
    assert_eq!((status, error_code(&body).as_str()), (400, "invalid_field"));
    api.stop().await;
}

#[tokio::test]
async fn probe_reports_a_reachable_peers_label_and_an_unreachable_peer() {
    let api = Api::start().await;
    let other = Api::start().await;
    let other_id = other.peer.peer_id();
    let addrs = other.peer.node().net.status().await.unwrap().listen_addrs;
    api.peer
        .node()
        .net
        .dial(other_id, addrs, std::time::Duration::from_secs(5))
        .await
        .unwrap();

    let (status, body) = api
        .post_json(
            "/api/peers/probe",
            &json!({"peer_id": other_id.to_base58()}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer, json!({"reachable": true, "label": "peer"}));

    // No address and no hub reporting it: unreachable, without a label.
    let nowhere = Keypair::generate_ed25519().public().to_peer_id();
    let (status, body) = api
        .post_json("/api/peers/probe", &json!({"peer_id": nowhere.to_base58()}))
        .await;
    assert_eq!((status, body.as_str()), (200, r#"{"reachable":false}"#));

    let (status, body) = api
        .post_json(
            "/api/peers/probe",
            &json!({"peer_id": "12D3KooWnot-a-peer"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    other.stop().await;
    api.stop().await;
}

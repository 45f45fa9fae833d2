//! Presence gossip: the receive checks on the table, hostile payloads, and real peers (plus a raw
//! GossipSub swarm that forges messages) over loopback.

use std::time::Duration;

use futures::StreamExt as _;
use libp2p::identity::{Keypair, ed25519};
use libp2p::swarm::SwarmEvent;
use libp2p::{Swarm, gossipsub, noise, tcp, yamux};
use proptest::prelude::*;
use serde_json::{Value, json};
use shared::ids::Ed25519PeerId;

use super::*;
use crate::event::{Event, Events};
use crate::{Peer, PeerConfig};

fn id() -> Ed25519PeerId {
    ed25519::Keypair::generate().public().into()
}

fn table() -> PeerTable {
    PeerTable::new(Events::default())
}

fn online_json(peer: &Ed25519PeerId, label: &str) -> Vec<u8> {
    json!({"type": "online", "peerId": peer.to_string(), "content": label, "ts": 5})
        .to_string()
        .into_bytes()
}

#[test]
fn presence_from_its_own_source_is_taken_and_never_verified() {
    let (peers, me, a) = (table(), PeerId::random(), id());
    let mut raw: Value = serde_json::from_slice(&online_json(&a, "alice")).unwrap();
    raw["verified"] = json!(true);

    accept(&peers, &me, a.peer_id(), raw.to_string().as_bytes(), 10).unwrap();

    let view = peers.get(&a.peer_id()).unwrap();
    assert_eq!(view.label, "alice");
    assert!(view.online && !view.verified);
    assert_eq!(view.sightings[0].source, "gossip");
}

#[test]
fn offline_marks_only_the_gossip_sighting_offline() {
    let (peers, me, a) = (table(), PeerId::random(), id());
    accept(&peers, &me, a.peer_id(), &online_json(&a, "alice"), 10).unwrap();
    let offline = json!({"type": "offline", "peerId": a.to_string(), "ts": 11}).to_string();

    accept(&peers, &me, a.peer_id(), offline.as_bytes(), 11).unwrap();

    assert!(!peers.get(&a.peer_id()).unwrap().online);
}

#[test]
fn presence_of_another_peer_than_the_source_is_dropped() {
    let (peers, me, victim) = (table(), PeerId::random(), id());

    let dropped = accept(&peers, &me, PeerId::random(), &online_json(&victim, "x"), 1);

    assert_eq!(dropped, Err(DropReason::ForgedSource));
    assert!(peers.list(None, false).is_empty());
}

#[test]
fn oversize_own_and_punch_payloads_are_dropped() {
    let (peers, a) = (table(), id());
    let mut big = online_json(&a, "big");
    big.splice(1..1, vec![b' '; MAX_PAYLOAD]);
    assert_eq!(
        accept(&peers, &PeerId::random(), a.peer_id(), &big, 1),
        Err(DropReason::Oversize(big.len()))
    );
    assert_eq!(
        accept(&peers, &a.peer_id(), a.peer_id(), &online_json(&a, "me"), 1),
        Err(DropReason::Own)
    );
    let punch = json!({"type": "punch", "peerId": a.to_string()}).to_string();
    assert!(matches!(
        accept(&peers, &PeerId::random(), a.peer_id(), punch.as_bytes(), 1),
        Err(DropReason::Invalid(_) | DropReason::UnexpectedType)
    ));
    assert!(matches!(
        accept(
            &peers,
            &PeerId::random(),
            a.peer_id(),
            b"{\"type\":\"online\"",
            1
        ),
        Err(DropReason::Invalid(_))
    ));
    assert!(peers.list(None, false).is_empty());
}

#[test]
fn encoded_presence_leaves_out_the_public_key() {
    let mut msg = PresenceMsg::offline(id(), 7);
    msg.kind = MsgType::Update;
    msg.content = "alice".to_owned();
    msg.public_key = "secret-ish".to_owned();
    msg.goop_client_version = "goop-peer/1".to_owned();

    let json: Value = serde_json::from_slice(&encode(msg).unwrap()).unwrap();

    assert_eq!(json["type"], "update");
    assert_eq!(json["content"], "alice");
    assert!(json.get("publicKey").is_none());
    assert!(json.get("verificationToken").is_none());
}

/// A JSON value of any shape with hostile strings.
fn hostile_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "(?s).{0,40}".prop_map(Value::from),
        (0usize..5000).prop_map(|n| Value::from("x".repeat(n))),
    ];
    leaf.prop_recursive(2, 20, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::from),
            proptest::collection::btree_map("[a-zA-Z]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn hostile_bytes_never_panic_and_never_insert(
        bytes in proptest::collection::vec(any::<u8>(), 0..20_000),
    ) {
        let peers = table();
        let _ = accept(&peers, &PeerId::random(), PeerId::random(), &bytes, 1);
        prop_assert!(peers.list(None, false).is_empty());
    }

    #[test]
    fn hostile_presence_of_another_peer_never_inserts(
        kind in prop_oneof![
            Just("online".to_owned()),
            Just("update".to_owned()),
            Just("offline".to_owned()),
            Just("punch".to_owned()),
            "[a-z]{0,8}",
        ],
        fields in proptest::collection::btree_map(
            prop_oneof![
                Just("content"), Just("email"), Just("avatarHash"), Just("addrs"),
                Just("publicKey"), Just("goopClientVersion"), Just("ts"), Just("verified"),
                Just("target"), Just("videoDisabled"),
            ],
            hostile_value(),
            0..6,
        ),
        claimed in prop_oneof![
            Just(Value::Null),
            "[1-9A-HJ-NP-Za-km-z]{0,60}".prop_map(Value::from),
            Just(Value::from("12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN")),
        ],
        pad in 0usize..20_000,
    ) {
        let peers = table();
        let source = PeerId::random();
        let mut object: serde_json::Map<String, Value> =
            fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        object.insert("type".to_owned(), Value::from(kind));
        object.insert("peerId".to_owned(), claimed);
        let mut bytes = Value::Object(object).to_string().into_bytes();
        bytes.extend(std::iter::repeat_n(b' ', pad));

        let _ = accept(&peers, &PeerId::random(), source, &bytes, 1);

        prop_assert!(peers.list(None, false).is_empty());
    }

    #[test]
    fn oversize_presence_from_its_own_source_never_inserts(pad in MAX_PAYLOAD..60_000) {
        let peers = table();
        let a = id();
        let mut bytes = online_json(&a, "a");
        bytes.extend(std::iter::repeat_n(b' ', pad));

        prop_assert_eq!(
            accept(&peers, &PeerId::random(), a.peer_id(), &bytes, 1),
            Err(DropReason::Oversize(bytes.len()))
        );
        prop_assert!(peers.list(None, false).is_empty());
    }
}

fn config(dir: &std::path::Path, label: &str) -> PeerConfig {
    let mut config = PeerConfig::for_tests(dir);
    config.http.enabled = false;
    config.profile.label = label.to_owned();
    config.presence.heartbeat_secs = 1;
    // Far beyond each test: only gossip itself can take a peer offline.
    config.presence.ttl_secs = 600;
    config
}

async fn wait_for(
    peer: &Peer,
    other: PeerId,
    what: &str,
    ok: impl Fn(&crate::peers::PeerView) -> bool,
) {
    let peers = peer.node().peers.clone();
    testkit::eventually(Duration::from_secs(20), what, || {
        let found = peers.get(&other).filter(|v| ok(v)).map(|_| ());
        async move { found }
    })
    .await;
}

#[tokio::test]
async fn two_peers_see_each_other_through_gossip_and_see_the_offline_at_shutdown() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Peer::start(config(dir_a.path(), "alice")).await.unwrap();
    let b = Peer::start(config(dir_b.path(), "bob")).await.unwrap();
    let mut events = a.events();

    crate::content::tests::connect(&a, &b).await;

    wait_for(&a, b.peer_id(), "alice sees bob", |v| {
        v.online && v.label == "bob"
    })
    .await;
    wait_for(&b, a.peer_id(), "bob sees alice", |v| {
        v.online && v.label == "alice"
    })
    .await;
    wait_for(&a, b.peer_id(), "bob probed reachable", |v| {
        v.reachable == Some(true)
    })
    .await;
    let view = a.node().peers.get(&b.peer_id()).unwrap();
    assert!(!view.verified);
    assert!(view.client_version.starts_with("goop-peer/"));
    assert!(!a.node().peers.addrs(&b.peer_id()).is_empty());

    let bob = b.peer_id().to_base58();
    b.shutdown().await;

    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Ok(numbered) = events.recv().await
                && let Event::PeerUpdate(view) = &numbered.event
                && view["peer_id"] == bob.as_str()
                && view["online"] == false
            {
                return;
            }
        }
    })
    .await
    .expect("bob's offline within 10 s");
    a.shutdown().await;
}

/// A bare GossipSub node with its own identity: publishes whatever the test asks.
fn raw_gossip_node() -> Swarm<gossipsub::Behaviour> {
    libp2p::SwarmBuilder::with_existing_identity(Keypair::generate_ed25519())
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .unwrap()
        .with_behaviour(|key| {
            let config = gossipsub::ConfigBuilder::default()
                .validation_mode(gossipsub::ValidationMode::Strict)
                .max_transmit_size(64 * 1024)
                .build()
                .unwrap();
            gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Signed(key.clone()), config)
                .unwrap()
        })
        .unwrap()
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build()
}

/// Drives `swarm` until `done` holds for one of its events.
async fn drive_until(
    swarm: &mut Swarm<gossipsub::Behaviour>,
    done: impl Fn(&SwarmEvent<gossipsub::Event>) -> bool,
) {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if done(&swarm.select_next_some().await) {
                return;
            }
        }
    })
    .await
    .expect("raw gossip node event within 10 s");
}

#[tokio::test]
async fn forged_and_oversize_gossip_from_a_raw_node_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let peer = Peer::start(config(dir.path(), "target")).await.unwrap();
    let target = peer.peer_id();
    let mut raw = raw_gossip_node();
    let attacker: Ed25519PeerId = (*raw.local_peer_id()).try_into().unwrap();
    let topic = gossipsub::IdentTopic::new(PRESENCE_TOPIC);
    raw.behaviour_mut().subscribe(&topic).unwrap();
    raw.dial(peer.listen_addrs()[0].clone()).unwrap();
    drive_until(&mut raw, |e| {
        matches!(e, SwarmEvent::Behaviour(gossipsub::Event::Subscribed { peer_id, .. }) if *peer_id == target)
    })
    .await;
    let victim = id();
    let mut events = peer.events();
    let mut oversize = online_json(&attacker, "oversize");
    oversize.extend(std::iter::repeat_n(b' ', MAX_PAYLOAD));

    for payload in [
        online_json(&victim, "forged"),
        oversize,
        online_json(&attacker, "honest"),
    ] {
        raw.behaviour_mut().publish(topic.clone(), payload).unwrap();
    }
    let seen = async {
        let mut labels = Vec::new();
        loop {
            if let Ok(numbered) = events.recv().await
                && let Event::PeerUpdate(view) = &numbered.event
            {
                labels.push(view["label"].as_str().unwrap_or_default().to_owned());
                if view["label"] == "honest" {
                    return labels;
                }
            }
        }
    };
    let labels = tokio::select! {
        labels = tokio::time::timeout(Duration::from_secs(10), seen) => labels.expect("the honest message within 10 s"),
        () = async { loop { raw.select_next_some().await; } } => unreachable!(),
    };

    assert_eq!(
        labels,
        vec!["honest"],
        "neither the forged nor the oversize message was taken"
    );
    assert!(peer.node().peers.get(&victim.peer_id()).is_none());
    peer.shutdown().await;
}

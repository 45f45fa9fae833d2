//! Unit tests of the presence state: fan-out, slow consumers, signature locks, limits.

use super::*;
use libp2p::identity::ed25519::Keypair;
use shared::ids::Ed25519PeerId;

fn presence(queue: usize) -> Presence {
    let config = PresenceConfig {
        sse_queue: queue,
        ..PresenceConfig::default()
    };
    let metrics = Metrics::register(&mut prometheus_client::registry::Registry::default());
    Presence::new(config, metrics)
}

fn sse(class: Class) -> SubscribeRequest {
    SubscribeRequest {
        transport: Transport::Sse,
        class,
        legacy: false,
        identity: None,
        session: false,
        ip: IpAddr::from([127, 0, 0, 1]),
    }
}

fn online(content: &str) -> PresenceMsg {
    let peer = Ed25519PeerId::from(Keypair::generate().public());
    let json =
        serde_json::json!({"type": "online", "peerId": peer.to_string(), "content": content});
    PresenceMsg::parse(json.to_string().as_bytes(), now_ms(), None).unwrap()
}

#[test]
fn slow_subscriber_is_closed_without_blocking_the_others() {
    let presence = presence(2);
    let mut slow = presence.subscribe(sse(Class::Participant)).unwrap();
    let mut fast = presence
        .subscribe(SubscribeRequest {
            transport: Transport::Ws,
            ..sse(Class::Participant)
        })
        .unwrap();

    for i in 0..3 {
        presence
            .publish(online(&format!("peer {i}")), true, Instant::now())
            .unwrap();
    }

    assert_eq!(*slow.closed.borrow(), Some((4008, "slow-consumer")));
    let drained: Vec<_> = std::iter::from_fn(|| slow.rx.try_recv().ok()).collect();
    assert_eq!(
        drained.len(),
        2,
        "the queued frames stay readable, then the stream ends"
    );
    assert!(slow.rx.try_recv().is_err());
    let received = std::iter::from_fn(|| fast.rx.try_recv().ok()).count();
    assert_eq!(received, 3);
}

#[test]
fn unchanged_heartbeat_costs_no_frame_while_a_change_costs_one() {
    let presence = presence(64);
    let mut sub = presence.subscribe(sse(Class::Public)).unwrap();
    let msg = online("Alice");

    presence.publish(msg.clone(), true, Instant::now()).unwrap();
    for _ in 0..10 {
        presence.publish(msg.clone(), true, Instant::now()).unwrap();
    }
    let mut changed = msg.clone();
    changed.content = "Alice B.".to_owned();
    presence.publish(changed, true, Instant::now()).unwrap();

    let frames: Vec<_> = std::iter::from_fn(|| sub.rx.try_recv().ok()).collect();
    assert_eq!(frames.len(), 2);
}

#[test]
fn unsigned_input_cannot_touch_a_signature_locked_peer() {
    let presence = presence(64);
    let msg = online("Alice");
    presence.publish(msg.clone(), true, Instant::now()).unwrap();

    let unsigned = presence.publish(msg, false, Instant::now());

    assert_eq!(unsigned, Err(PublishError::SignatureRequired));
}

#[test]
fn live_map_refuses_new_peers_when_full() {
    let metrics = Metrics::register(&mut prometheus_client::registry::Registry::default());
    let presence = Presence::new(
        PresenceConfig {
            max_peers: 1,
            ..PresenceConfig::default()
        },
        metrics,
    );
    presence
        .publish(online("first"), true, Instant::now())
        .unwrap();

    assert_eq!(
        presence.publish(online("second"), true, Instant::now()),
        Err(PublishError::Full)
    );
}

#[tokio::test]
async fn sse_stream_without_progress_for_the_write_timeout_is_ended_at_once() {
    let presence = presence(64);
    let mut stalled = presence.subscribe(sse(Class::Public)).unwrap();
    let mut reading = presence.subscribe(sse(Class::Public)).unwrap();
    let start = Instant::now();
    for i in 0..2 {
        presence
            .publish(online(&format!("peer {i}")), true, start)
            .unwrap();
    }

    presence.sweep(start + Duration::from_secs(6));
    reading.next_frame().await.unwrap();
    presence.sweep(start + Duration::from_secs(12));

    assert_eq!(*stalled.closed.borrow(), Some(SLOW_CONSUMER));
    assert_eq!(
        stalled.next_frame().await,
        None,
        "its queued frames are not sent"
    );
    assert_eq!(*reading.closed.borrow(), None, "a stream that moved stays");
}

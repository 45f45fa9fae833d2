//! Direct chat and the identity exchange between two real peers.

use serde_json::json;

use super::harness::{Raw, pair, start, wait_for};
use crate::event::Event;

#[tokio::test]
async fn chat_is_stored_on_both_sides_and_the_receipt_becomes_delivered() {
    let (a, b) = pair().await;
    let (na, nb) = (a.peer.node(), b.peer.node());
    let (ida, idb) = (a.peer.peer_id(), b.peer.peer_id());
    let (mut ea, mut eb) = (a.peer.events(), b.peer.events());

    let sent = crate::chat::send(na, idb, "hi bob").await.unwrap();
    crate::chat::send(nb, ida, "hi alice").await.unwrap();

    let delivered = wait_for(&mut ea, |e| match e {
        Event::MqDelivered(d) if d.msg_id == sent.msg_id.as_str() => Some(()),
        _ => None,
    });
    delivered.await;
    let received = wait_for(&mut eb, |e| match e {
        Event::ChatMessage(c) if c.from == ida.to_base58() => Some(c.clone()),
        _ => None,
    })
    .await;
    assert_eq!(
        (received.peer_id.as_str(), received.content.as_str()),
        (ida.to_base58().as_str(), "hi bob")
    );
    // The receiver acks before it stores (peer.md §4.2), so "hi alice" may land at A after the
    // sender saw it delivered.
    let at_a = testkit::eventually(
        std::time::Duration::from_secs(5),
        "both lines at A",
        || async {
            let rows = na
                .store
                .list_chat_messages(&idb.to_base58(), 50, None)
                .await
                .unwrap();
            (rows.len() == 2).then_some(rows)
        },
    )
    .await;
    assert_eq!(
        at_a.iter()
            .map(|r| (r.from_id.clone(), r.content.clone()))
            .collect::<Vec<_>>(),
        vec![
            (ida.to_base58(), "hi bob".to_owned()),
            (idb.to_base58(), "hi alice".to_owned())
        ]
    );
    let at_b = nb
        .store
        .list_chat_messages(&ida.to_base58(), 50, None)
        .await
        .unwrap();
    assert_eq!(at_b.len(), 2);
    a.peer.shutdown().await;
    b.peer.shutdown().await;
}

#[tokio::test]
async fn chat_content_outside_one_to_16384_bytes_is_refused_before_sending() {
    let (a, b) = pair().await;

    for content in [String::new(), "x".repeat(crate::chat::MAX_CONTENT + 1)] {
        let error = crate::chat::send(a.peer.node(), b.peer.peer_id(), &content)
            .await
            .unwrap_err();
        assert!(
            matches!(error, crate::chat::ChatError::InvalidContent),
            "{error}"
        );
    }
    a.peer.shutdown().await;
    b.peer.shutdown().await;
}

#[tokio::test]
async fn broadcast_is_an_event_and_not_stored() {
    let (a, b) = pair().await;
    let mut eb = b.peer.events();

    crate::mq::send(
        a.peer.node(),
        b.peer.peer_id(),
        "chat.broadcast",
        json!({"content": "all"}),
    )
    .await
    .unwrap();

    let got = wait_for(&mut eb, |e| match e {
        Event::ChatBroadcast(c) => Some(c.content.clone()),
        _ => None,
    })
    .await;
    assert_eq!(got, "all");
    let rows = b
        .peer
        .node()
        .store
        .list_chat_messages(&a.peer.peer_id().to_base58(), 50, None)
        .await
        .unwrap();
    assert!(rows.is_empty());
    a.peer.shutdown().await;
    b.peer.shutdown().await;
}

#[tokio::test]
async fn identity_round_trip_fills_the_peer_table() {
    let (a, b) = pair().await;
    let na = a.peer.node();

    crate::identity::request(na, b.peer.peer_id())
        .await
        .unwrap();

    let view = testkit::eventually(super::harness::WAIT, "bob's identity", || async {
        na.peers.get(&b.peer.peer_id()).filter(|v| v.label == "bob")
    })
    .await;
    assert!(view.client_version.starts_with("goop-peer/"), "{view:?}");
    a.peer.shutdown().await;
    b.peer.shutdown().await;
}

#[tokio::test]
async fn identity_response_is_taken_only_from_the_peer_it_describes() {
    let b = start("bob").await;
    let node = b.peer.node();
    let raw = Raw::connect(&b.peer).await;
    let other = libp2p::PeerId::random();
    let about = |peer: libp2p::PeerId, label: &str| {
        super::harness::line(
            "identity.response",
            json!({"peerID": peer.to_base58(), "content": label, "goopClientVersion": "goop2/1"}),
        )
        .1
    };

    assert!(raw.exchange(&about(other, "liar")).await.is_some());
    assert!(raw.exchange(&about(raw.id, "")).await.is_some());
    assert!(raw.exchange(&about(raw.id, "raw")).await.is_some());

    let view = testkit::eventually(super::harness::WAIT, "raw's identity", || async {
        node.peers.get(&raw.id)
    })
    .await;
    assert_eq!((view.label.as_str(), view.online), ("raw", false));
    assert!(node.peers.get(&other).is_none());
    b.peer.shutdown().await;
}

#[tokio::test]
async fn a_received_line_trims_the_conversation_to_200() {
    let (a, b) = pair().await;
    let nb = b.peer.node();
    let alice = a.peer.peer_id().to_base58();
    for ts in 0..crate::store::HISTORY_PER_PEER {
        let old = crate::store::NewChat {
            peer_id: &alice,
            from_id: &alice,
            content: "old",
            ts,
            msg_id: "m",
        };
        nb.store.insert_chat_message(old).await.unwrap();
    }
    let mut eb = b.peer.events();

    crate::chat::send(a.peer.node(), b.peer.peer_id(), "newest")
        .await
        .unwrap();

    wait_for(&mut eb, |e| {
        matches!(e, Event::ChatMessage(_)).then_some(())
    })
    .await;
    let rows = nb
        .store
        .list_chat_messages(&alice, 1000, None)
        .await
        .unwrap();
    assert_eq!(rows.len() as i64, crate::store::HISTORY_PER_PEER);
    assert_eq!(
        (rows[0].ts, rows.last().unwrap().content.as_str()),
        (1, "newest")
    );
    a.peer.shutdown().await;
    b.peer.shutdown().await;
}

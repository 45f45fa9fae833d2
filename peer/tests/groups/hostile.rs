//! Hostile traffic (peer.md §14 group rows): a member forging `_from` (see `hosting`), a host
//! that lies about members, traffic from a peer that is not our host, malformed and oversize
//! messages.

use peer::groups::member;
use serde_json::json;

use crate::harness::{connect, create, event, events_before, start};
use crate::hosting::peer_send;

#[tokio::test]
async fn member_lists_that_lie_or_come_from_another_peer_are_dropped() {
    let host = start().await;
    let mut a = start().await;
    let impostor = start().await;
    connect(&a, &host).await;
    connect(&impostor, &a).await;
    let group = create(&host, |_| {}).await;
    member::join(a.peer.node(), host.peer.peer_id(), &group, None)
        .await
        .unwrap();
    let members_topic = format!("group:{group}:members");
    let a_id = a.peer.peer_id().to_base58();

    // The impostor is not our host: its list and its close are dropped.
    let fake =
        json!({"members": [{"peer_id": impostor.peer.peer_id().to_base58(), "role": "owner"}]});
    peer::mq::send(impostor.peer.node(), a.peer.peer_id(), &members_topic, fake)
        .await
        .unwrap();
    let close_topic = format!("group:{group}:close");
    peer::mq::send(
        impostor.peer.node(),
        a.peer.peer_id(),
        &close_topic,
        json!({"type":"close","group":group}),
    )
    .await
    .unwrap();
    // Our host lies: a member listed twice, an invalid PeerId.
    let twice =
        json!({"members": [{"peer_id": a_id, "role": "x"}, {"peer_id": a_id, "role": "y"}]});
    peer::mq::send(host.peer.node(), a.peer.peer_id(), &members_topic, twice)
        .await
        .unwrap();
    let bad = json!({"members": [{"peer_id": "nope", "role": "x"}]});
    peer::mq::send(host.peer.node(), a.peer.peer_id(), &members_topic, bad)
        .await
        .unwrap();
    // Then an honest message proves the earlier ones were processed.
    peer::groups::manage::send(host.peer.node(), &group, &json!({"mark": 1}))
        .await
        .unwrap();
    let before = events_before(&mut a, "msg", &group, |_| true).await;
    assert!(
        before
            .iter()
            .all(|e| e.kind != "members" && e.kind != "close"),
        "{before:?}"
    );
    let subscription = &member::subscriptions(a.peer.node())[0];
    assert_eq!(subscription.member_count, 2);
    for peer in [a, impostor, host] {
        peer.peer.shutdown().await;
    }
}

#[tokio::test]
async fn oversize_and_unknown_messages_get_too_large_or_are_dropped() {
    let mut host = start().await;
    let mut a = start().await;
    connect(&a, &host).await;
    let group = create(&host, |_| {}).await;
    member::join(a.peer.node(), host.peer.peer_id(), &group, None)
        .await
        .unwrap();

    let big = json!({"blob": "x".repeat(70 * 1024)});
    assert!(peer_send(&a, host.peer.peer_id(), &group, big).await);
    let error = event(&mut a, "error", &group, |_| true).await;
    assert_eq!(error.payload.unwrap()["code"], "too_large");

    let unknown = format!("group:{group}:dance");
    peer::mq::send(a.peer.node(), host.peer.peer_id(), &unknown, json!({}))
        .await
        .unwrap();
    let malformed = format!("group:{group}:leave");
    peer::mq::send(
        a.peer.node(),
        host.peer.peer_id(),
        &malformed,
        json!("leave"),
    )
    .await
    .unwrap();
    let error = event(&mut a, "error", &group, |_| true).await;
    assert_eq!(error.payload.unwrap()["code"], "bad_request");
    peer_send(&a, host.peer.peer_id(), &group, json!({"ok": 1})).await;
    let before = events_before(&mut host, "msg", &group, |_| true).await;
    assert!(before.iter().all(|e| e.kind != "leave"), "{before:?}");
    for peer in [a, host] {
        peer.peer.shutdown().await;
    }
}

#[tokio::test]
async fn join_for_an_unknown_group_is_answered_not_found() {
    let host = start().await;
    let a = start().await;
    connect(&a, &host).await;
    let group = peer::groups::GroupId::parse("nosuchgroup").unwrap();
    let refused = member::join(a.peer.node(), host.peer.peer_id(), &group, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, member::JoinError::Refused { code, .. } if code == "not_found"),
        "{refused}"
    );
    for peer in [a, host] {
        peer.peer.shutdown().await;
    }
}

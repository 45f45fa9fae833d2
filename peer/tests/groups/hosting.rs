//! Host rules (peer.md §8.3, §8.4): join and welcome, relaying with `_from` stamped by the host,
//! `_to`, full groups, invite-only groups, kicks and bans.

use peer::groups::member::{self, JoinError};
use peer::groups::{GroupError, manage};
use serde_json::json;

use crate::harness::{
    connect, create, event, events_before, hosted_members, joined_pair, start, stop,
};

#[tokio::test]
async fn members_get_welcome_and_relayed_messages_with_the_author_stamped_by_the_host() {
    let mut host = start().await;
    let mut a = start().await;
    let mut b = start().await;
    connect(&a, &host).await;
    connect(&b, &host).await;
    let group = create(&host, |_| {}).await;

    let welcome = member::join(a.peer.node(), host.peer.peer_id(), &group, None)
        .await
        .unwrap();
    assert_eq!(welcome.group_name, "Chess");
    assert_eq!(welcome.members[0].role, "owner");
    assert_eq!(welcome.members[1].peer_id, a.peer.peer_id().to_base58());
    assert_eq!(welcome.members[1].role, "viewer");
    event(&mut host, "join", &group, |_| true).await;
    member::join(b.peer.node(), host.peer.peer_id(), &group, None)
        .await
        .unwrap();
    let members = event(&mut a, "members", &group, |_| true).await;
    assert_eq!(
        members.payload.unwrap()["members"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // A forges `_from`; the host overwrites it with A, and B sees A as author.
    let forged = json!({"move": "e2e4", "_from": b.peer.peer_id().to_base58()});
    peer::groups::manage::send(host.peer.node(), &group, &json!({"hello": 1}))
        .await
        .unwrap();
    let sent = peer_send(&a, host.peer.peer_id(), &group, forged).await;
    assert!(sent);
    let got = event(&mut b, "msg", &group, |e| {
        e.payload.as_ref().unwrap().get("move").is_some()
    })
    .await;
    let a_id = a.peer.peer_id().to_base58();
    assert_eq!(got.payload.as_ref().unwrap()["_from"], a_id.as_str());
    assert_eq!(got.author.as_deref(), Some(a_id.as_str()));
    assert_eq!(
        got.from.as_deref(),
        Some(host.peer.peer_id().to_base58().as_str())
    );
    event(&mut host, "msg", &group, |e| {
        e.from.as_deref() == Some(a_id.as_str())
    })
    .await;

    // `_to` reaches only the member it names.
    let to_a = json!({"secret": 1, "_to": a_id});
    peer_send(&b, host.peer.peer_id(), &group, to_a).await;
    peer_send(&b, host.peer.peer_id(), &group, json!({"public": 1})).await;
    let got = event(&mut a, "msg", &group, |e| {
        e.payload.as_ref().unwrap().get("secret").is_some()
    })
    .await;
    assert_eq!(
        got.payload.unwrap()["_from"],
        b.peer.peer_id().to_base58().as_str()
    );
    stop(vec![a, b, host]).await;
}

/// A member's `msg` to the host, as the local API `send` does.
pub(crate) async fn peer_send(
    member: &crate::harness::Node,
    host: libp2p::PeerId,
    group: &peer::groups::GroupId,
    payload: serde_json::Value,
) -> bool {
    let topic = format!("group:{group}:msg");
    peer::mq::send(member.peer.node(), host, &topic, payload)
        .await
        .is_ok()
}

#[tokio::test]
async fn join_of_a_full_group_is_refused_with_full_and_leaves_free_a_place() {
    let host = start().await;
    let a = start().await;
    let b = start().await;
    connect(&a, &host).await;
    connect(&b, &host).await;
    let group = create(&host, |g| g.max_members = Some(2)).await;

    member::join(a.peer.node(), host.peer.peer_id(), &group, None)
        .await
        .unwrap();
    let refused = member::join(b.peer.node(), host.peer.peer_id(), &group, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, JoinError::Refused { code, .. } if code == "full"),
        "{refused}"
    );
    assert_eq!(hosted_members(&host, &group).len(), 2);

    assert!(
        member::leave(a.peer.node(), host.peer.peer_id(), &group)
            .await
            .unwrap()
    );
    peer_testkit_eventually(|| hosted_members(&host, &group).len() == 1).await;
    member::join(b.peer.node(), host.peer.peer_id(), &group, None)
        .await
        .unwrap();
    stop(vec![a, b, host]).await;
}

pub(crate) async fn peer_testkit_eventually(mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn invite_only_group_refuses_strangers_and_admits_the_invited() {
    let host = start().await;
    let mut a = start().await;
    connect(&a, &host).await;
    let group = create(&host, |g| g.join_policy = Some("invite".into())).await;

    let refused = member::join(a.peer.node(), host.peer.peer_id(), &group, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, JoinError::Refused { code, .. } if code == "not_invited"),
        "{refused}"
    );

    manage::invite(host.peer.node(), &group, a.peer.peer_id())
        .await
        .unwrap();
    let invite = event(&mut a, "invite", &group, |_| true).await;
    assert_eq!(invite.payload.unwrap()["group_name"], "Chess");
    assert_eq!(member::invites(a.peer.node()).len(), 1);
    member::join(a.peer.node(), host.peer.peer_id(), &group, None)
        .await
        .unwrap();
    assert_eq!(hosted_members(&host, &group).len(), 2);
    stop(vec![a, host]).await;
}

#[tokio::test]
async fn kicked_member_gets_close_and_a_banned_one_cannot_rejoin() {
    let (mut host, mut a, group) = joined_pair(|_| {}).await;

    manage::kick(host.peer.node(), &group, a.peer.peer_id(), false)
        .await
        .unwrap();
    event(&mut a, "close", &group, |_| true).await;
    assert!(member::subscriptions(a.peer.node()).is_empty());
    event(&mut host, "leave", &group, |_| true).await;

    member::join(a.peer.node(), host.peer.peer_id(), &group, None)
        .await
        .unwrap();
    manage::kick(host.peer.node(), &group, a.peer.peer_id(), true)
        .await
        .unwrap();
    event(&mut a, "close", &group, |_| true).await;
    let refused = member::join(a.peer.node(), host.peer.peer_id(), &group, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, JoinError::Refused { code, .. } if code == "banned"),
        "{refused}"
    );
    assert!(matches!(
        manage::kick(host.peer.node(), &group, host.peer.peer_id(), false).await,
        Err(GroupError::NotMember)
    ));
    stop(vec![a, host]).await;
}

#[tokio::test]
async fn non_member_messages_are_not_relayed() {
    let host = start().await;
    let mut a = start().await;
    let b = start().await;
    let stranger = start().await;
    for peer in [&a, &b, &stranger] {
        connect(peer, &host).await;
    }
    let group = create(&host, |_| {}).await;
    member::join(a.peer.node(), host.peer.peer_id(), &group, None)
        .await
        .unwrap();
    member::join(b.peer.node(), host.peer.peer_id(), &group, None)
        .await
        .unwrap();

    peer_send(&stranger, host.peer.peer_id(), &group, json!({"spam": 1})).await;
    peer_send(&b, host.peer.peer_id(), &group, json!({"real": 1})).await;
    let before = events_before(&mut a, "msg", &group, |e| {
        e.payload.as_ref().unwrap().get("real").is_some()
    })
    .await;
    assert!(before.iter().all(|e| e.kind != "msg"), "{before:?}");
    assert_eq!(hosted_members(&host, &group).len(), 3);
    stop(vec![a, b, stranger, host]).await;
}

#[tokio::test]
async fn member_over_the_relay_rate_gets_rate_limited() {
    let (host, mut a, group) = joined_pair(|_| {}).await;
    for n in 0..60 {
        peer_send(&a, host.peer.peer_id(), &group, json!({ "n": n })).await;
    }
    let error = event(&mut a, "error", &group, |_| true).await;
    assert_eq!(error.payload.unwrap()["code"], "rate_limited");
    stop(vec![a, host]).await;
}

#[tokio::test]
async fn invitation_is_joined_at_once_when_auto_accept_is_all() {
    let host = start().await;
    let mut a = crate::harness::start_with(|c| {
        c.groups.auto_accept_invites = peer::config::AutoAccept::All;
    })
    .await;
    connect(&a, &host).await;
    let group = create(&host, |g| g.join_policy = Some("invite".into())).await;

    manage::invite(host.peer.node(), &group, a.peer.peer_id())
        .await
        .unwrap();

    event(&mut a, "welcome", &group, |_| true).await;
    assert_eq!(hosted_members(&host, &group).len(), 2);
    assert!(member::invites(a.peer.node()).is_empty());
    stop(vec![a, host]).await;
}

#[tokio::test]
async fn meta_and_state_reach_members_and_later_welcomes_carry_the_state() {
    let (host, mut a, group) = joined_pair(|_| {}).await;
    let b = start().await;
    connect(&b, &host).await;

    manage::set_meta(host.peer.node(), &group, Some("Go".into()), Some(9))
        .await
        .unwrap();
    let meta = event(&mut a, "meta", &group, |_| true).await;
    assert_eq!(
        meta.payload.unwrap(),
        json!({"group_name":"Go","group_type":"template","max_members":9})
    );
    assert_eq!(member::subscriptions(a.peer.node())[0].row.group_name, "Go");

    manage::set_state(host.peer.node(), &group, json!({"board": "e4"}))
        .await
        .unwrap();
    let state = event(&mut a, "state", &group, |_| true).await;
    assert_eq!(state.payload.unwrap()["board"], "e4");
    let welcome = member::join(b.peer.node(), host.peer.peer_id(), &group, None)
        .await
        .unwrap();
    assert_eq!(welcome.state.unwrap(), json!({"board": "e4"}));
    assert_eq!(welcome.group_name, "Go");
    stop(vec![a, b, host]).await;
}

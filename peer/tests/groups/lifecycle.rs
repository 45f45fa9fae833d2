//! Lifetimes (peer.md §8.6, §8.7): volatile groups closed at shutdown, persistent groups reloaded
//! with empty member maps and members rejoining with their role.

use peer::groups::{manage, member};

use crate::harness::{connect, event, hosted_members, joined_pair, restart, stop};
use crate::hosting::peer_testkit_eventually;

#[tokio::test]
async fn volatile_group_is_closed_for_its_members_when_the_host_shuts_down() {
    let (host, mut a, group) = joined_pair(|g| g.volatile = Some(true)).await;

    host.peer.shutdown().await;

    event(&mut a, "close", &group, |_| true).await;
    assert!(member::subscriptions(a.peer.node()).is_empty());
    a.peer.shutdown().await;
}

#[tokio::test]
async fn persistent_group_survives_a_host_restart_and_the_member_rejoins_with_its_role() {
    let (host, mut a, group) = joined_pair(|_| {}).await;
    manage::set_role(host.peer.node(), &group, a.peer.peer_id(), "editor")
        .await
        .unwrap();
    event(&mut a, "members", &group, |_| true).await;
    let port = host.peer.listen_addrs()[0]
        .iter()
        .find_map(|p| match p {
            libp2p::multiaddr::Protocol::Tcp(port) => Some(port),
            _ => None,
        })
        .unwrap();
    let dir = host.dir;
    host.peer.shutdown().await;
    let mut host = restart(dir, port).await;
    assert_eq!(
        hosted_members(&host, &group).len(),
        1,
        "reloaded with only the host"
    );
    assert!(member::subscriptions(a.peer.node())[0].row.group_id == group.as_str());

    connect(&a, &host).await;
    event(&mut host, "join", &group, |_| true).await;
    event(&mut a, "welcome", &group, |_| true).await;
    peer_testkit_eventually(|| hosted_members(&host, &group).len() == 2).await;
    let subscription = &member::subscriptions(a.peer.node())[0];
    assert_eq!(subscription.row.role, "editor");
    assert!(subscription.connected);
    stop(vec![a, host]).await;
}

#[tokio::test]
async fn member_that_stops_answering_is_removed_by_the_host() {
    let (mut host, a, group) = joined_pair(|_| {}).await;
    let a_id = a.peer.peer_id().to_base58();

    a.peer.shutdown().await;

    event(&mut host, "leave", &group, |e| {
        e.from.as_deref() == Some(a_id.as_str())
    })
    .await;
    assert_eq!(hosted_members(&host, &group).len(), 1);
    host.peer.shutdown().await;
}

#[tokio::test]
async fn member_that_hears_no_ping_rejoins_its_host() {
    let host = crate::harness::start_with(|c| c.groups.ping_secs = 3600).await;
    let mut a = crate::harness::start_with(|c| c.groups.silence_secs = 1).await;
    connect(&a, &host).await;
    let group = crate::harness::create(&host, |_| {}).await;
    peer::groups::member::join(a.peer.node(), host.peer.peer_id(), &group, None)
        .await
        .unwrap();
    event(&mut a, "welcome", &group, |_| true).await;

    // No ping within 1 s: the member rejoins (a current member's join re-sends the welcome).
    event(&mut a, "welcome", &group, |_| true).await;
    assert_eq!(hosted_members(&host, &group).len(), 2);
    stop(vec![a, host]).await;
}

#[tokio::test]
async fn restarted_member_rejoins_its_persistent_group_and_keeps_its_role() {
    let (mut host, a, group) = joined_pair(|_| {}).await;
    manage::set_role(host.peer.node(), &group, a.peer.peer_id(), "editor")
        .await
        .unwrap();
    let a_id = a.peer.peer_id().to_base58();
    let dir = a.dir;
    a.peer.shutdown().await;
    event(&mut host, "leave", &group, |e| {
        e.from.as_deref() == Some(a_id.as_str())
    })
    .await;

    let mut a = restart(dir, 0).await;
    assert!(!member::subscriptions(a.peer.node())[0].connected);
    connect(&a, &host).await;
    event(&mut a, "welcome", &group, |_| true).await;
    let subscription = &member::subscriptions(a.peer.node())[0];
    assert_eq!(subscription.row.role, "editor");
    stop(vec![a, host]).await;
}

#[tokio::test]
async fn member_rejoining_within_the_grace_keeps_its_role_in_a_volatile_group() {
    let (host, a, group) = joined_pair(|g| g.volatile = Some(true)).await;
    manage::set_role(host.peer.node(), &group, a.peer.peer_id(), "editor")
        .await
        .unwrap();
    assert!(
        member::leave(a.peer.node(), host.peer.peer_id(), &group)
            .await
            .unwrap()
    );
    crate::hosting::peer_testkit_eventually(|| hosted_members(&host, &group).len() == 1).await;

    let welcome = member::join(a.peer.node(), host.peer.peer_id(), &group, None)
        .await
        .unwrap();
    assert_eq!(welcome.members[1].role, "editor");
    stop(vec![a, host]).await;
}

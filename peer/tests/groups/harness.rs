//! Started peers with fast group timers, connecting, and waiting for group events.

use std::sync::Arc;
use std::time::Duration;

use peer::event::{Event, GroupEvent, Numbered};
use peer::groups::{GroupId, NewGroup};
use peer::{Peer, PeerConfig};
use tokio::sync::broadcast;

/// A started peer, its data directory and its event receiver.
pub(crate) struct Node {
    pub(crate) peer: Peer,
    pub(crate) events: broadcast::Receiver<Arc<Numbered>>,
    pub(crate) dir: tempfile::TempDir,
}

/// The test configuration: fast pings, silence and rejoin.
pub(crate) fn config(dir: &std::path::Path) -> PeerConfig {
    let mut config = PeerConfig::for_tests(dir);
    config.groups.ping_secs = 1;
    config.groups.silence_secs = 3;
    config.groups.rejoin_delay_secs = 1;
    config.groups.rejoin_backoff_secs = 1;
    config.groups.rejoin_backoff_max_secs = 2;
    config.groups.auto_accept_invites = peer::config::AutoAccept::None;
    config
}

pub(crate) async fn start() -> Node {
    start_with(|_| {}).await
}

pub(crate) async fn start_with(change: impl FnOnce(&mut PeerConfig)) -> Node {
    testkit::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    change(&mut config);
    let peer = Peer::start(config).await.unwrap();
    let events = peer.events();
    Node { peer, events, dir }
}

/// Restarts a stopped peer's data directory.
pub(crate) async fn restart(dir: tempfile::TempDir, port: u16) -> Node {
    let mut config = config(dir.path());
    config.p2p.listen_port = port;
    let peer = Peer::start(config).await.unwrap();
    let events = peer.events();
    Node { peer, events, dir }
}

/// `a` dials `b` by its listen addresses; returns once both sides hold the connection.
pub(crate) async fn connect(a: &Node, b: &Node) {
    a.peer
        .node()
        .net
        .dial(
            b.peer.peer_id(),
            b.peer.listen_addrs().to_vec(),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !b
        .peer
        .node()
        .net
        .is_connected(a.peer.peer_id())
        .await
        .unwrap()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "b never saw the connection"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A group hosted by `host`.
pub(crate) async fn create(host: &Node, change: impl FnOnce(&mut NewGroup)) -> GroupId {
    let mut new = NewGroup {
        name: "Chess".to_owned(),
        group_type: "template".to_owned(),
        host_joined: Some(true),
        ..NewGroup::default()
    };
    change(&mut new);
    peer::groups::manage::create(host.peer.node(), new)
        .await
        .unwrap()
}

/// Waits up to 10 s for a `group.<kind>` event of `group` passing `also`.
pub(crate) async fn event(
    node: &mut Node,
    kind: &str,
    group: &GroupId,
    also: impl Fn(&GroupEvent) -> bool,
) -> GroupEvent {
    let wait = async {
        loop {
            match node.events.recv().await {
                Ok(numbered) => {
                    if let Event::Group(e) = &numbered.event
                        && e.kind == kind
                        && e.group == group.as_str()
                        && also(e)
                    {
                        return e.clone();
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("event bus closed"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .unwrap_or_else(|_| panic!("no group.{kind} event for {group} within 10 s"))
}

/// The group events of `group` before the first `group.<kind>` passing `also` (10 s).
pub(crate) async fn events_before(
    node: &mut Node,
    kind: &str,
    group: &GroupId,
    also: impl Fn(&GroupEvent) -> bool,
) -> Vec<GroupEvent> {
    let mut seen = Vec::new();
    let wait = async {
        loop {
            if let Ok(numbered) = node.events.recv().await
                && let Event::Group(e) = &numbered.event
                && e.group == group.as_str()
            {
                if e.kind == kind && also(e) {
                    return;
                }
                seen.push(e.clone());
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .unwrap_or_else(|_| panic!("no group.{kind} event for {group} within 10 s"));
    seen
}

/// The members of our hosted group `group`, by PeerId.
pub(crate) fn hosted_members(host: &Node, group: &GroupId) -> Vec<String> {
    peer::groups::manage::list(host.peer.node())
        .into_iter()
        .find(|g| g.id == group.as_str())
        .map(|g| g.members.into_iter().map(|m| m.peer_id).collect())
        .unwrap_or_default()
}

/// A host with a group made by `change` and one member connected and joined.
pub(crate) async fn joined_pair(change: impl FnOnce(&mut NewGroup)) -> (Node, Node, GroupId) {
    let host = start().await;
    let member = start().await;
    connect(&member, &host).await;
    let group = create(&host, change).await;
    peer::groups::member::join(member.peer.node(), host.peer.peer_id(), &group, None)
        .await
        .unwrap();
    (host, member, group)
}

/// Shuts every peer down.
pub(crate) async fn stop(nodes: Vec<Node>) {
    for node in nodes {
        node.peer.shutdown().await;
    }
}

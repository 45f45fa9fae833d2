//! Groups (peer.md §8): host-relayed groups over MQ topics `group:<gid>:<type>`. As a host we
//! keep the member list in memory (persisted in `_group_members`), admit joiners by policy, stamp
//! authorship on relayed messages and ping members; as a member we hold `_group_subscriptions`,
//! accept traffic only from the subscription's host and rejoin after restarts and host loss.
//!
//! # Layout
//! - `wire`: the messages of §8.2 and `group.invite`.
//! - `host`: hosted groups — joins, leaves, relaying, pings (§8.3, §8.4); `manage`: the host's
//!   API operations (create, kick, invite, roles, meta, state, close, shutdown).
//! - `member`: joining, the subscription's traffic, leaving, invitations (§8.5).
//! - `reconnect`: rejoining after start, host loss and silence (§8.6).
//! - `rooms`: chat rooms (§8.8).
//! - `admission`: the `voucher` join policy (§3.7).
//! - `outbound`: sending group messages with the group deadline.

pub mod admission;
mod host;
pub mod manage;
pub mod member;
mod outbound;
mod reconnect;
pub mod rooms;
pub mod wire;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use libp2p::PeerId;
use serde_json::Value;
use shared::server::Tasks;

pub use host::{HostedView, MemberView};
pub use manage::NewGroup;
pub use member::{JoinError, PendingInvite, SubscriptionView};
pub use wire::GroupId;

use crate::event::{Event, GroupEvent};
use crate::mq::Msg;
use crate::node::Node;
use crate::store::StoreError;
use wire::{GroupMsg, GroupWireError, Kind, Topic};

/// Most non-volatile groups a peer hosts.
pub const MAX_PERSISTENT: usize = 50;
/// Most volatile groups a peer hosts.
pub const MAX_VOLATILE: usize = 20;
/// Most subscriptions a peer holds.
pub const MAX_SUBSCRIPTIONS: usize = 200;
/// Most Identify agents remembered (to know goop-peer hosts, §8.4).
const MAX_AGENTS: usize = 4096;

/// Why a group operation of the local API failed.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    /// A field breaks a rule of §8.1.
    #[error("invalid {field}: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// We do not host (or are not subscribed to) that group.
    #[error("unknown group")]
    UnknownGroup,
    /// That peer is not a member.
    #[error("not a member of the group")]
    NotMember,
    /// The request conflicts with the group's state (`too_many_groups`, `members_remain`, …).
    #[error("{code}: {message}")]
    Conflict {
        /// Stable code.
        code: &'static str,
        /// Why.
        message: String,
    },
    /// The database failed; nothing changed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The message could not be delivered.
    #[error(transparent)]
    Send(#[from] crate::mq::SendError),
}

impl GroupError {
    fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }
}

/// The group state of one node: hosted groups, subscriptions, pending joins and invitations.
#[derive(Debug, Default)]
pub struct Groups {
    host: host::HostState,
    /// Serialises host changes (database first, then memory) so capacity checks hold.
    host_write: tokio::sync::Mutex<()>,
    member: member::MemberState,
    rooms: rooms::Rooms,
    agents: Mutex<HashMap<PeerId, String>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Groups {
    /// Whether we host `group`.
    pub fn hosts(&self, group: &GroupId) -> bool {
        self.host.hosts(group)
    }

    /// Whether `peer` told Identify it is a goop-peer (so its `_from` stamps are trusted).
    pub fn is_goop_peer(&self, peer: &PeerId) -> bool {
        lock(&self.agents)
            .get(peer)
            .is_some_and(|agent| agent.starts_with(&format!("{}/", crate::SOFTWARE)))
    }

    fn record_agent(&self, peer: PeerId, agent: String) {
        let mut agents = lock(&self.agents);
        if agents.len() >= MAX_AGENTS && !agents.contains_key(&peer) {
            agents.clear();
        }
        agents.insert(peer, agent);
    }
}

/// Emits `group.<kind>`.
fn emit(
    node: &Node,
    kind: &'static str,
    group: &GroupId,
    from: Option<PeerId>,
    author: Option<String>,
    payload: Option<Value>,
) {
    node.events.emit(Event::Group(GroupEvent {
        kind,
        group: group.to_string(),
        from: from.map(|p| p.to_base58()),
        author,
        payload,
    }));
}

/// An inbound `group:<gid>:<type>` message: host traffic when we host the group, else the
/// traffic of a subscription (only from its host), else dropped.
pub(crate) async fn receive(node: &Node, from: PeerId, msg: &Msg) {
    let topic = match Topic::parse(&msg.topic) {
        Ok(topic) => topic,
        Err(error) => {
            tracing::debug!(%from, topic = %msg.topic, %error, "group: message dropped");
            return;
        }
    };
    let parsed = GroupMsg::parse(topic.kind, &msg.payload);
    if node.groups.host.hosts(&topic.group) && host::is_for_host(topic.kind) {
        host::receive(node, from, &topic.group, topic.kind, parsed).await;
        return;
    }
    match parsed {
        Ok(message) => member::receive(node, from, &topic.group, message).await,
        Err(error) => {
            tracing::debug!(%from, group = %topic.group, %error, "group: malformed message dropped");
            if topic.kind == Kind::Join {
                // goop2 hosts stay silent; we answer so the joiner need not wait.
                let error = wire::ErrorBody::new("bad_request", "malformed join");
                outbound::send(node, from, &topic.group, &GroupMsg::Error(error))
                    .await
                    .ok();
            }
        }
    }
}

/// An inbound `group.invite`.
pub(crate) async fn receive_invite(node: &Node, from: PeerId, payload: &Value) {
    match wire::Invite::parse(payload) {
        Ok((invite, group, host)) if host == from => {
            member::invited(node, from, group, invite).await;
        }
        Ok(_) => tracing::debug!(%from, "group: invite for another host dropped"),
        Err(error) => tracing::debug!(%from, %error, "group: malformed invite dropped"),
    }
}

impl From<GroupWireError> for GroupError {
    fn from(error: GroupWireError) -> Self {
        Self::invalid("payload", error.to_string())
    }
}

/// Reloads the persistent groups we host (empty member maps, §8.7) and our subscriptions, then
/// starts the group tasks: the ping loop, the rejoin loop and the Identify agent watch.
pub(crate) async fn start(node: &Arc<Node>, tasks: &Tasks) {
    host::load(node).await;
    reconnect::load(node).await;
    // Hosts read the revocations of every community whose vouchers their groups admit (§3.7).
    for community in host::voucher_communities(node) {
        node.vouchers.watch(&community);
    }
    tasks.spawn_infallible(
        "group revocations",
        manage::watch_revocations(
            node.clone(),
            node.vouchers.revoked(),
            tasks.token().child_token(),
        ),
    );
    tasks.spawn_infallible(
        "groups",
        host::run(node.clone(), tasks.token().child_token()),
    );
    tasks.spawn_infallible(
        "group rejoin",
        reconnect::run(node.clone(), tasks.token().child_token()),
    );
    let (node, token) = (node.clone(), tasks.token().child_token());
    tasks.spawn_infallible("group agents", async move {
        let mut events = node.net.subscribe();
        loop {
            tokio::select! {
                () = token.cancelled() => return,
                event = events.recv() => match event {
                    Ok(crate::p2p::NetEvent::Identified { peer, agent, .. }) => {
                        node.groups.record_agent(peer, agent);
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    });
}

/// Closes the volatile groups we host (peer.md §8.7), before the tasks stop.
pub(crate) async fn shutdown(node: &Node) {
    manage::close_volatile(node).await;
}

impl crate::Peer {
    /// The groups we host and joined (peer.md §1.1); the operations are [`manage`] (hosting),
    /// [`member`] (joining) and [`rooms`] (chat rooms).
    pub fn groups(&self) -> &Groups {
        &self.node().groups
    }
}

//! The host side of groups (peer.md §8.3, §8.4): the in-memory member lists, joins by policy,
//! leaves, relaying with `_from` stamped and `_to` honoured, the rate limit, pings, and removal
//! of members a send fails to reach. Changes reach memory only after the database commit.

mod inbound;
mod ping;

use std::collections::HashMap;
use std::sync::Mutex;

use libp2p::PeerId;
use serde::Serialize;
use serde_json::Value;
use shared::rate_limit::{Bucket, RateLimit};

use super::outbound;
use super::wire::{ErrorBody, GroupId, GroupMsg, Kind, MAX_MEMBERS, MemberInfo, Welcome};
use super::{emit, lock};
use crate::node::Node;
use crate::store::GroupRow;

pub(crate) use inbound::receive;
pub(crate) use ping::{load, run, voucher_communities};

/// A member that left within this keeps its role on rejoin.
const REJOIN_GRACE_MS: i64 = 120_000;
/// Most recently-left members remembered per group.
const MAX_RECENT: usize = 256;
/// At most one `not_member` error per peer per this.
const NOT_MEMBER_EVERY_MS: i64 = 10_000;
/// Most peers remembered for the `not_member` limit.
const MAX_NOT_MEMBER: usize = 1024;
/// Relay rate per member: 20 per second, burst 40.
const RELAY_RATE: RateLimit = RateLimit::new(40, 0.05);

/// One member of a hosted group.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub(crate) peer: PeerId,
    pub(crate) role: String,
    pub(crate) joined_at: i64,
    /// `iat` of the voucher that admitted it (policy `voucher`), for revocations.
    pub(crate) voucher_iat_ms: Option<i64>,
    bucket: Bucket,
}

/// A group we host.
#[derive(Debug, Clone)]
pub(crate) struct Hosted {
    pub(crate) row: GroupRow,
    pub(crate) members: Vec<Member>,
    pub(crate) state: Option<Value>,
    recent: HashMap<PeerId, (String, i64)>,
}

/// The hosted groups of a node.
#[derive(Debug, Default)]
pub(crate) struct HostState {
    pub(crate) groups: Mutex<HashMap<GroupId, Hosted>>,
    not_member: Mutex<HashMap<PeerId, i64>>,
}

impl HostState {
    pub(crate) fn hosts(&self, group: &GroupId) -> bool {
        lock(&self.groups).contains_key(group)
    }

    pub(crate) fn get(&self, group: &GroupId) -> Option<Hosted> {
        lock(&self.groups).get(group).cloned()
    }

    pub(crate) fn insert(&self, group: GroupId, row: GroupRow) {
        let state = row
            .state
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok());
        lock(&self.groups).insert(
            group,
            Hosted {
                row,
                members: Vec::new(),
                state,
                recent: HashMap::new(),
            },
        );
    }

    pub(crate) fn update<R>(&self, group: &GroupId, f: impl FnOnce(&mut Hosted) -> R) -> Option<R> {
        lock(&self.groups).get_mut(group).map(f)
    }

    /// Whether a `not_member` error may go to `peer` now (records it).
    fn may_tell_not_member(&self, peer: PeerId, now: i64) -> bool {
        let mut told = lock(&self.not_member);
        if told
            .get(&peer)
            .is_some_and(|at| now - at < NOT_MEMBER_EVERY_MS)
        {
            return false;
        }
        if told.len() >= MAX_NOT_MEMBER {
            told.retain(|_, at| now - *at < NOT_MEMBER_EVERY_MS);
        }
        told.insert(peer, now);
        true
    }
}

/// A hosted group as the local API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct HostedView {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Type.
    pub group_type: String,
    /// Context.
    pub group_context: String,
    /// 0 = no limit.
    pub max_members: u32,
    /// Ephemeral.
    pub volatile: bool,
    /// `open`, `voucher`, `invite`.
    pub join_policy: String,
    /// Hub URL of `voucher` groups.
    pub community: String,
    /// The host is a member.
    pub host_joined: bool,
    /// Role of joiners.
    pub default_role: String,
    /// Members, host first when it joined.
    pub members: Vec<MemberView>,
    /// Host-held state.
    pub state: Option<Value>,
}

/// A member as the local API shows it.
pub type MemberView = MemberInfo;

impl Hosted {
    /// The wire member list: the host first (`owner`) when it joined.
    pub(crate) fn infos(&self, node: &Node) -> Vec<MemberInfo> {
        let mut infos = Vec::with_capacity(self.members.len() + 1);
        if self.row.host_joined {
            infos.push(MemberInfo {
                peer_id: node.peer_id.to_base58(),
                name: Some(node.config.profile.label.clone()),
                role: "owner".to_owned(),
                joined_at: self.row.created_at,
            });
        }
        infos.extend(self.members.iter().map(|m| {
            MemberInfo {
                peer_id: m.peer.to_base58(),
                name: node
                    .peers
                    .get(&m.peer)
                    .map(|v| v.label)
                    .filter(|l| !l.is_empty()),
                role: m.role.clone(),
                joined_at: m.joined_at,
            }
        }));
        infos
    }

    pub(crate) fn welcome(&self, node: &Node) -> Welcome {
        Welcome {
            group_name: self.row.name.clone(),
            group_type: self.row.group_type.clone(),
            group_context: Some(self.row.group_context.clone()).filter(|c| !c.is_empty()),
            max_members: self.row.max_members,
            volatile: self.row.volatile,
            members: self.infos(node),
            state: self.state.clone(),
        }
    }

    pub(crate) fn view(&self, node: &Node) -> HostedView {
        HostedView {
            id: self.row.id.clone(),
            name: self.row.name.clone(),
            group_type: self.row.group_type.clone(),
            group_context: self.row.group_context.clone(),
            max_members: self.row.max_members,
            volatile: self.row.volatile,
            join_policy: self.row.join_policy.clone(),
            community: self.row.community.clone(),
            host_joined: self.row.host_joined,
            default_role: self.row.default_role.clone(),
            members: self.infos(node),
            state: self.state.clone(),
        }
    }

    pub(crate) fn is_member(&self, peer: &PeerId) -> bool {
        self.members.iter().any(|m| &m.peer == peer)
    }

    fn capacity(&self) -> usize {
        match self.row.max_members {
            0 => MAX_MEMBERS,
            max => (max as usize).min(MAX_MEMBERS),
        }
    }

    fn count(&self) -> usize {
        self.members.len() + usize::from(self.row.host_joined)
    }

    pub(crate) fn remove(&mut self, peer: &PeerId, now: i64) -> Option<Member> {
        let at = self.members.iter().position(|m| &m.peer == peer)?;
        let member = self.members.remove(at);
        if self.recent.len() >= MAX_RECENT {
            self.recent
                .retain(|_, (_, left)| now - *left <= REJOIN_GRACE_MS);
            if self.recent.len() >= MAX_RECENT {
                self.recent.clear();
            }
        }
        self.recent.insert(*peer, (member.role.clone(), now));
        Some(member)
    }
}

/// Message types a host receives.
pub(crate) fn is_for_host(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Join | Kind::Leave | Kind::Msg | Kind::State | Kind::Pong
    )
}

/// Sends an `error` with `code` to `peer`.
pub(crate) async fn tell(
    node: &Node,
    peer: PeerId,
    group: &GroupId,
    code: &str,
    text: &str,
    community: Option<&str>,
) {
    let mut error = ErrorBody::new(code, text);
    error.community = community.map(str::to_owned);
    if let Err(e) = outbound::send(node, peer, group, &GroupMsg::Error(error)).await {
        tracing::debug!(%peer, %group, code, error = %e, "group: error not delivered");
    }
}

/// Relays `payload` of `author` (a member, or us) to the other members (peer.md §8.4) and emits
/// the local event.
pub(crate) async fn relay(
    node: &Node,
    group: &GroupId,
    author: PeerId,
    kind: Kind,
    payload: &Value,
) {
    let Some(hosted) = node.groups.host.get(group) else {
        return;
    };
    let stamped = super::wire::stamp_from(payload, &author);
    let to = super::wire::addressee(payload);
    let targets: Vec<(PeerId, Value)> = hosted
        .members
        .iter()
        .filter(|m| m.peer != author)
        .filter(|m| match &to {
            None => true,
            Some(Ok(peer)) => &m.peer == peer,
            Some(Err(())) => false,
        })
        .map(|m| (m.peer, stamped.clone()))
        .collect();
    let word = kind.as_str();
    let event_kind = if kind == Kind::State { "state" } else { "msg" };
    emit(
        node,
        event_kind,
        group,
        Some(author),
        Some(author.to_base58()),
        Some(payload.clone()),
    );
    let failed = outbound::fan_out(node, group, kind, targets).await;
    if !failed.is_empty() {
        tracing::debug!(%group, kind = word, failed = failed.len(), "group: relay failures");
        remove_members(node, group, &failed, "unreachable").await;
    }
}

/// Sends `members` to every member except `except`, and emits `members`.
pub(crate) async fn announce_members(node: &Node, group: &GroupId, except: Option<PeerId>) {
    let Some(hosted) = node.groups.host.get(group) else {
        return;
    };
    let infos = hosted.infos(node);
    super::rooms::send_members(node, group, &infos).await;
    let message = GroupMsg::Members(infos);
    let payload = message.to_payload(group);
    emit(node, "members", group, None, None, Some(payload.clone()));
    let targets = hosted
        .members
        .iter()
        .filter(|m| Some(m.peer) != except)
        .map(|m| (m.peer, payload.clone()))
        .collect();
    let failed = outbound::fan_out(node, group, Kind::Members, targets).await;
    if !failed.is_empty() {
        Box::pin(remove_members(node, group, &failed, "unreachable")).await;
    }
}

/// Removes `peers` (database first), emits `leave` for each and sends `members` to the rest.
pub(crate) async fn remove_members(node: &Node, group: &GroupId, peers: &[PeerId], why: &str) {
    let guard = node.groups.host_write.lock().await;
    let Some(hosted) = node.groups.host.get(group) else {
        return;
    };
    let now = node.clock.now_ms();
    let mut removed = Vec::new();
    for peer in peers.iter().filter(|p| hosted.is_member(p)) {
        if !hosted.row.volatile
            && let Err(error) = node
                .store
                .delete_group_member(group.as_str(), &peer.to_base58())
                .await
        {
            tracing::warn!(%peer, %group, %error, "group: member removal not stored");
            continue;
        }
        node.groups.host.update(group, |h| h.remove(peer, now));
        removed.push(*peer);
    }
    drop(guard);
    for peer in &removed {
        tracing::info!(%peer, %group, why, "group: member removed");
        emit(node, "leave", group, Some(*peer), None, None);
    }
    if !removed.is_empty() {
        Box::pin(announce_members(node, group, None)).await;
    }
}

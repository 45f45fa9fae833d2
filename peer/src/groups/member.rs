//! The member side of groups (peer.md §8.4, §8.5): joining with a 5 s wait for `welcome` or
//! `error`, the subscription's traffic (only from its host), leaving, and invitations.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use libp2p::PeerId;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::oneshot;

use super::outbound;
use super::wire::{ErrorBody, GroupId, GroupMsg, Invite, MemberInfo, Welcome};
use super::{MAX_SUBSCRIPTIONS, emit, lock};
use crate::config::AutoAccept;
use crate::hub_url::HubUrl;
use crate::node::Node;
use crate::store::{GroupMemberRow, StoreError, SubscriptionRow};

/// How long a join waits for `welcome` or `error`.
pub const JOIN_WAIT: Duration = Duration::from_secs(5);
/// Pending invitations kept (7 days each).
const MAX_INVITES: usize = 256;
/// An invitation is kept this long.
const INVITE_TTL_MS: i64 = 7 * 24 * 3600 * 1000;
/// Error codes after which a subscription is kept (§8.5).
const KEEPS_SUBSCRIPTION: [&str; 3] = ["full", "rate_limited", "voucher_unverifiable"];

type Key = (PeerId, GroupId);

/// A subscription in memory: the row, the last member list and the connection state.
#[derive(Debug, Clone)]
pub(crate) struct Joined {
    pub(crate) row: SubscriptionRow,
    pub(crate) members: Vec<MemberInfo>,
    pub(crate) connected: bool,
    /// Unix ms of the last `ping` or `welcome`.
    pub(crate) heard_at: i64,
    /// When the next rejoin may start, and the backoff after it (ms).
    pub(crate) next_attempt: i64,
    pub(crate) backoff_ms: i64,
}

/// The member state of a node.
#[derive(Debug, Default)]
pub(crate) struct MemberState {
    pub(crate) joined: Mutex<HashMap<Key, Joined>>,
    waiters: Mutex<HashMap<Key, oneshot::Sender<GroupMsg>>>,
    invites: Mutex<Vec<PendingInvite>>,
}

/// A pending invitation (`GET /api/groups/invites`).
#[derive(Debug, Clone, Serialize)]
pub struct PendingInvite {
    /// The invitation as received.
    #[serde(flatten)]
    pub invite: Invite,
    /// Unix ms.
    pub received_at: i64,
}

/// A subscription as `GET /api/groups/subscriptions` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionView {
    /// The host.
    pub host_peer_id: String,
    /// The group.
    pub group_id: String,
    /// Name.
    pub group_name: String,
    /// Type.
    pub group_type: String,
    /// Our role.
    pub role: String,
    /// Unix ms.
    pub subscribed_at: i64,
    /// 0 = no limit.
    pub max_members: u32,
    /// Ephemeral.
    pub volatile: bool,
    /// The host's name.
    pub host_name: String,
    /// The community whose voucher we present.
    pub community: String,
    /// The host is online in the peer table (or connected).
    pub host_online: bool,
    /// We are in the group now (welcome or ping heard, not lost).
    pub connected: bool,
    /// Members in the last list.
    pub member_count: usize,
    /// The last member list.
    pub members: Vec<MemberInfo>,
}

/// Why a join did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// The host refused with an §8.2 code.
    #[error("{code}: {message}")]
    Refused {
        /// The code.
        code: String,
        /// The host's text.
        message: String,
    },
    /// No `welcome` or `error` within 5 s.
    #[error("the host did not answer within 5 s")]
    Timeout,
    /// The join did not reach the host.
    #[error(transparent)]
    Send(#[from] crate::mq::SendError),
    /// A bad argument or too many subscriptions.
    #[error("{0}")]
    Invalid(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Joins `group` at `host`, presenting our voucher of `community` when given (§8.5).
///
/// # Errors
/// [`JoinError`]; a timeout keeps an existing subscription, an error deletes it except `full`,
/// `rate_limited` and `voucher_unverifiable`.
pub async fn join(
    node: &Node,
    host: PeerId,
    group: &GroupId,
    community: Option<&HubUrl>,
) -> Result<Welcome, JoinError> {
    if host == node.peer_id {
        return Err(JoinError::Invalid(
            "use join-own for a group we host".to_owned(),
        ));
    }
    let key = (host, group.clone());
    let known = lock(&node.groups.member.joined).contains_key(&key);
    if !known && lock(&node.groups.member.joined).len() >= MAX_SUBSCRIPTIONS {
        return Err(JoinError::Invalid(format!(
            "at most {MAX_SUBSCRIPTIONS} subscriptions"
        )));
    }
    let mut community = community.cloned();
    let mut voucher = match &community {
        Some(url) => node.store.voucher(url).await?,
        None => None,
    };
    let mut retried = false;
    loop {
        match exchange(node, host, group, voucher.clone()).await {
            Err(JoinError::Timeout) => {
                mark_lost(node, &key);
                return Err(JoinError::Timeout);
            }
            Err(error) => return Err(error),
            Ok(GroupMsg::Welcome(welcome)) => {
                accept_welcome(node, host, group, &welcome, community.as_ref()).await?;
                return Ok(welcome);
            }
            Ok(GroupMsg::Error(error)) => {
                if !retried
                    && voucher.is_none()
                    && error.code == "voucher_required"
                    && let Some(url) = error
                        .community
                        .as_deref()
                        .and_then(|c| HubUrl::parse(c).ok())
                    && let Some(held) = node.store.voucher(&url).await?
                {
                    retried = true;
                    voucher = Some(held);
                    community = Some(url);
                    continue;
                }
                refused(node, &key, &error).await?;
                return Err(JoinError::Refused {
                    code: error.code,
                    message: error.message,
                });
            }
            Ok(_) => return Err(JoinError::Timeout),
        }
    }
}

async fn exchange(
    node: &Node,
    host: PeerId,
    group: &GroupId,
    voucher: Option<String>,
) -> Result<GroupMsg, JoinError> {
    let key = (host, group.clone());
    let (tx, rx) = oneshot::channel();
    lock(&node.groups.member.waiters).insert(key.clone(), tx);
    let sent = outbound::send(node, host, group, &GroupMsg::Join { voucher }).await;
    let answer = match sent {
        Ok(()) => tokio::time::timeout(JOIN_WAIT, rx).await,
        Err(error) => {
            lock(&node.groups.member.waiters).remove(&key);
            return Err(error.into());
        }
    };
    lock(&node.groups.member.waiters).remove(&key);
    match answer {
        Ok(Ok(message)) => Ok(message),
        _ => Err(JoinError::Timeout),
    }
}

fn mark_lost(node: &Node, key: &Key) {
    if let Some(joined) = lock(&node.groups.member.joined).get_mut(key) {
        joined.connected = false;
    }
}

async fn refused(node: &Node, key: &Key, error: &ErrorBody) -> Result<(), StoreError> {
    tracing::info!(host = %key.0, group = %key.1, code = %error.code, "group: join refused");
    if KEEPS_SUBSCRIPTION.contains(&error.code.as_str()) {
        mark_lost(node, key);
        return Ok(());
    }
    forget(node, key).await
}

async fn forget(node: &Node, key: &Key) -> Result<(), StoreError> {
    node.store
        .delete_group_subscription(&key.0.to_base58(), key.1.as_str())
        .await?;
    lock(&node.groups.member.joined).remove(key);
    node.groups.rooms.forget(&key.1);
    Ok(())
}

fn member_rows(members: &[MemberInfo]) -> Vec<GroupMemberRow> {
    members
        .iter()
        .map(|m| GroupMemberRow {
            peer_id: m.peer_id.clone(),
            role: m.role.clone(),
            name: m.name.clone(),
            joined_at: m.joined_at,
        })
        .collect()
}

async fn accept_welcome(
    node: &Node,
    host: PeerId,
    group: &GroupId,
    welcome: &Welcome,
    community: Option<&HubUrl>,
) -> Result<(), StoreError> {
    let me = node.peer_id.to_base58();
    let key = (host, group.clone());
    let now = node.clock.now_ms();
    let previous = lock(&node.groups.member.joined)
        .get(&key)
        .map(|j| j.row.clone());
    let row = SubscriptionRow {
        host_peer_id: host.to_base58(),
        group_id: group.to_string(),
        group_name: welcome.group_name.clone(),
        group_type: welcome.group_type.clone(),
        role: welcome
            .members
            .iter()
            .find(|m| m.peer_id == me)
            .map_or_else(|| "member".to_owned(), |m| m.role.clone()),
        subscribed_at: previous.as_ref().map_or(now, |p| p.subscribed_at),
        max_members: welcome.max_members,
        volatile: welcome.volatile,
        host_name: node.peers.get(&host).map(|v| v.label).unwrap_or_default(),
        community: community
            .map(ToString::to_string)
            .or_else(|| previous.map(|p| p.community))
            .unwrap_or_default(),
    };
    node.store.upsert_group_subscription(&row).await?;
    node.store
        .replace_group_members(group.as_str(), &member_rows(&welcome.members))
        .await?;
    lock(&node.groups.member.joined).insert(
        key,
        Joined {
            row,
            members: welcome.members.clone(),
            connected: true,
            heard_at: now,
            next_attempt: 0,
            backoff_ms: 0,
        },
    );
    tracing::info!(%host, %group, members = welcome.members.len(), "group: joined");
    let payload = GroupMsg::Welcome(welcome.clone()).to_payload(group);
    emit(node, "welcome", group, Some(host), None, Some(payload));
    Ok(())
}

/// Traffic from `from` about a group we do not host.
pub(crate) async fn receive(node: &Node, from: PeerId, group: &GroupId, message: GroupMsg) {
    let key = (from, group.clone());
    if matches!(message, GroupMsg::Welcome(_) | GroupMsg::Error(_))
        && let Some(waiter) = lock(&node.groups.member.waiters).remove(&key)
    {
        let _ = waiter.send(message);
        return;
    }
    let subscribed = lock(&node.groups.member.joined).contains_key(&key);
    if !subscribed {
        if matches!(message, GroupMsg::Join { .. }) {
            super::host::tell(node, from, group, "not_found", "no such group", None).await;
        } else {
            tracing::debug!(%from, %group, kind = message.kind().as_str(), "group: not from a host of ours, dropped");
        }
        return;
    }
    let result = match message {
        GroupMsg::Welcome(welcome) => accept_welcome(node, from, group, &welcome, None).await,
        GroupMsg::Members(members) => {
            let stored = node
                .store
                .replace_group_members(group.as_str(), &member_rows(&members))
                .await;
            if stored.is_ok()
                && let Some(joined) = lock(&node.groups.member.joined).get_mut(&key)
            {
                joined.members.clone_from(&members);
            }
            let payload = GroupMsg::Members(members).to_payload(group);
            emit(node, "members", group, Some(from), None, Some(payload));
            stored
        }
        GroupMsg::Meta(meta) => {
            let row = lock(&node.groups.member.joined).get(&key).map(|j| {
                let mut row = j.row.clone();
                row.group_name.clone_from(&meta.group_name);
                row.group_type.clone_from(&meta.group_type);
                row.max_members = meta.max_members;
                row
            });
            let stored = match row {
                Some(row) => node
                    .store
                    .upsert_group_subscription(&row)
                    .await
                    .map(|()| row),
                None => return,
            };
            if let Ok(row) = &stored
                && let Some(joined) = lock(&node.groups.member.joined).get_mut(&key)
            {
                joined.row = row.clone();
            }
            emit(
                node,
                "meta",
                group,
                Some(from),
                None,
                Some(GroupMsg::Meta(meta).to_payload(group)),
            );
            stored.map(|_| ())
        }
        GroupMsg::Msg(payload) => {
            relayed(node, from, group, &payload, "msg");
            Ok(())
        }
        GroupMsg::State(payload) => {
            relayed(node, from, group, &payload, "state");
            Ok(())
        }
        GroupMsg::Error(error) => {
            let payload = serde_json::to_value(&error).unwrap_or(Value::Null);
            emit(node, "error", group, Some(from), None, Some(payload));
            Ok(())
        }
        GroupMsg::Ping => {
            if let Some(joined) = lock(&node.groups.member.joined).get_mut(&key) {
                joined.heard_at = node.clock.now_ms();
                joined.connected = true;
            }
            outbound::send(node, from, group, &GroupMsg::Pong)
                .await
                .ok();
            Ok(())
        }
        GroupMsg::Close => {
            tracing::info!(host = %from, %group, "group: closed by the host");
            let forgotten = forget(node, &key).await;
            emit(node, "close", group, Some(from), None, None);
            forgotten
        }
        GroupMsg::Join { .. } | GroupMsg::Leave | GroupMsg::Pong => Ok(()),
    };
    if let Err(error) = result {
        tracing::warn!(host = %from, %group, %error, "group: change not stored");
    }
}

/// A relayed `msg`/`state` from our host: dropped when `_to` names someone else; `author` only
/// from a goop-peer host (§8.4).
fn relayed(node: &Node, host: PeerId, group: &GroupId, payload: &Value, kind: &'static str) {
    if let Some(to) = super::wire::addressee(payload)
        && to != Ok(node.peer_id)
    {
        return;
    }
    let author = if node.groups.is_goop_peer(&host) {
        payload
            .get("_from")
            .and_then(Value::as_str)
            .map(str::to_owned)
    } else {
        None
    };
    emit(node, kind, group, Some(host), author, Some(payload.clone()));
}

/// Leaves `group` at `host`: `leave` (best effort), then the subscription is deleted.
///
/// # Errors
/// [`StoreError`].
pub async fn leave(node: &Node, host: PeerId, group: &GroupId) -> Result<bool, StoreError> {
    let key = (host, group.clone());
    if !lock(&node.groups.member.joined).contains_key(&key) {
        return Ok(false);
    }
    if let Err(error) = outbound::send(node, host, group, &GroupMsg::Leave).await {
        tracing::debug!(%host, %group, %error, "group: leave not delivered");
    }
    forget(node, &key).await?;
    tracing::info!(%host, %group, "group: left");
    Ok(true)
}

/// The host of our subscription to `group` (the first, when several hosts use that id).
pub fn host_of(node: &Node, group: &GroupId) -> Option<PeerId> {
    lock(&node.groups.member.joined)
        .keys()
        .find(|(_, g)| g == group)
        .map(|(host, _)| *host)
}

/// Our subscriptions.
pub fn subscriptions(node: &Node) -> Vec<SubscriptionView> {
    let joined: Vec<Joined> = lock(&node.groups.member.joined).values().cloned().collect();
    let mut views: Vec<SubscriptionView> = joined
        .into_iter()
        .map(|j| {
            let host_online = j
                .row
                .host_peer_id
                .parse::<PeerId>()
                .ok()
                .and_then(|p| node.peers.get(&p))
                .is_some_and(|v| v.online);
            SubscriptionView {
                host_peer_id: j.row.host_peer_id,
                group_id: j.row.group_id,
                group_name: j.row.group_name,
                group_type: j.row.group_type,
                role: j.row.role,
                subscribed_at: j.row.subscribed_at,
                max_members: j.row.max_members,
                volatile: j.row.volatile,
                host_name: j.row.host_name,
                community: j.row.community,
                host_online: host_online || j.connected,
                connected: j.connected,
                member_count: j.members.len(),
                members: j.members,
            }
        })
        .collect();
    views.sort_by_key(|v| v.subscribed_at);
    views
}

/// A `group.invite` from its host: kept 7 days; joined at once when `groups.auto_accept_invites`
/// says so, else `group.invite` for the user.
pub(crate) async fn invited(node: &Node, host: PeerId, group: GroupId, invite: Invite) {
    let now = node.clock.now_ms();
    {
        let mut invites = lock(&node.groups.member.invites);
        invites.retain(|i| {
            now - i.received_at < INVITE_TTL_MS
                && !(i.invite.group_id == invite.group_id
                    && i.invite.host_peer_id == invite.host_peer_id)
        });
        if invites.len() >= MAX_INVITES {
            invites.remove(0);
        }
        invites.push(PendingInvite {
            invite: invite.clone(),
            received_at: now,
        });
    }
    let auto = match node.config.groups.auto_accept_invites {
        AutoAccept::All => true,
        AutoAccept::Favorites => node.peers.get(&host).is_some_and(|v| v.favorite),
        AutoAccept::None => false,
    };
    tracing::info!(%host, %group, auto, "group: invitation received");
    if auto {
        take_invite(node, host, &group);
        if let Err(error) = join(node, host, &group, None).await {
            tracing::info!(%host, %group, %error, "group: auto-join of an invitation failed");
        }
        return;
    }
    let payload = serde_json::to_value(&invite).unwrap_or(Value::Null);
    emit(node, "invite", &group, Some(host), None, Some(payload));
}

/// The pending invitations, oldest first.
pub fn invites(node: &Node) -> Vec<PendingInvite> {
    let now = node.clock.now_ms();
    let mut invites = lock(&node.groups.member.invites);
    invites.retain(|i| now - i.received_at < INVITE_TTL_MS);
    invites.clone()
}

/// Removes a pending invitation; whether there was one.
pub fn take_invite(node: &Node, host: PeerId, group: &GroupId) -> bool {
    let mut invites = lock(&node.groups.member.invites);
    let before = invites.len();
    let host = host.to_base58();
    invites.retain(|i| !(i.invite.host_peer_id == host && i.invite.group_id == group.as_str()));
    invites.len() != before
}

/// Sends `payload` as a `msg` to the host of our subscription to `group` (peer.md §8.4).
///
/// # Errors
/// [`super::GroupError::UnknownGroup`], [`super::GroupError::Invalid`] over 64 KiB,
/// [`super::GroupError::Send`].
pub async fn send(node: &Node, group: &GroupId, payload: &Value) -> Result<(), super::GroupError> {
    let host = host_of(node, group).ok_or(super::GroupError::UnknownGroup)?;
    GroupMsg::parse(super::wire::Kind::Msg, payload)?;
    outbound::send(node, host, group, &GroupMsg::Msg(payload.clone())).await?;
    Ok(())
}

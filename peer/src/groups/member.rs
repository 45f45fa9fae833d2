//! The member side of groups (peer.md §8.4, §8.5): joining with a 5 s wait for `welcome` or
//! `error`, the subscription's traffic (only from its host), leaving, and invitations.

mod inbound;
mod invites;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use libp2p::PeerId;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::oneshot;

use super::outbound;
use super::wire::{ErrorBody, GroupId, GroupMsg, MemberInfo, Welcome};
use super::{MAX_SUBSCRIPTIONS, emit, lock};
use crate::hub_url::HubUrl;
use crate::node::Node;
use crate::store::{GroupMemberRow, StoreError, SubscriptionRow};

pub(crate) use inbound::receive;
pub(crate) use invites::invited;
pub use invites::{PendingInvite, invites, take_invite};

/// How long a join waits for `welcome` or `error`.
pub const JOIN_WAIT: Duration = Duration::from_secs(5);
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

/// A join waiting for its answer. The `welcome` is stored by the dispatch task itself, before
/// the host's next message (history, relays) is dispatched.
#[derive(Debug)]
pub(crate) struct Waiter {
    community: Option<HubUrl>,
    answer: oneshot::Sender<Result<GroupMsg, StoreError>>,
}

/// The member state of a node.
#[derive(Debug, Default)]
pub(crate) struct MemberState {
    pub(crate) joined: Mutex<HashMap<Key, Joined>>,
    waiters: Mutex<HashMap<Key, Waiter>>,
    /// Joins under way: their host's room history may arrive before the welcome is stored.
    joining: Mutex<std::collections::HashSet<Key>>,
    invites: Mutex<Vec<PendingInvite>>,
}

/// A subscription as `GET /api/groups/subscriptions` shows it: the row and its live state.
#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionView {
    /// The stored subscription.
    #[serde(flatten)]
    pub row: SubscriptionRow,
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
        match exchange(node, host, group, voucher.clone(), community.clone()).await {
            Err(JoinError::Timeout) => {
                mark_lost(node, &key);
                return Err(JoinError::Timeout);
            }
            Err(error) => return Err(error),
            Ok(GroupMsg::Welcome(welcome)) => return Ok(welcome),
            Ok(GroupMsg::Error(error)) => {
                // An expired or invalid voucher: renew it (§3.6) and retry once with the new one.
                if !retried
                    && voucher.is_some()
                    && matches!(error.code.as_str(), "voucher_expired" | "voucher_invalid")
                    && let Some(url) = community.clone()
                    && crate::membership::refresh::renew_now(node, &url)
                        .await
                        .is_ok()
                    && let Some(renewed) = node.store.voucher(&url).await?
                {
                    tracing::info!(%host, %group, community = %url, "group: voucher renewed, joining again");
                    retried = true;
                    voucher = Some(renewed);
                    continue;
                }
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
    community: Option<HubUrl>,
) -> Result<GroupMsg, JoinError> {
    let key = (host, group.clone());
    let (answer, rx) = oneshot::channel();
    lock(&node.groups.member.waiters).insert(key.clone(), Waiter { community, answer });
    lock(&node.groups.member.joining).insert(key.clone());
    let sent = outbound::send(node, host, group, &GroupMsg::Join { voucher }).await;
    let answer = match sent {
        Ok(()) => tokio::time::timeout(JOIN_WAIT, rx).await,
        Err(error) => {
            lock(&node.groups.member.waiters).remove(&key);
            lock(&node.groups.member.joining).remove(&key);
            return Err(error.into());
        }
    };
    lock(&node.groups.member.waiters).remove(&key);
    lock(&node.groups.member.joining).remove(&key);
    match answer {
        Ok(Ok(Ok(message))) => Ok(message),
        Ok(Ok(Err(error))) => Err(error.into()),
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

pub(super) async fn forget(node: &Node, key: &Key) -> Result<(), StoreError> {
    node.store
        .delete_group_subscription(&key.0.to_base58(), key.1.as_str())
        .await?;
    lock(&node.groups.member.joined).remove(key);
    node.groups.rooms.forget(&key.1);
    Ok(())
}

pub(super) fn member_rows(members: &[MemberInfo]) -> Vec<GroupMemberRow> {
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

pub(super) async fn accept_welcome(
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

/// Whether `from` hosts our subscription to `group` or a join of it is under way.
pub(crate) fn is_host(node: &Node, from: PeerId, group: &GroupId) -> bool {
    let key = (from, group.clone());
    lock(&node.groups.member.joined).contains_key(&key)
        || lock(&node.groups.member.joining).contains(&key)
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
                host_online: host_online || j.connected,
                connected: j.connected,
                member_count: j.members.len(),
                members: j.members,
                row: j.row,
            }
        })
        .collect();
    views.sort_by_key(|v| v.row.subscribed_at);
    views
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

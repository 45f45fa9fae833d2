//! The host's operations of the local API (peer.md §8.3, §11.3): create, join/leave our own
//! group, send, kick and ban, invite, roles, meta, state, close, and closing the volatile groups
//! at shutdown (§8.7). Each writes the database before it changes memory or tells anyone.

mod create;

use std::time::Duration;

use futures::future::join_all;
use libp2p::PeerId;
use serde_json::Value;

use super::host::{self, HostedView};
use super::outbound;
use super::wire::{GroupId, GroupMsg, Invite, Kind, MAX_MEMBERS, MAX_STATE, Meta};
use super::{GroupError, emit, lock};
use crate::hub_url::HubUrl;
use crate::node::Node;

pub use create::{NewGroup, create};
use create::{valid_name, valid_role};

/// Deadline of sending `close` to every member (concurrently).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// An invitation is usable this long.
const INVITE_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

fn hosted(node: &Node, group: &GroupId) -> Result<host::Hosted, GroupError> {
    node.groups.host.get(group).ok_or(GroupError::UnknownGroup)
}

/// The groups we host, with their members.
pub fn list(node: &Node) -> Vec<HostedView> {
    let mut views: Vec<HostedView> = lock(&node.groups.host.groups)
        .values()
        .map(|h| h.view(node))
        .collect();
    views.sort_by(|a, b| a.id.cmp(&b.id));
    views
}

/// Makes us a member of our own group (`join-own`) or not (`leave-own`, only when no other
/// member remains).
///
/// # Errors
/// [`GroupError::UnknownGroup`], [`GroupError::Conflict`] `members_remain`.
pub async fn set_host_joined(node: &Node, group: &GroupId, joined: bool) -> Result<(), GroupError> {
    let guard = node.groups.host_write.lock().await;
    let h = hosted(node, group)?;
    if !joined && !h.members.is_empty() {
        return Err(GroupError::Conflict {
            code: "members_remain",
            message: "the host leaves its group only when no other member remains".to_owned(),
        });
    }
    if h.row.host_joined == joined {
        return Ok(());
    }
    let state = h.state.as_ref().map(Value::to_string);
    node.store
        .update_group_state(group.as_str(), state.as_deref(), joined)
        .await?;
    node.groups
        .host
        .update(group, |h| h.row.host_joined = joined);
    drop(guard);
    host::announce_members(node, group, None).await;
    Ok(())
}

/// Sends `payload` as the host: relayed to the members with `_from` = us (§8.4).
///
/// # Errors
/// [`GroupError::UnknownGroup`], [`GroupError::Invalid`] over 64 KiB.
pub async fn send(node: &Node, group: &GroupId, payload: &Value) -> Result<(), GroupError> {
    hosted(node, group)?;
    GroupMsg::parse(Kind::Msg, payload)?;
    host::relay(node, group, node.peer_id, Kind::Msg, payload).await;
    Ok(())
}

/// Replaces the host-held state, broadcast as `state` and included in later welcomes.
///
/// # Errors
/// [`GroupError::UnknownGroup`], [`GroupError::Invalid`] over 256 KiB.
pub async fn set_state(node: &Node, group: &GroupId, state: Value) -> Result<(), GroupError> {
    if super::wire::size_of(&state) > MAX_STATE {
        return Err(GroupError::invalid("state", "at most 256 KiB"));
    }
    let guard = node.groups.host_write.lock().await;
    let h = hosted(node, group)?;
    let text = state.to_string();
    node.store
        .update_group_state(group.as_str(), Some(&text), h.row.host_joined)
        .await?;
    node.groups
        .host
        .update(group, |h| h.state = Some(state.clone()));
    drop(guard);
    host::relay(node, group, node.peer_id, Kind::State, &state).await;
    Ok(())
}

/// Removes `peer` and sends it `close`; with `ban` it may not rejoin.
///
/// # Errors
/// [`GroupError::UnknownGroup`], [`GroupError::NotMember`] (unless banning).
pub async fn kick(node: &Node, group: &GroupId, peer: PeerId, ban: bool) -> Result<(), GroupError> {
    let h = hosted(node, group)?;
    if ban {
        let now = node.clock.now_ms();
        node.store
            .insert_group_access(group.as_str(), &peer.to_base58(), "banned", now, None)
            .await?;
    } else if !h.members.iter().any(|m| m.peer == peer) {
        return Err(GroupError::NotMember);
    }
    let was_member = h.members.iter().any(|m| m.peer == peer);
    host::remove_members(node, group, &[peer], if ban { "banned" } else { "kicked" }).await;
    if was_member && let Err(error) = outbound::send(node, peer, group, &GroupMsg::Close).await {
        tracing::debug!(%peer, %group, %error, "group: close to a kicked member not delivered");
    }
    Ok(())
}

/// Invites `peer` (valid 7 days) and sends it `group.invite`.
///
/// # Errors
/// [`GroupError::UnknownGroup`], [`GroupError::Send`] when the invitation was not delivered (the
/// access row stays).
pub async fn invite(node: &Node, group: &GroupId, peer: PeerId) -> Result<(), GroupError> {
    let h = hosted(node, group)?;
    let now = node.clock.now_ms();
    node.store
        .insert_group_access(
            group.as_str(),
            &peer.to_base58(),
            "invited",
            now,
            Some(now + INVITE_TTL_MS),
        )
        .await?;
    let invite = Invite {
        group_id: group.to_string(),
        group_name: h.row.name.clone(),
        host_peer_id: node.peer_id.to_base58(),
        group_type: h.row.group_type.clone(),
        group_context: Some(h.row.group_context.clone()).filter(|c| !c.is_empty()),
        volatile: h.row.volatile,
    };
    let payload = serde_json::to_value(&invite).unwrap_or(Value::Null);
    let sent = tokio::time::timeout(
        outbound::SEND_TIMEOUT,
        crate::mq::send(node, peer, super::wire::INVITE_TOPIC, payload),
    )
    .await
    .unwrap_or(Err(crate::mq::SendError::Timeout));
    sent?;
    tracing::info!(%peer, %group, "group: invitation sent");
    Ok(())
}

/// Sets a member's role and broadcasts `members`.
///
/// # Errors
/// [`GroupError::UnknownGroup`], [`GroupError::NotMember`], [`GroupError::Invalid`].
pub async fn set_role(
    node: &Node,
    group: &GroupId,
    peer: PeerId,
    role: &str,
) -> Result<(), GroupError> {
    if !valid_role(role) || role == "owner" {
        return Err(GroupError::invalid("role", "1–64 bytes, not owner"));
    }
    let guard = node.groups.host_write.lock().await;
    let h = hosted(node, group)?;
    let Some(member) = h.members.iter().find(|m| m.peer == peer) else {
        return Err(GroupError::NotMember);
    };
    if !h.row.volatile {
        let row = crate::store::GroupMemberRow {
            peer_id: peer.to_base58(),
            role: role.to_owned(),
            name: None,
            joined_at: member.joined_at,
        };
        node.store.upsert_group_member(group.as_str(), &row).await?;
    }
    node.groups.host.update(group, |h| {
        if let Some(m) = h.members.iter_mut().find(|m| m.peer == peer) {
            role.clone_into(&mut m.role);
        }
    });
    drop(guard);
    host::announce_members(node, group, None).await;
    Ok(())
}

/// Renames the group or changes its member limit; broadcasts `meta`.
///
/// # Errors
/// [`GroupError::UnknownGroup`], [`GroupError::Invalid`].
pub async fn set_meta(
    node: &Node,
    group: &GroupId,
    name: Option<String>,
    max_members: Option<u32>,
) -> Result<(), GroupError> {
    if name.as_deref().is_some_and(|n| !valid_name(n)) {
        return Err(GroupError::invalid(
            "name",
            "1–256 bytes, no control characters",
        ));
    }
    if max_members.is_some_and(|m| m as usize > MAX_MEMBERS) {
        return Err(GroupError::invalid("max_members", "at most 256"));
    }
    let guard = node.groups.host_write.lock().await;
    let h = hosted(node, group)?;
    let name = name.unwrap_or(h.row.name.clone());
    let max = max_members.unwrap_or(h.row.max_members);
    node.store
        .update_group_meta(group.as_str(), &name, max)
        .await?;
    node.groups.host.update(group, |h| {
        h.row.name.clone_from(&name);
        h.row.max_members = max;
    });
    drop(guard);
    let meta = GroupMsg::Meta(Meta {
        group_name: name,
        group_type: h.row.group_type.clone(),
        max_members: max,
    });
    let payload = meta.to_payload(group);
    emit(node, "meta", group, None, None, Some(payload.clone()));
    let sends = h
        .members
        .iter()
        .map(|m| (m.peer, payload.clone()))
        .collect();
    let failed = outbound::fan_out(node, group, Kind::Meta, sends).await;
    if !failed.is_empty() {
        host::remove_members(node, group, &failed, "unreachable").await;
    }
    Ok(())
}

/// Closes a group we host: `close` to every member (concurrently, 5 s), rows deleted, `close`.
///
/// # Errors
/// [`GroupError::UnknownGroup`], [`GroupError::Store`] (the group stays).
pub async fn close(node: &Node, group: &GroupId) -> Result<(), GroupError> {
    let guard = node.groups.host_write.lock().await;
    let h = hosted(node, group)?;
    node.store.delete_group(group.as_str()).await?;
    node.store
        .delete_group_subscription(&node.peer_id.to_base58(), group.as_str())
        .await?;
    lock(&node.groups.host.groups).remove(group);
    node.groups.rooms.forget(group);
    drop(guard);
    tracing::info!(%group, members = h.members.len(), "group: closed");
    let close = GroupMsg::Close.to_payload(group);
    let sends: Vec<_> = h.members.iter().map(|m| (m.peer, close.clone())).collect();
    let _ = tokio::time::timeout(
        CLOSE_TIMEOUT,
        outbound::fan_out(node, group, Kind::Close, sends),
    )
    .await;
    emit(node, "close", group, None, None, None);
    Ok(())
}

/// Follows the node's voucher revocations ([`crate::vouchers::Checker::revoked`]) and removes the
/// members they cover (peer.md §3.7) until `token` is cancelled or the stream ends.
pub async fn watch_revocations(
    node: std::sync::Arc<Node>,
    mut revoked: tokio::sync::broadcast::Receiver<crate::vouchers::Revoked>,
    token: tokio_util::sync::CancellationToken,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        let next = tokio::select! {
            () = token.cancelled() => return,
            next = revoked.recv() => next,
        };
        match next {
            Ok(revoked) => {
                remove_revoked(
                    &node,
                    &revoked.community,
                    revoked.peer,
                    revoked.revoked_before_ms,
                )
                .await;
            }
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(
                    missed,
                    "group: revocations missed; the voucher lifetime bounds them"
                );
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// Removes, with `close`, the members of our `voucher` groups of `community` that `peer`'s
/// revoked voucher admitted: issued before `revoked_before_ms` (peer.md §3.7).
pub async fn remove_revoked(node: &Node, community: &HubUrl, peer: PeerId, revoked_before_ms: i64) {
    let groups: Vec<GroupId> = lock(&node.groups.host.groups)
        .iter()
        .filter(|(_, h)| h.row.join_policy == "voucher" && h.row.community == community.as_str())
        .filter(|(_, h)| {
            h.members.iter().any(|m| {
                m.peer == peer && m.voucher_iat_ms.is_some_and(|iat| iat < revoked_before_ms)
            })
        })
        .map(|(id, _)| id.clone())
        .collect();
    for group in groups {
        tracing::info!(%peer, %group, %community, "group: member removed, its voucher was revoked");
        if let Err(error) = kick(node, &group, peer, false).await {
            tracing::warn!(%peer, %group, %error, "group: revoked member not removed");
        }
    }
}

/// Closes every volatile group we host (graceful shutdown, §8.7).
pub(crate) async fn close_volatile(node: &Node) {
    let volatile: Vec<GroupId> = lock(&node.groups.host.groups)
        .iter()
        .filter(|(_, h)| h.row.volatile)
        .map(|(id, _)| id.clone())
        .collect();
    join_all(volatile.iter().map(|group| async move {
        if let Err(error) = close(node, group).await {
            tracing::warn!(%group, %error, "group: volatile group not closed at shutdown");
        }
    }))
    .await;
}

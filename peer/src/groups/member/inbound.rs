//! What our hosts send (peer.md §8.4, §8.5): answers to pending joins, then the traffic of a
//! subscription, accepted only from its host: members, meta, relayed `msg`/`state` (`_to`
//! honoured, `author` only from a goop-peer host), errors, pings, close.

use libp2p::PeerId;
use serde_json::Value;

use super::super::outbound;
use super::super::wire::{GroupId, GroupMsg};
use super::super::{emit, lock};
use super::{accept_welcome, forget, member_rows};
use crate::node::Node;

/// Traffic from `from` about a group we do not host.
pub(crate) async fn receive(node: &Node, from: PeerId, group: &GroupId, message: GroupMsg) {
    let key = (from, group.clone());
    let waiter = if matches!(message, GroupMsg::Welcome(_) | GroupMsg::Error(_)) {
        lock(&node.groups.member.waiters).remove(&key)
    } else {
        None
    };
    if let Some(waiter) = waiter {
        let answer = match &message {
            GroupMsg::Welcome(welcome) => {
                accept_welcome(node, from, group, welcome, waiter.community.as_ref())
                    .await
                    .map(|()| message)
            }
            _ => Ok(message),
        };
        let _ = waiter.answer.send(answer);
        return;
    }
    let subscribed = super::is_host(node, from, group);
    if !subscribed {
        if matches!(message, GroupMsg::Join { .. }) {
            super::super::host::tell(node, from, group, "not_found", "no such group", None).await;
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
    if let Some(to) = super::super::wire::addressee(payload)
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

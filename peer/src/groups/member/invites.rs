//! Invitations (peer.md §8.5): `group.invite` from its host, kept 7 days; joined at once when
//! `groups.auto_accept_invites` says so, else shown to the user.

use libp2p::PeerId;
use serde::Serialize;
use serde_json::Value;

use super::super::wire::{GroupId, Invite};
use super::super::{emit, lock};
use super::join;
use crate::config::AutoAccept;
use crate::node::Node;

/// Pending invitations kept (7 days each).
const MAX_INVITES: usize = 256;
/// An invitation is kept this long.
const INVITE_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

/// A pending invitation (`GET /api/groups/invites`).
#[derive(Debug, Clone, Serialize)]
pub struct PendingInvite {
    /// The invitation as received.
    #[serde(flatten)]
    pub invite: Invite,
    /// Unix ms.
    pub received_at: i64,
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

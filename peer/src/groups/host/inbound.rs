//! What members send to a group we host (peer.md §8.3): joins checked by policy (ban, invite,
//! voucher, capacity) with the rejoin grace for roles, leaves, and `msg`/`state` from members
//! (non-members told `not_member`, oversize `too_large`, the rate limit `rate_limited`).

use std::time::Instant;

use libp2p::PeerId;
use shared::rate_limit::Bucket;

use super::super::admission;
use super::super::emit;
use super::super::outbound;
use super::super::wire::{GroupId, GroupMsg, GroupWireError, Kind};
use super::{
    Hosted, Member, REJOIN_GRACE_MS, RELAY_RATE, announce_members, relay, remove_members, tell,
};
use crate::hub_url::HubUrl;
use crate::node::Node;
use crate::store::{Access, GroupMemberRow};

/// Traffic from `from` to a group we host.
pub(crate) async fn receive(
    node: &Node,
    from: PeerId,
    group: &GroupId,
    kind: Kind,
    parsed: Result<GroupMsg, GroupWireError>,
) {
    let Some(hosted) = node.groups.host.get(group) else {
        return;
    };
    let member = hosted.is_member(&from);
    let message = match parsed {
        Ok(message) => message,
        Err(error) => {
            tracing::debug!(%from, %group, %error, "group: bad message from a joiner or member");
            let code = match error {
                GroupWireError::TooLarge(_) if member => Some(("too_large", "message too large")),
                _ if member || kind == Kind::Join => Some(("bad_request", "malformed message")),
                _ => None,
            };
            if let Some((code, text)) = code {
                tell(node, from, group, code, text, None).await;
            }
            return;
        }
    };
    match message {
        GroupMsg::Join { voucher } => join(node, from, group, voucher).await,
        GroupMsg::Leave if member => {
            remove_members(node, group, &[from], "leave").await;
        }
        GroupMsg::Pong => {}
        GroupMsg::Msg(payload) | GroupMsg::State(payload) if !member => {
            let _ = payload;
            let now = node.clock.now_ms();
            tracing::debug!(%from, %group, "group: message from a non-member dropped");
            if node.groups.host.may_tell_not_member(from, now) {
                tell(
                    node,
                    from,
                    group,
                    "not_member",
                    "not a member of this group",
                    None,
                )
                .await;
            }
        }
        GroupMsg::Msg(payload) | GroupMsg::State(payload) => {
            let allowed = node.groups.host.update(group, |h| {
                h.members
                    .iter_mut()
                    .find(|m| m.peer == from)
                    .map(|m| m.bucket.take(RELAY_RATE, Instant::now()).is_ok())
            });
            if allowed.flatten() != Some(true) {
                tell(node, from, group, "rate_limited", "too many messages", None).await;
                return;
            }
            relay(node, group, from, kind, &payload).await;
        }
        _ => {
            tracing::debug!(%from, %group, kind = kind.as_str(), "group: unexpected message dropped")
        }
    }
}

pub(super) async fn join(node: &Node, caller: PeerId, group: &GroupId, voucher: Option<String>) {
    // The voucher is checked before the host lock is taken: checking may fetch the community's
    // info document, and other groups must not wait for it.
    let checked = match node.groups.host.get(group) {
        Some(h) if h.row.join_policy == "voucher" && !h.is_member(&caller) => {
            Some(check_voucher(node, caller, &h, voucher.as_deref()).await)
        }
        _ => None,
    };
    let guard = node.groups.host_write.lock().await;
    let now = node.clock.now_ms();
    let Some(hosted) = node.groups.host.get(group) else {
        drop(guard);
        tell(node, caller, group, "not_found", "no such group", None).await;
        return;
    };
    if hosted.is_member(&caller) {
        drop(guard);
        let welcome = hosted.welcome(node);
        outbound::send(node, caller, group, &GroupMsg::Welcome(welcome))
            .await
            .ok();
        return;
    }
    match admit(node, caller, &hosted, checked, now).await {
        Err((code, text)) => {
            drop(guard);
            tracing::info!(peer = %caller, %group, code, "group: join refused");
            let community = code
                .starts_with("voucher_")
                .then_some(hosted.row.community.as_str());
            tell(node, caller, group, code, text, community).await;
        }
        Ok(admitted) => {
            let role = role_for(node, &hosted, &caller, now).await;
            let row = GroupMemberRow {
                peer_id: caller.to_base58(),
                role: role.clone(),
                name: None,
                joined_at: now,
            };
            let stored = async {
                if !hosted.row.volatile {
                    node.store.upsert_group_member(group.as_str(), &row).await?;
                }
                node.store
                    .delete_group_access(group.as_str(), &row.peer_id)
                    .await
            };
            if let Err(error) = stored.await {
                drop(guard);
                tracing::warn!(peer = %caller, %group, %error, "group: join not stored");
                return;
            }
            let member = Member {
                peer: caller,
                role,
                joined_at: now,
                voucher_iat_ms: admitted.map(|a| a.iat_ms),
                bucket: Bucket::full(RELAY_RATE, Instant::now()),
            };
            let Some(hosted) = node.groups.host.update(group, |h| {
                h.members.push(member);
                h.clone()
            }) else {
                return;
            };
            drop(guard);
            tracing::info!(peer = %caller, %group, members = hosted.members.len(), "group: member joined");
            let welcome = GroupMsg::Welcome(hosted.welcome(node));
            if outbound::send(node, caller, group, &welcome).await.is_err() {
                remove_members(node, group, &[caller], "unreachable").await;
                return;
            }
            super::super::rooms::send_history(node, group, caller).await;
            emit(node, "join", group, Some(caller), None, None);
            announce_members(node, group, Some(caller)).await;
        }
    }
}

type Refusal = (&'static str, &'static str);

/// The voucher step of the `voucher` policy (§3.7).
async fn check_voucher(
    node: &Node,
    caller: PeerId,
    hosted: &Hosted,
    voucher: Option<&str>,
) -> Result<admission::Admitted, Refusal> {
    let Some(jwt) = voucher else {
        return Err(("voucher_required", "a membership voucher is required"));
    };
    let community = HubUrl::parse(&hosted.row.community)
        .map_err(|_| ("voucher_unverifiable", "the group's community is unusable"))?;
    admission::check_voucher(node, caller, jwt, &community)
        .await
        .map_err(|code| (code.0, "voucher refused"))
}

/// The policy checks of a join, in the order of §8.3 (`checked`: the voucher step's result,
/// computed beforehand).
async fn admit(
    node: &Node,
    caller: PeerId,
    hosted: &Hosted,
    checked: Option<Result<admission::Admitted, Refusal>>,
    now: i64,
) -> Result<Option<admission::Admitted>, Refusal> {
    let gid = hosted.row.id.as_str();
    let access = node
        .store
        .find_group_access(gid, &caller.to_base58(), now)
        .await
        .map_err(|_| ("bad_request", "try again"))?;
    if access == Some(Access::Banned) {
        return Err(("banned", "you are banned from this group"));
    }
    if hosted.row.join_policy == "invite" && access != Some(Access::Invited) {
        return Err(("not_invited", "this group is invite-only"));
    }
    let admitted = match (hosted.row.join_policy.as_str(), checked) {
        ("voucher", Some(result)) => Some(result?),
        // The policy changed under us: no voucher was checked.
        ("voucher", None) => return Err(("voucher_required", "a membership voucher is required")),
        _ => None,
    };
    if hosted.count() >= hosted.capacity() {
        return Err(("full", "group is full"));
    }
    Ok(admitted)
}

/// The role of a joiner: its role if it left within the grace, else its stored role (persistent
/// groups after a restart), else the default.
async fn role_for(node: &Node, hosted: &Hosted, caller: &PeerId, now: i64) -> String {
    if let Some((role, left)) = hosted.recent.get(caller)
        && now - left <= REJOIN_GRACE_MS
    {
        return role.clone();
    }
    if !hosted.row.volatile
        && let Ok(stored) = node.store.list_group_members(&hosted.row.id).await
        && let Some(row) = stored.into_iter().find(|r| r.peer_id == caller.to_base58())
    {
        return row.role;
    }
    hosted.row.default_role.clone()
}

//! The host's ping loop (peer.md §8.3) and the reload of hosted groups at start (§8.7).

use std::sync::Arc;
use std::time::Duration;

use libp2p::PeerId;
use tokio_util::sync::CancellationToken;

use super::super::lock;
use super::super::outbound;
use super::super::wire::{GroupId, GroupMsg, Kind};
use super::remove_members;
use crate::hub_url::HubUrl;
use crate::node::Node;

/// Loads the groups we host, with empty member maps (§8.7).
pub(crate) async fn load(node: &Node) {
    match node.store.list_groups().await {
        Ok(rows) => {
            for row in rows {
                if let Some(id) = GroupId::parse(&row.id) {
                    tracing::info!(group = %id, name = %row.name, "group: hosted group reloaded");
                    node.groups.host.insert(id, row);
                }
            }
        }
        Err(error) => tracing::warn!(%error, "group: hosted groups not loaded"),
    }
}

/// The communities whose vouchers our `voucher` groups admit.
pub(crate) fn voucher_communities(node: &Node) -> Vec<HubUrl> {
    let mut communities: Vec<HubUrl> = lock(&node.groups.host.groups)
        .values()
        .filter(|h| h.row.join_policy == "voucher")
        .filter_map(|h| HubUrl::parse(&h.row.community).ok())
        .collect();
    communities.sort();
    communities.dedup();
    communities
}

/// Pings every member of every hosted group each `groups.ping_secs`; members a ping cannot
/// reach are removed.
pub(crate) async fn run(node: Arc<Node>, token: CancellationToken) {
    let period = Duration::from_secs(node.config.groups.ping_secs);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            _ = tick.tick() => {}
        }
        let groups: Vec<(GroupId, Vec<PeerId>)> = lock(&node.groups.host.groups)
            .iter()
            .map(|(id, h)| (id.clone(), h.members.iter().map(|m| m.peer).collect()))
            .collect();
        for (group, members) in groups {
            let ping = GroupMsg::Ping.to_payload(&group);
            let sends = members.into_iter().map(|p| (p, ping.clone())).collect();
            let failed = tokio::select! {
                () = token.cancelled() => return,
                failed = outbound::fan_out(&node, &group, Kind::Ping, sends) => failed,
            };
            if !failed.is_empty() {
                remove_members(&node, &group, &failed, "ping failed").await;
            }
        }
    }
}

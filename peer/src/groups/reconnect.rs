//! Rejoining (peer.md §8.6): the stored subscriptions are loaded at start and rejoined after
//! `groups.rejoin_delay_secs`; a member that loses its host (presence offline, or no `ping` for
//! `groups.silence_secs`) rejoins with a backoff from `groups.rejoin_backoff_secs` doubling to
//! `groups.rejoin_backoff_max_secs` while the host is not known offline; a host coming back
//! online is retried at once. At most 8 joins run at a time.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use libp2p::PeerId;
use tokio_util::sync::CancellationToken;

use super::lock;
use super::member::{self, Joined};
use super::wire::GroupId;
use crate::hub_url::HubUrl;
use crate::node::Node;

/// Joins at once.
const PARALLEL: usize = 8;
/// Period of the check.
const TICK: Duration = Duration::from_millis(500);

/// Loads the stored subscriptions (not our own groups); non-volatile ones are due for a rejoin
/// after `groups.rejoin_delay_secs`.
pub(crate) async fn load(node: &Node) {
    let config = &node.config.groups;
    let base = secs_ms(config.rejoin_backoff_secs);
    let start = node.clock.now_ms() + secs_ms(config.rejoin_delay_secs);
    match node.store.list_group_subscriptions().await {
        Ok(rows) => {
            let me = node.peer_id.to_base58();
            let mut joined = lock(&node.groups.member.joined);
            for row in rows.into_iter().filter(|r| r.host_peer_id != me) {
                let (Ok(host), Some(group)) = (
                    row.host_peer_id.parse::<PeerId>(),
                    GroupId::parse(&row.group_id),
                ) else {
                    continue;
                };
                // Volatile groups ended with their host's last run; they are rejoined only when
                // the host is heard from again.
                let next_attempt = if row.volatile { i64::MAX } else { start };
                joined.entry((host, group)).or_insert(Joined {
                    row,
                    members: Vec::new(),
                    connected: false,
                    heard_at: 0,
                    next_attempt,
                    backoff_ms: base,
                });
            }
        }
        Err(error) => tracing::warn!(%error, "group: subscriptions not loaded"),
    }
}

/// Keeps the subscriptions joined until `token` is cancelled.
pub(crate) async fn run(node: Arc<Node>, token: CancellationToken) {
    let config = &node.config.groups;
    let (base, max) = (
        secs_ms(config.rejoin_backoff_secs),
        secs_ms(config.rejoin_backoff_max_secs),
    );
    let silence = secs_ms(config.silence_secs);
    let mut offline: std::collections::HashSet<PeerId> = std::collections::HashSet::new();
    let mut tick = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = node.clock.now_ms();
        let due = due(&node, now, silence, base, &mut offline);
        if due.is_empty() {
            continue;
        }
        let attempts = join_all(due.into_iter().map(|(host, group, community)| {
            let node = &node;
            async move {
                let url = HubUrl::parse(&community).ok();
                let result = member::join(node, host, &group, url.as_ref()).await;
                (host, group, result)
            }
        }));
        let results = tokio::select! {
            () = token.cancelled() => return,
            results = attempts => results,
        };
        let now = node.clock.now_ms();
        for (host, group, result) in results {
            if let Err(error) = &result {
                tracing::debug!(%host, %group, %error, "group: rejoin failed");
            }
            if let Some(j) = lock(&node.groups.member.joined).get_mut(&(host, group)) {
                if result.is_ok() {
                    j.backoff_ms = base;
                } else {
                    j.next_attempt = now + j.backoff_ms;
                    j.backoff_ms = (j.backoff_ms * 2).min(max);
                }
            }
        }
    }
}

/// Marks lost subscriptions and returns those due for a rejoin (at most [`PARALLEL`]).
fn due(
    node: &Node,
    now: i64,
    silence: i64,
    base: i64,
    offline: &mut std::collections::HashSet<PeerId>,
) -> Vec<(PeerId, GroupId, String)> {
    let mut joined = lock(&node.groups.member.joined);
    let mut due = Vec::new();
    for ((host, group), j) in joined.iter_mut() {
        // Only a source that saw the host can say it is offline: an entry without sightings
        // (made by the identity exchange) knows nothing.
        let known_offline = node
            .peers
            .get(host)
            .is_some_and(|v| !v.online && !v.sightings.is_empty());
        if known_offline {
            offline.insert(*host);
        } else if offline.remove(host) {
            tracing::info!(%host, %group, "group: host back online, rejoining");
            j.next_attempt = now;
            j.backoff_ms = base;
        }
        if j.connected && (known_offline || now - j.heard_at > silence) {
            tracing::info!(%host, %group, known_offline, "group: host lost");
            j.connected = false;
            j.next_attempt = now;
            j.backoff_ms = base;
        }
        if !j.connected && !known_offline && j.next_attempt <= now && due.len() < PARALLEL {
            // Until the attempt ends, no second one starts.
            j.next_attempt = i64::MAX;
            due.push((*host, group.clone(), j.row.community.clone()));
        }
    }
    due
}

fn secs_ms(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

//! Federation (superhub.md §7): the change feed other super hubs pull ([`feed`], [`cursor`]) and
//! the pull loop that reads theirs ([`pull`], [`items`], [`backoff`]). Pulled records go through
//! the directory's one write path, so ordering by `seq` stops duplicates and cycles.

pub mod backoff;
pub mod cursor;
pub mod feed;
pub mod items;
pub(crate) mod pull;

use std::sync::Arc;

use shared::api::{FederationInfo, FederationPeerInfo};
use shared::server::Tasks;

use crate::config::Config;
use crate::directory::Directory;
use crate::lease::Leases;
use crate::metrics::FederationMetrics;
use crate::store::Store;

/// The `federation` block of `/api/v1/info` (§2): each configured peer with its stored state.
pub async fn info_block(store: &Store, config: &Config) -> FederationInfo {
    let federation = &config.federation;
    let mut peers = Vec::with_capacity(federation.peers.len());
    for peer in &federation.peers {
        let state = match store.federation_peer(peer.key()).await {
            Ok(Some(row)) => row.state,
            _ => "ok".to_owned(),
        };
        peers.push(FederationPeerInfo {
            id: peer.id.clone(),
            url: peer.url.clone(),
            name: peer.name.clone(),
            state,
        });
    }
    FederationInfo {
        enabled: federation.enabled,
        pull_interval_secs: federation.pull_interval.as_secs(),
        peers,
    }
}

/// Spawns one puller per configured peer when federation is enabled.
pub(crate) fn spawn_pullers(
    tasks: &Tasks,
    directory: &Directory,
    config: &Arc<Config>,
    metrics: &FederationMetrics,
    leases: &Leases,
) {
    if !config.federation.enabled {
        return;
    }
    let client = pull::client(config);
    for peer in &config.federation.peers {
        metrics.add_peer(peer.key());
        let puller = pull::Puller {
            peer: peer.clone(),
            directory: directory.clone(),
            config: config.clone(),
            client: client.clone(),
            metrics: metrics.clone(),
            leases: leases.clone(),
            failing_since: std::sync::Mutex::new(None),
        };
        tasks.spawn_infallible("federation-pull", puller.run(tasks.token().child_token()));
    }
}

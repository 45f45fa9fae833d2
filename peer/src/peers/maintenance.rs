//! The peer table's housekeeping task: loads `_peer_cache` at start, runs the prune tick every
//! second (peer.md §3.4) and writes changed entries to `_peer_cache`, each row at most once per
//! 30 s except user flags (peer.md §12). At shutdown it writes what is still dirty.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::node::Node;

/// The prune tick (peer.md §13).
pub(crate) const PRUNE_TICK: Duration = Duration::from_secs(1);
/// Rows written per tick at most; the rest wait for the next tick.
const ROWS_PER_FLUSH: usize = 500;
/// The last write at shutdown gives up after this.
const FINAL_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// Runs until `token` is cancelled.
pub(crate) async fn run(node: Arc<Node>, token: CancellationToken) {
    // Not cut short by cancellation: the final write must not run over flags never loaded.
    match node.store.list_peer_cache(super::MAX_PEERS).await {
        Ok(rows) => {
            tracing::debug!(rows = rows.len(), "peer cache loaded");
            node.peers.lock().load(rows, node.clock.now_ms());
        }
        Err(error) => tracing::warn!(%error, "peer cache could not be read; starting empty"),
    }
    let presence = &node.config.presence;
    let ttl_ms = i64::try_from(presence.ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let grace_ms =
        i64::try_from(presence.offline_grace_mins.saturating_mul(60_000)).unwrap_or(i64::MAX);
    let mut tick = tokio::time::interval(PRUNE_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = token.cancelled() => break,
            _ = tick.tick() => {
                node.peers.prune(node.clock.now_ms(), ttl_ms, grace_ms);
                flush(&node, false).await;
            }
        }
    }
    if tokio::time::timeout(FINAL_FLUSH_TIMEOUT, flush(&node, true))
        .await
        .is_err()
    {
        tracing::warn!("peer cache: the last write did not finish before shutdown");
    }
}

/// Writes the rows that are due (all dirty ones with `all`) and deletes removed peers' rows. A
/// failed write is retried at the next tick.
async fn flush(node: &Node, all: bool) {
    loop {
        let now = node.clock.now_ms();
        let (rows, removed) = node.peers.lock().take_cache_work(now, all, ROWS_PER_FLUSH);
        if rows.is_empty() && removed.is_empty() {
            return;
        }
        let full = rows.len() >= ROWS_PER_FLUSH;
        if let Err(error) = node.store.write_peer_cache(&rows, &removed).await {
            tracing::warn!(%error, rows = rows.len(), "peer cache write failed; retrying");
            node.peers.lock().requeue_cache_work(&rows, removed);
            return;
        }
        if !(all && full) {
            return;
        }
    }
}

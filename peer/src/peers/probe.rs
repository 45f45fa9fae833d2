//! The content prober (peer.md §3.4): probes new peers and unreachable ones that sent an update
//! with `/goop/content/1.0.0`, at most [`MAX_PROBES`] at once, and feeds the outcomes to the
//! reachability rule of the table.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::maintenance::PRUNE_TICK;
use crate::content::ProbeError;
use crate::dial::DialError;
use crate::node::Node;

/// Probes in flight at most.
pub(crate) const MAX_PROBES: usize = 8;

/// Runs until `token` is cancelled.
pub(crate) async fn run(node: Arc<Node>, tracker: TaskTracker, token: CancellationToken) {
    let slots = Arc::new(Semaphore::new(MAX_PROBES));
    // Retries come due with the clock, not with an upsert: a slow tick catches them.
    let mut tick = tokio::time::interval(PRUNE_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            () = node.peers.probe_wake.notified() => {}
            _ = tick.tick() => {}
        }
        let free = slots.available_permits();
        if free == 0 {
            continue;
        }
        let due = node.peers.lock().take_due_probes(node.clock.now_ms(), free);
        for peer in due {
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                node.peers.lock().abandon_probe(&peer);
                continue;
            };
            let node = node.clone();
            let token = token.clone();
            tracker.spawn(async move {
                let _permit = permit;
                let outcome = tokio::select! {
                    () = token.cancelled() => None,
                    result = crate::content::probe(&node, peer) => Some(result),
                };
                match outcome {
                    None | Some(Err(ProbeError::Dial(DialError::Stopped))) => {
                        node.peers.lock().abandon_probe(&peer);
                    }
                    Some(result) => {
                        let reachable = match &result {
                            Ok(_) => true,
                            Err(error) => error.opened(),
                        };
                        if let Err(error) = &result {
                            tracing::debug!(%peer, %error, reachable, "content probe failed");
                        }
                        node.peers
                            .record_probe(&peer, reachable, node.clock.now_ms());
                    }
                }
            });
        }
    }
}

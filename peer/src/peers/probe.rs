//! The content prober (peer.md §3.4): probes new peers and unreachable ones that sent an update
//! with `/goop/content/1.0.0`, at most [`MAX_PROBES`] at once, and the reachability rule the
//! outcomes feed.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use libp2p::PeerId;

use super::maintenance::PRUNE_TICK;
use super::table::{Change, Table};
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

/// Two probe failures at least this far apart make a peer unreachable (peer.md §3.4).
pub(crate) const PROBE_RETRY_MS: i64 = 2_000;

/// Content probing state of one peer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ProbeState {
    /// A probe should run once `now >= not_before`.
    pub(crate) wanted: bool,
    pub(crate) in_flight: bool,
    pub(crate) not_before: i64,
    /// Time of the first failure of the current run of failures.
    pub(super) first_failure_at: Option<i64>,
}

impl Table {
    /// Applies a probe outcome (peer.md §3.4): success ⇒ reachable; two failures at least
    /// [`PROBE_RETRY_MS`] apart ⇒ unreachable, the first one schedules the second attempt.
    pub(crate) fn record_probe(
        &mut self,
        peer: &PeerId,
        reachable: bool,
        now: i64,
    ) -> Option<Change> {
        self.edit(peer, now, |entry| {
            let probe = &mut entry.probe;
            probe.in_flight = false;
            if reachable {
                entry.reachable = Some(true);
                probe.wanted = false;
                probe.first_failure_at = None;
                return;
            }
            match probe.first_failure_at {
                Some(first) if now - first >= PROBE_RETRY_MS => {
                    entry.reachable = Some(false);
                    probe.wanted = false;
                    probe.first_failure_at = None;
                }
                Some(first) => {
                    probe.wanted = true;
                    probe.not_before = first + PROBE_RETRY_MS;
                }
                None => {
                    probe.first_failure_at = Some(now);
                    probe.wanted = true;
                    probe.not_before = now + PROBE_RETRY_MS;
                }
            }
        })
    }

    /// Up to `max` online peers whose probe is due; they are marked in flight.
    pub(crate) fn take_due_probes(&mut self, now: i64, max: usize) -> Vec<PeerId> {
        let mut due = Vec::new();
        for (peer, entry) in &mut self.peers {
            if due.len() >= max {
                break;
            }
            let probe = &mut entry.probe;
            let online = entry.sightings.values().any(|s| !s.offline);
            if probe.wanted
                && !probe.in_flight
                && probe.not_before <= now
                && !entry.blocked
                && online
            {
                probe.in_flight = true;
                probe.wanted = false;
                due.push(*peer);
            }
        }
        due
    }

    /// A probe ended without an outcome (the peer is shutting down): it is wanted again.
    pub(crate) fn abandon_probe(&mut self, peer: &PeerId) {
        if let Some(entry) = self.peers.get_mut(peer) {
            entry.probe.in_flight = false;
            entry.probe.wanted = true;
        }
    }
}

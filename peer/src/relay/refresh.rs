//! `/goop/relay-refresh/1.0.0` server (peer.md §3.5): a hub opens it when someone pulses us
//! (hub.md §5.9). Only the relays of our hubs are answered; any other remote gets a stream reset.
//! The answer is one JSON line, then the stream is closed: `{"ok":true,"has_circuit":true}` while
//! we hold a circuit address through that relay, else
//! `{"ok":false,"has_circuit":false,"recovering":true}` and the hub's worker starts recovery at
//! once.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{AsyncWriteExt as _, StreamExt as _};
use libp2p::PeerId;
use shared::protocol::RELAY_REFRESH;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Workers;
use crate::node::Node;

/// Deadline for writing the answer.
const WRITE_TIMEOUT: Duration = Duration::from_secs(3);
/// The answer while a circuit address exists.
const HAS_CIRCUIT: &[u8] = b"{\"ok\":true,\"has_circuit\":true}\n";
/// The answer when recovery starts.
const RECOVERING: &[u8] = b"{\"ok\":false,\"has_circuit\":false,\"recovering\":true}\n";

pub(super) async fn serve(
    node: Arc<Node>,
    workers: Workers,
    tracker: TaskTracker,
    token: CancellationToken,
) {
    let mut incoming = match node.net.inbound().accept(RELAY_REFRESH) {
        Ok(incoming) => incoming,
        Err(error) => {
            tracing::error!(%error, "cannot serve /goop/relay-refresh");
            return;
        }
    };
    let in_flight = InFlight::default();
    loop {
        let (peer, stream) = tokio::select! {
            () = token.cancelled() => break,
            next = incoming.next() => match next {
                Some(next) => next,
                None => break,
            },
        };
        // One stream per remote at a time (peer.md §4); excess streams are reset.
        let Some(slot) = in_flight.take(peer) else {
            tracing::debug!(%peer, "relay-refresh already in progress: reset");
            continue;
        };
        let answer = answer(node.clone(), workers.clone(), peer, stream);
        let token = token.clone();
        tracker.spawn(async move {
            tokio::select! {
                () = token.cancelled() => {}
                () = answer => {}
            }
            drop(slot);
        });
    }
}

/// Remotes with a stream being answered. Bounded by the number of streams the swarm lets in.
#[derive(Debug, Clone, Default)]
struct InFlight(Arc<Mutex<HashSet<PeerId>>>);

/// Frees a remote's slot when dropped.
struct Slot(InFlight, PeerId);

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<PeerId>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take(&self, peer: PeerId) -> Option<Slot> {
        self.lock().insert(peer).then(|| Slot(self.clone(), peer))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.lock().remove(&self.1);
    }
}

async fn answer(node: Arc<Node>, workers: Workers, peer: PeerId, mut stream: libp2p::Stream) {
    let Some(hub) = node.hubs.by_relay(&peer) else {
        tracing::debug!(%peer, "relay-refresh from a peer that is not one of our relays: reset");
        // Dropping an unclosed stream resets it.
        return;
    };
    let has_circuit = hub.relay_state == "reserved" && hub.circuit_addr.is_some();
    let line = if has_circuit {
        HAS_CIRCUIT
    } else {
        let recovering = workers.recover(&hub.url);
        tracing::info!(hub = %hub.url, relay = %peer, recovering, "relay-refresh: no circuit address, recovering");
        RECOVERING
    };
    let write = async {
        stream.write_all(line).await?;
        stream.close().await
    };
    match tokio::time::timeout(WRITE_TIMEOUT, write).await {
        Ok(Ok(())) => {
            tracing::debug!(hub = %hub.url, relay = %peer, has_circuit, "relay-refresh answered")
        }
        Ok(Err(error)) => {
            tracing::debug!(hub = %hub.url, relay = %peer, %error, "relay-refresh write failed")
        }
        Err(_) => tracing::debug!(hub = %hub.url, relay = %peer, "relay-refresh write timed out"),
    }
}

//! Relayed connections after a DCUtR upgrade (peer.md §2.1): once a direct connection to a peer
//! that we also reach through a relay circuit is up, the relayed connections are closed after
//! [`OVERLAP`] (streams already open on them get that long to finish), provided a direct
//! connection is still up then.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use libp2p::PeerId;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::wait::{Woke, wait};
use crate::node::Node;
use crate::p2p::NetEvent;

/// How long a relayed connection overlaps a new direct one (peer.md §2.1).
pub(super) const OVERLAP: Duration = Duration::from_secs(10);

pub(super) async fn run(node: Arc<Node>, tracker: TaskTracker, token: CancellationToken) {
    let mut events = node.net.subscribe();
    // Peers with a relayed connection; entries leave when the last connection closes, so the
    // set is bounded by the connection limit.
    let mut relayed: HashSet<PeerId> = HashSet::new();
    let scheduled: Arc<Mutex<HashSet<PeerId>>> = Arc::default();
    loop {
        let event = tokio::select! {
            () = token.cancelled() => break,
            event = events.recv() => event,
        };
        match event {
            Ok(NetEvent::ConnectionEstablished {
                peer,
                relayed: true,
                ..
            }) => {
                relayed.insert(peer);
            }
            Ok(NetEvent::ConnectionEstablished {
                peer,
                relayed: false,
                ..
            }) if relayed.contains(&peer) => {
                let newly = scheduled
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(peer);
                if newly {
                    let close = close_later(node.clone(), peer, token.clone(), scheduled.clone());
                    tracker.spawn(close);
                }
            }
            Ok(NetEvent::ConnectionClosed { peer, remaining: 0 }) => {
                relayed.remove(&peer);
            }
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
}

async fn close_later(
    node: Arc<Node>,
    peer: PeerId,
    token: CancellationToken,
    scheduled: Arc<Mutex<HashSet<PeerId>>>,
) {
    if wait(&node.clock, OVERLAP, &token, None).await == Woke::Elapsed {
        match node.net.close_relayed(peer).await {
            Ok(0) => {}
            Ok(closed) => {
                tracing::debug!(%peer, closed, "relayed connections closed after a direct upgrade")
            }
            Err(error) => tracing::debug!(%peer, %error, "closing relayed connections failed"),
        }
    }
    scheduled
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&peer);
}

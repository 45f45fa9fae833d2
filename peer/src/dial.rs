//! Reaching a peer (peer.md §2.1), used by every client protocol: an existing connection, else
//! its announced direct addresses.

use std::time::Duration;

use libp2p::PeerId;

use crate::node::Node;
use crate::p2p::NetError;

/// Deadline of a direct dial (peer.md §13).
pub const DIRECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Why a peer could not be reached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialError {
    /// No path to the peer worked.
    #[error("peer unreachable: {0}")]
    Unreachable(String),
    /// The peer is shutting down.
    #[error("the peer is shutting down")]
    Stopped,
}

/// Makes sure a connection to `peer` exists.
///
/// # Errors
/// [`DialError`].
pub async fn connect(node: &Node, peer: PeerId) -> Result<(), DialError> {
    if node
        .net
        .is_connected(peer)
        .await
        .map_err(|_| DialError::Stopped)?
    {
        return Ok(());
    }
    let addrs = node.peers.addrs(&peer);
    if addrs.is_empty() {
        return Err(DialError::Unreachable("no known address".to_owned()));
    }
    match node.net.dial(peer, addrs, DIRECT_TIMEOUT).await {
        Ok(()) => Ok(()),
        Err(NetError::Stopped) => Err(DialError::Stopped),
        Err(error) => Err(DialError::Unreachable(error.to_string())),
    }
}

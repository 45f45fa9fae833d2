//! Identity exchange (peer.md §7.2): `identity` asks a peer who it is, `identity.response`
//! carries its [`PeerIdentity`]. We ask peers we meet without a table entry, answer every ask, and
//! take an answer only from the peer it describes.

use std::time::Duration;

use libp2p::PeerId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::mq::{self, SendError};
use crate::node::Node;
use crate::peers::IdentityFields;

/// Deadline of an `identity` ask and of our answer.
pub const TIMEOUT: Duration = Duration::from_secs(2);
/// Longest label accepted from others (peer.md §13).
const MAX_LABEL: usize = 4096;
/// Longest email accepted.
const MAX_EMAIL: usize = 320;
/// Longest avatar hash / client version accepted.
const MAX_SHORT: usize = 64;

/// A peer's description of itself (goop2's camelCase, `peerID` with a capital ID).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerIdentity {
    /// The PeerId it describes.
    #[serde(rename = "peerID")]
    pub peer_id: String,
    /// Display name.
    pub content: String,
    /// Email, when published.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
    /// Avatar hash, when there is an avatar.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub avatar_hash: String,
    /// Always true for us (no calls).
    #[serde(default)]
    pub video_disabled: bool,
    /// NaCl public key; we announce none before tier 2 encryption (peer.md §15.2).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub public_key: String,
    /// Whether sealed messages are understood.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub encryption_supported: bool,
    /// Software and version.
    #[serde(default)]
    pub goop_client_version: String,
    /// Always true in answers.
    #[serde(default)]
    pub reachable: bool,
}

/// Our own identity.
pub fn own(node: &Node) -> PeerIdentity {
    let profile = &node.config.profile;
    PeerIdentity {
        peer_id: node.peer_id.to_base58(),
        content: profile.label.clone(),
        email: if profile.publish_email {
            profile.email.clone()
        } else {
            String::new()
        },
        avatar_hash: String::new(),
        video_disabled: true,
        public_key: String::new(),
        encryption_supported: false,
        goop_client_version: shared::protocol::agent_version(crate::SOFTWARE),
        reachable: true,
    }
}

/// Asks `peer` for its identity (fire-and-forget: only the delivery is awaited, ≤ 2 s).
///
/// # Errors
/// [`SendError`] when the ask was not delivered.
pub async fn request(node: &Node, peer: PeerId) -> Result<(), SendError> {
    tokio::time::timeout(TIMEOUT, mq::send(node, peer, "identity", Value::Null))
        .await
        .unwrap_or(Err(SendError::Timeout))
        .map(|_| ())
}

/// Asks `peer` once per 10 min when the peer table has no entry for it.
pub(crate) async fn meet(node: &Node, peer: PeerId) {
    if node.peers.get(&peer).is_some() || !node.mq.should_ask(peer, node.clock.now_ms()) {
        return;
    }
    if let Err(error) = request(node, peer).await {
        tracing::debug!(%peer, %error, "identity: ask not delivered");
    }
}

/// Answers an `identity` ask with our identity (≤ 2 s).
pub(crate) async fn answer(node: &Node, to: PeerId) {
    let Ok(payload) = serde_json::to_value(own(node)) else {
        return;
    };
    let sent = tokio::time::timeout(TIMEOUT, mq::send(node, to, "identity.response", payload));
    if !matches!(sent.await, Ok(Ok(_))) {
        tracing::debug!(peer = %to, "identity: answer not delivered");
    }
}

/// Takes an `identity.response` of `from`: only when it describes `from` and has a label.
pub(crate) fn accept(node: &Node, from: PeerId, payload: &Value) {
    let Ok(identity) = PeerIdentity::deserialize(payload) else {
        tracing::debug!(%from, "identity: malformed response dropped");
        return;
    };
    let fits = identity.content.len() <= MAX_LABEL
        && identity.email.len() <= MAX_EMAIL
        && identity.avatar_hash.len() <= MAX_SHORT
        && identity.goop_client_version.len() <= MAX_SHORT;
    if identity.peer_id != from.to_base58() || identity.content.is_empty() || !fits {
        tracing::debug!(%from, "identity: response for another peer, empty or oversize; dropped");
        return;
    }
    let label: String = identity
        .content
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    let fields = IdentityFields {
        label: &label,
        email: &identity.email,
        avatar_hash: &identity.avatar_hash,
        client_version: &identity.goop_client_version,
    };
    node.peers
        .apply_identity(from, &fields, node.clock.now_ms());
}

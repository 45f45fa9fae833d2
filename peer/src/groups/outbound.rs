//! Sending group messages (peer.md §8): one MQ message on `group:<gid>:<type>` with the group
//! send deadline, and the concurrent fan-out of a host to its members.

use std::time::Duration;

use futures::future::join_all;
use libp2p::PeerId;
use serde_json::Value;

use super::wire::{GroupId, GroupMsg, Kind, Topic};
use crate::mq::{self, SendError};
use crate::node::Node;

/// Deadline of one group send (peer.md §13).
pub(crate) const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// Sends `message` to `peer`.
pub(crate) async fn send(
    node: &Node,
    peer: PeerId,
    group: &GroupId,
    message: &GroupMsg,
) -> Result<(), SendError> {
    send_raw(node, peer, group, message.kind(), message.to_payload(group)).await
}

/// Sends `payload` as a `kind` message to `peer`.
pub(crate) async fn send_raw(
    node: &Node,
    peer: PeerId,
    group: &GroupId,
    kind: Kind,
    payload: Value,
) -> Result<(), SendError> {
    let topic = Topic::render(group, kind);
    match tokio::time::timeout(SEND_TIMEOUT, mq::send(node, peer, &topic, payload)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(error),
        Err(_) => Err(SendError::Timeout),
    }
}

/// Sends each `(peer, payload)` concurrently; returns the peers that did not get theirs.
pub(crate) async fn fan_out(
    node: &Node,
    group: &GroupId,
    kind: Kind,
    sends: Vec<(PeerId, Value)>,
) -> Vec<PeerId> {
    let results = join_all(sends.into_iter().map(|(peer, payload)| async move {
        (peer, send_raw(node, peer, group, kind, payload).await)
    }))
    .await;
    results
        .into_iter()
        .filter_map(|(peer, result)| match result {
            Ok(()) => None,
            Err(error) => {
                tracing::info!(%peer, %group, kind = kind.as_str(), %error, "group: send to member failed");
                Some(peer)
            }
        })
        .collect()
}

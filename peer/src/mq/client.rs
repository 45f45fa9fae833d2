//! Sending (peer.md §4.2): connect (≤ 5 s), then open a stream, write the line and read the ack
//! within 2 s; one retry after 300 ms with the same id; 8 s in all.

use std::time::Duration;

use futures::AsyncWriteExt as _;
use libp2p::PeerId;
use serde_json::Value;

use super::wire::{self, MAX_ACK_LINE, Msg, MsgId, PROTOCOL};
use crate::dial::{self, DialError};
use crate::node::Node;

/// Deadline of connecting to the peer.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Deadline of one attempt: open, write, read the ack.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// Pause before the one retry.
pub const RETRY_DELAY: Duration = Duration::from_millis(300);
/// Deadline of the whole send.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(8);

/// Why a message was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The topic breaks the topic rules.
    #[error("invalid topic")]
    InvalidTopic,
    /// The line would exceed 1 MiB.
    #[error("message larger than 1 MiB")]
    TooLarge,
    /// No connection to the peer could be made.
    #[error("peer unreachable: {0}")]
    Unreachable(String),
    /// The peer did not acknowledge in time.
    #[error("timed out waiting for the ack")]
    Timeout,
    /// The peer refused the stream or answered with something else than our ack.
    #[error("delivery failed: {0}")]
    Failed(String),
    /// The peer is shutting down.
    #[error("the peer is shutting down")]
    Stopped,
}

/// Sends `payload` on `topic` to `peer` and waits for its ack. Returns the message id.
///
/// # Errors
/// [`SendError`]. Cancel-safe: dropping the future abandons the stream (the peer sees a reset).
pub async fn send(
    node: &Node,
    peer: PeerId,
    topic: &str,
    payload: Value,
) -> Result<MsgId, SendError> {
    let id = MsgId::new();
    send_with_id(node, peer, id.clone(), topic, payload).await?;
    Ok(id)
}

/// [`send`] with a caller-chosen id (a retry of an earlier message reuses its id, so the
/// receiver's duplicate filter drops it).
///
/// # Errors
/// [`SendError`].
pub async fn send_with_id(
    node: &Node,
    peer: PeerId,
    id: MsgId,
    topic: &str,
    payload: Value,
) -> Result<(), SendError> {
    if !wire::valid_topic(topic) {
        return Err(SendError::InvalidTopic);
    }
    let msg = Msg {
        id,
        seq: node.mq.next_seq(),
        topic: topic.to_owned(),
        payload,
    };
    let line = msg.to_line();
    if line.len() > wire::MAX_LINE {
        return Err(SendError::TooLarge);
    }
    let result = tokio::time::timeout(SEND_TIMEOUT, deliver(node, peer, &msg, &line)).await;
    let result = result.unwrap_or(Err(SendError::Timeout));
    match &result {
        Ok(()) => tracing::debug!(%peer, topic, id = %msg.id, "mq: delivered"),
        Err(error) => tracing::debug!(%peer, topic, id = %msg.id, %error, "mq: not delivered"),
    }
    result
}

async fn deliver(node: &Node, peer: PeerId, msg: &Msg, line: &[u8]) -> Result<(), SendError> {
    match tokio::time::timeout(CONNECT_TIMEOUT, dial::connect(node, peer)).await {
        Err(_) => return Err(SendError::Timeout),
        Ok(Err(DialError::Stopped)) => return Err(SendError::Stopped),
        Ok(Err(DialError::Unreachable(why))) => return Err(SendError::Unreachable(why)),
        Ok(Ok(())) => {}
    }
    let first = attempt(node, peer, msg, line).await;
    if let Err(error) = &first {
        tracing::debug!(%peer, id = %msg.id, %error, "mq: attempt failed; retrying");
    } else {
        return first;
    }
    tokio::time::sleep(RETRY_DELAY).await;
    attempt(node, peer, msg, line).await
}

async fn attempt(node: &Node, peer: PeerId, msg: &Msg, line: &[u8]) -> Result<(), SendError> {
    let exchange = async {
        let mut stream = node
            .net
            .streams()
            .open_stream(peer, PROTOCOL)
            .await
            .map_err(|e| SendError::Failed(e.to_string()))?;
        let io = |e: std::io::Error| SendError::Failed(e.to_string());
        stream.write_all(line).await.map_err(io)?;
        stream.flush().await.map_err(io)?;
        let reply = wire::read_line(&mut stream, MAX_ACK_LINE)
            .await
            .map_err(|e| SendError::Failed(e.to_string()))?;
        let (id, _) = wire::parse_ack(&reply).map_err(|e| SendError::Failed(e.to_string()))?;
        if id != msg.id.as_str() {
            return Err(SendError::Failed("ack for another message".to_owned()));
        }
        // The ack is what counts; a failed close only means the peer left first.
        let _ = stream.close().await;
        Ok(())
    };
    tokio::time::timeout(ATTEMPT_TIMEOUT, exchange)
        .await
        .unwrap_or(Err(SendError::Timeout))
}

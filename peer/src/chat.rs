//! Direct chat (peer.md §7.1) over the MQ topic `chat`: sending stores the line once the peer
//! acked it; receiving stores it, emits `chat.message` and answers an `mq.ack` receipt.
//! `chat.broadcast` lines only become events.

use std::time::Duration;

use libp2p::PeerId;
use serde_json::{Value, json};

use crate::event::{ChatMessage, Event};
use crate::mq::{self, Msg, MsgId, SendError};
use crate::node::Node;
use crate::store::{ChatRow, NewChat, StoreError};

/// Longest chat text in bytes.
pub const MAX_CONTENT: usize = 16 * 1024;
/// Deadline of the `mq.ack` receipt.
pub const RECEIPT_TIMEOUT: Duration = Duration::from_secs(3);
/// The MQ topic.
pub const TOPIC: &str = "chat";

/// Why a chat line was not sent.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// Empty or longer than [`MAX_CONTENT`].
    #[error("content must be 1 to 16384 bytes")]
    InvalidContent,
    /// The peer did not get it.
    #[error(transparent)]
    Send(#[from] SendError),
    /// It was delivered but could not be stored.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A delivered chat line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The MQ message id.
    pub msg_id: MsgId,
    /// When it was stored (unix ms).
    pub ts: i64,
}

/// Sends `content` to `peer`; once acked, stores it and emits `chat.message`.
///
/// # Errors
/// [`ChatError`].
pub async fn send(node: &Node, peer: PeerId, content: &str) -> Result<Sent, ChatError> {
    send_with_id(node, peer, MsgId::new(), content).await
}

/// [`send`] with a caller-chosen message id.
///
/// # Errors
/// [`ChatError`].
pub async fn send_with_id(
    node: &Node,
    peer: PeerId,
    msg_id: MsgId,
    content: &str,
) -> Result<Sent, ChatError> {
    if content.is_empty() || content.len() > MAX_CONTENT {
        return Err(ChatError::InvalidContent);
    }
    mq::send_with_id(
        node,
        peer,
        msg_id.clone(),
        TOPIC,
        json!({ "content": content }),
    )
    .await?;
    let ts = node.clock.now_ms();
    let (peer_id, me) = (peer.to_base58(), node.peer_id.to_base58());
    store(node, &peer_id, &me, content, ts, &msg_id).await?;
    Ok(Sent { msg_id, ts })
}

/// The newest `limit` lines with `peer` older than `before`, oldest first.
///
/// # Errors
/// [`StoreError`].
pub async fn history(
    node: &Node,
    peer: PeerId,
    limit: i64,
    before: Option<i64>,
) -> Result<Vec<ChatRow>, StoreError> {
    node.store
        .list_chat_messages(&peer.to_base58(), limit, before)
        .await
}

/// Deletes the conversation with `peer`; returns the number of lines removed.
///
/// # Errors
/// [`StoreError`].
pub async fn clear(node: &Node, peer: PeerId) -> Result<u64, StoreError> {
    node.store.delete_chat_messages(&peer.to_base58()).await
}

/// An inbound `chat` message: stored under the caller, `chat.message`, then the receipt.
pub(crate) async fn receive(node: &Node, from: PeerId, msg: &Msg) {
    let Some(content) = content_of(&msg.payload) else {
        tracing::debug!(%from, id = %msg.id, "chat: empty, oversize or non-text content dropped");
        return;
    };
    let peer_id = from.to_base58();
    let ts = node.clock.now_ms();
    if let Err(error) = store(node, &peer_id, &peer_id, content, ts, &msg.id).await {
        tracing::warn!(%from, %error, "chat: received line not stored");
        return;
    }
    let receipt = mq::send(node, from, "mq.ack", json!({ "msg_id": msg.id.as_str() }));
    match tokio::time::timeout(RECEIPT_TIMEOUT, receipt).await {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => tracing::debug!(%from, %error, "chat: receipt not delivered"),
        Err(_) => tracing::debug!(%from, "chat: receipt timed out"),
    }
}

/// An inbound `chat.broadcast` message: a `chat.broadcast` event only.
pub(crate) fn receive_broadcast(node: &Node, from: PeerId, msg: &Msg) {
    let Some(content) = content_of(&msg.payload) else {
        tracing::debug!(%from, id = %msg.id, "chat: unusable broadcast dropped");
        return;
    };
    let peer_id = from.to_base58();
    node.events.emit(Event::ChatBroadcast(ChatMessage {
        peer_id: peer_id.clone(),
        from: peer_id,
        content: content.to_owned(),
        ts: node.clock.now_ms(),
        msg_id: msg.id.to_string(),
    }));
}

async fn store(
    node: &Node,
    peer_id: &str,
    from_id: &str,
    content: &str,
    ts: i64,
    msg_id: &MsgId,
) -> Result<(), StoreError> {
    let chat = NewChat {
        peer_id,
        from_id,
        content,
        ts,
        msg_id: msg_id.as_str(),
    };
    node.store.insert_chat_message(chat).await?;
    node.events.emit(Event::ChatMessage(ChatMessage {
        peer_id: peer_id.to_owned(),
        from: from_id.to_owned(),
        content: content.to_owned(),
        ts,
        msg_id: msg_id.to_string(),
    }));
    Ok(())
}

/// Non-empty string `content` of at most [`MAX_CONTENT`] bytes.
fn content_of(payload: &Value) -> Option<&str> {
    payload
        .get("content")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty() && c.len() <= MAX_CONTENT)
}

//! The receiving side (peer.md §4.2): admit the stream, read one line within 3 s, ack it, then
//! dispatch it unless it is a duplicate. Anything wrong resets the stream without an ack.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{AsyncWriteExt as _, StreamExt as _};
use libp2p::{PeerId, Stream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::dispatch;
use super::wire::{self, MAX_LINE, PROTOCOL};
use crate::node::Node;

/// Deadline of the message line after the stream opened.
pub const READ_TIMEOUT: Duration = Duration::from_secs(3);
/// Deadline of writing the ack.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(3);

/// Accepts streams until `token` is cancelled.
///
/// # Errors
/// When another handler already accepts `/goop/mq/1.0.0`.
pub(super) async fn run(
    node: Arc<Node>,
    token: CancellationToken,
    tracker: TaskTracker,
) -> Result<(), crate::p2p::AlreadyAccepted> {
    let mut incoming = node.net.inbound().accept(PROTOCOL)?;
    loop {
        let (peer, stream) = tokio::select! {
            () = token.cancelled() => return Ok(()),
            next = incoming.next() => match next {
                Some(next) => next,
                None => return Ok(()),
            },
        };
        if node.peers.is_blocked(&peer) {
            tracing::debug!(%peer, "mq: stream of a blocked peer reset");
            continue;
        }
        let admitted = match node.mq.gate.admit(peer, Instant::now()) {
            Ok(admitted) => admitted,
            Err(refused) => {
                tracing::debug!(%peer, %refused, "mq: stream reset");
                continue;
            }
        };
        let (node, token) = (node.clone(), token.clone());
        tracker.spawn(async move {
            tokio::select! {
                () = token.cancelled() => {}
                () = handle(&node, peer, stream) => {}
            }
            drop(admitted);
        });
    }
}

/// One inbound stream. Returning without writing drops (resets) the stream.
async fn handle(node: &Node, peer: PeerId, mut stream: Stream) {
    let line =
        match tokio::time::timeout(READ_TIMEOUT, wire::read_line(&mut stream, MAX_LINE)).await {
            Ok(Ok(line)) => line,
            Ok(Err(error)) => {
                tracing::debug!(%peer, %error, "mq: unreadable message, stream reset");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "mq: no message within 3 s, stream reset");
                return;
            }
        };
    let msg = match wire::parse_msg(&line) {
        Ok(msg) => msg,
        Err(error) => {
            tracing::debug!(%peer, %error, "mq: malformed message, stream reset");
            return;
        }
    };
    let fresh = node.mq.first_time(peer, &msg.id, node.clock.now_ms());
    let ack = msg.ack_line();
    let wrote = tokio::time::timeout(WRITE_TIMEOUT, async {
        stream.write_all(&ack).await?;
        stream.flush().await?;
        stream.close().await
    })
    .await;
    if !matches!(wrote, Ok(Ok(()))) {
        tracing::debug!(%peer, id = %msg.id, "mq: ack not written");
    }
    drop(stream);
    if !fresh {
        tracing::debug!(%peer, id = %msg.id, "mq: duplicate acked, not dispatched");
        return;
    }
    dispatch::dispatch(node, peer, msg).await;
}

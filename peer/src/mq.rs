//! The message bus `/goop/mq/1.0.0` (peer.md §4.2, §5): one stream per message, acked before it
//! is dispatched by topic. [`send`] delivers a message and waits for its ack; [`spawn`] starts
//! the server; [`Mq`] is the per-node state (sequence counter, duplicate filter, admission, the
//! application [`Inbox`]).
//!
//! # Layout
//! - `wire`: the JSON lines, strict parsing, line reading.
//! - `client`: [`send`] with connect, retry and deadlines.
//! - `server`: accepting streams, admission (`gate`), duplicates (`dedup`), the ack.
//! - `dispatch`: the topic table; `inbox`: the application inbox.

mod client;
mod dedup;
mod dispatch;
mod gate;
mod inbox;
mod server;
pub mod wire;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use libp2p::PeerId;
use shared::server::Tasks;

pub use client::{
    ATTEMPT_TIMEOUT, CONNECT_TIMEOUT, RETRY_DELAY, SEND_TIMEOUT, SendError, send, send_with_id,
};
pub use dedup::{CAPACITY as DEDUP_CAPACITY, WINDOW_MS as DEDUP_WINDOW_MS};
pub use dispatch::{Route, is_reserved, route};
pub use gate::{GLOBAL, PER_REMOTE, RATE, Refused};
pub use inbox::{Inbox, Listening, MAX_SENDERS, PER_SENDER};
pub use server::{READ_TIMEOUT, WRITE_TIMEOUT};
pub use wire::{Msg, MsgId, PROTOCOL};

use crate::node::Node;

/// Peers asked for their identity, remembered so one peer is asked at most once per this.
const ASK_AGAIN_MS: i64 = 10 * 60 * 1000;
/// Most peers remembered as asked.
const MAX_ASKED: usize = 1024;

/// The bus state of one node.
#[derive(Debug, Default)]
pub struct Mq {
    seq: AtomicI64,
    dedup: Mutex<dedup::Dedup>,
    gate: gate::Gate,
    inbox: Inbox,
    asked: Mutex<HashMap<PeerId, i64>>,
}

impl Mq {
    /// The next sequence number (from 1).
    pub(crate) fn next_seq(&self) -> i64 {
        self.seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The application inbox.
    pub fn inbox(&self) -> &Inbox {
        &self.inbox
    }

    /// Records `(caller, id)`; whether it is new within the duplicate window.
    fn first_time(&self, caller: PeerId, id: &MsgId, now: i64) -> bool {
        self.dedup
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .first_time(caller, id.as_str(), now)
    }

    /// Whether `peer` should be asked for its identity now (not asked within 10 min); records
    /// the ask.
    pub(crate) fn should_ask(&self, peer: PeerId, now: i64) -> bool {
        let mut asked = self.asked.lock().unwrap_or_else(|e| e.into_inner());
        if asked.get(&peer).is_some_and(|at| now - at < ASK_AGAIN_MS) {
            return false;
        }
        if asked.len() >= MAX_ASKED {
            asked.retain(|_, at| now - *at < ASK_AGAIN_MS);
            if asked.len() >= MAX_ASKED {
                asked.clear();
            }
        }
        asked.insert(peer, now);
        true
    }
}

impl crate::Peer {
    /// Sends `payload` on `topic` to `peer` and waits for its ack (peer.md §1.1, §4.2); topic
    /// `chat` is better sent with [`crate::chat::send`], which also stores the line.
    ///
    /// # Errors
    /// [`SendError`]. Cancel-safe.
    pub async fn send(
        &self,
        peer: PeerId,
        topic: &str,
        payload: serde_json::Value,
    ) -> Result<MsgId, SendError> {
        send(self.node(), peer, topic, payload).await
    }
}

/// Starts the MQ server: accepts `/goop/mq/1.0.0` streams until the peer shuts down.
pub fn spawn(node: &Arc<Node>, tasks: &Tasks) {
    tasks.spawn(
        "mq server",
        server::run(
            node.clone(),
            tasks.token().child_token(),
            tasks.tracker().clone(),
        ),
    );
}

#[cfg(test)]
mod tests;

//! The application inbox (peer.md §5): messages on topics outside every namespace. With a
//! listener they become `mq.message` events at once; without one they wait, per sender at most
//! [`PER_SENDER`] (oldest dropped), and are emitted when the next listener arrives.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use libp2p::PeerId;

use super::wire::Msg;
use crate::event::{Event, Events, MqMessage};

/// Messages queued per sender while nobody listens.
pub const PER_SENDER: usize = 200;
/// Senders with a queue; a new sender beyond it evicts the queue whose oldest message is oldest.
pub const MAX_SENDERS: usize = 256;

/// The inbox. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Inbox {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    listeners: usize,
    next: u64,
    queued: HashMap<PeerId, VecDeque<(u64, MqMessage)>>,
}

/// Keeps the caller counted as an inbox listener until dropped.
#[derive(Debug)]
pub struct Listening {
    inbox: Inbox,
}

impl Drop for Listening {
    fn drop(&mut self) {
        let mut state = self.inbox.lock();
        state.listeners = state.listeners.saturating_sub(1);
    }
}

impl Inbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Delivers a message: an `mq.message` event when someone listens, else the queue.
    pub(crate) fn deliver(&self, events: &Events, from: PeerId, msg: &Msg) {
        let message = MqMessage {
            from: from.to_base58(),
            msg: msg.to_value(),
        };
        let mut state = self.lock();
        if state.listeners > 0 {
            // Emitted under the lock so a listener arriving now sees queue and live events in order.
            events.emit(Event::MqMessage(message));
            return;
        }
        if !state.queued.contains_key(&from) && state.queued.len() >= MAX_SENDERS {
            let oldest = state
                .queued
                .iter()
                .min_by_key(|(_, q)| q.front().map_or(0, |(n, _)| *n))
                .map(|(peer, _)| *peer);
            if let Some(peer) = oldest {
                state.queued.remove(&peer);
            }
        }
        let n = state.next;
        state.next += 1;
        let queue = state.queued.entry(from).or_default();
        if queue.len() >= PER_SENDER {
            queue.pop_front();
        }
        queue.push_back((n, message));
    }

    /// Counts the caller as a listener and emits every queued message as an `mq.message` event,
    /// in arrival order. Subscribe to `events` first so none is missed.
    pub fn listen(&self, events: &Events) -> Listening {
        let mut state = self.lock();
        state.listeners += 1;
        let mut queued: Vec<(u64, MqMessage)> = state.queued.drain().flat_map(|(_, q)| q).collect();
        queued.sort_by_key(|(n, _)| *n);
        for (_, message) in queued {
            events.emit(Event::MqMessage(message));
        }
        drop(state);
        Listening {
            inbox: self.clone(),
        }
    }

    /// Messages waiting for a listener.
    pub fn queued(&self) -> usize {
        self.lock().queued.values().map(VecDeque::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::mq::wire::MsgId;

    fn msg(seq: i64) -> Msg {
        Msg {
            id: MsgId::new(),
            seq,
            topic: "app".to_owned(),
            payload: Value::Null,
        }
    }

    fn seqs(rx: &mut tokio::sync::broadcast::Receiver<Arc<crate::event::Numbered>>) -> Vec<i64> {
        let mut out = Vec::new();
        while let Ok(numbered) = rx.try_recv() {
            if let Event::MqMessage(m) = &numbered.event {
                out.push(m.msg["seq"].as_i64().unwrap());
            }
        }
        out
    }

    #[test]
    fn without_listener_messages_queue_and_replay_in_order_on_listen() {
        let (inbox, events, from) = (Inbox::default(), Events::default(), PeerId::random());
        let mut rx = events.subscribe();
        for seq in 0..(PER_SENDER as i64 + 5) {
            inbox.deliver(&events, from, &msg(seq));
        }
        assert!(seqs(&mut rx).is_empty());

        let listening = inbox.listen(&events);

        assert_eq!(
            seqs(&mut rx),
            (5..PER_SENDER as i64 + 5).collect::<Vec<_>>()
        );
        inbox.deliver(&events, from, &msg(999));
        assert_eq!(seqs(&mut rx), vec![999]);
        drop(listening);
        inbox.deliver(&events, from, &msg(1000));
        assert!(seqs(&mut rx).is_empty());
        assert_eq!(inbox.queued(), 1);
    }

    #[test]
    fn senders_beyond_the_cap_evict_the_oldest_queue() {
        let (inbox, events) = (Inbox::default(), Events::default());
        let first = PeerId::random();
        inbox.deliver(&events, first, &msg(0));
        for seq in 1..=MAX_SENDERS as i64 {
            inbox.deliver(&events, PeerId::random(), &msg(seq));
        }

        assert_eq!(inbox.queued(), MAX_SENDERS);
        assert!(!inbox.lock().queued.contains_key(&first));
    }
}

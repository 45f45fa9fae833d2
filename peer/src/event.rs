//! The peer's event stream (peer.md §11.4): one [`Event`] type for the library's
//! [`crate::Peer::events`] and the local API's SSE stream. [`Events`] numbers every event, keeps
//! the last [`REPLAY`] for `Last-Event-ID`, and fans out over a bounded broadcast channel.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::broadcast;

/// Events kept for replay after `Last-Event-ID`.
pub const REPLAY: usize = 1000;
/// Events a subscriber may fall behind before it is told it overflowed.
pub const SUBSCRIBER_BUFFER: usize = 256;

/// One event. `kind()` is the SSE `event:` word, the JSON of the payload its `data:`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Event {
    /// `peer.update`: a peer entry as in `GET /api/peers`.
    PeerUpdate(Value),
    /// `peer.gone`: a peer left the table.
    PeerGone(PeerGone),
    /// `mq.message`: a message for the application inbox.
    MqMessage(MqMessage),
    /// `mq.delivered`: a peer acknowledged one of our messages with `mq.ack`.
    MqDelivered(MqDelivered),
    /// `mq.undecryptable`: a sealed message arrived without crypto support (peer.md §4.2).
    MqUndecryptable(MqUndecryptable),
    /// `chat.message`: a direct chat message, sent or received.
    ChatMessage(ChatMessage),
    /// `chat.broadcast`: a broadcast chat line (not stored).
    ChatBroadcast(ChatMessage),
    /// `hub.state`.
    HubState(StateChange),
    /// `relay.state`.
    RelayState(StateChange),
    /// `membership.state`.
    MembershipState(StateChange),
    /// `group.<type>`: group traffic and changes (peer.md §8).
    Group(GroupEvent),
}

impl Event {
    /// The SSE event name.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::PeerUpdate(_) => "peer.update",
            Self::PeerGone(_) => "peer.gone",
            Self::MqMessage(_) => "mq.message",
            Self::MqDelivered(_) => "mq.delivered",
            Self::MqUndecryptable(_) => "mq.undecryptable",
            Self::ChatMessage(_) => "chat.message",
            Self::ChatBroadcast(_) => "chat.broadcast",
            Self::HubState(_) => "hub.state",
            Self::RelayState(_) => "relay.state",
            Self::MembershipState(_) => "membership.state",
            Self::Group(event) => event.name(),
        }
    }
}

/// `peer.gone` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerGone {
    /// The peer.
    pub peer_id: String,
}

/// `mq.message` data: the sender and the whole MQ message (`{type,id,seq,topic,payload}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MqMessage {
    /// The authenticated sender.
    pub from: String,
    /// The message as received.
    pub msg: Value,
}

/// `mq.delivered` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MqDelivered {
    /// The id of our message the peer acknowledged.
    pub msg_id: String,
}

/// `mq.undecryptable` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MqUndecryptable {
    /// The authenticated sender.
    pub from: String,
    /// The message id.
    pub id: String,
}

/// `chat.message` / `chat.broadcast` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatMessage {
    /// The conversation: the other peer.
    pub peer_id: String,
    /// The author.
    pub from: String,
    /// The text.
    pub content: String,
    /// Unix ms (receive time for received messages).
    pub ts: i64,
    /// The MQ message id.
    pub msg_id: String,
}

/// `hub.state`, `relay.state`, `membership.state` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateChange {
    /// The hub.
    pub url: String,
    /// The new state.
    pub state: String,
    /// Why, when there is more to say (`replaced`, an error code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// `group.<type>` data (peer.md §11.4): the group, the MQ sender, the author a goop-peer host
/// stamped, and the payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupEvent {
    /// The short type: `welcome`, `members`, `join`, `leave`, `msg`, `state`, `close`, `error`,
    /// `meta`, `invite`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The group id.
    pub group: String,
    /// The MQ sender (the host for relayed messages, the member at the host).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The author (`_from`), only from a goop-peer host (peer.md §8.4).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The message or change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
}

impl GroupEvent {
    /// The SSE event name, `group.<type>`.
    pub fn name(&self) -> &'static str {
        match self.kind {
            "welcome" => "group.welcome",
            "members" => "group.members",
            "join" => "group.join",
            "leave" => "group.leave",
            "msg" => "group.msg",
            "state" => "group.state",
            "close" => "group.close",
            "error" => "group.error",
            "meta" => "group.meta",
            "invite" => "group.invite",
            _ => "group.other",
        }
    }
}

/// An event with its process-wide id (increasing from 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Numbered {
    /// The SSE id.
    pub id: u64,
    /// The event.
    pub event: Event,
}

/// The event bus. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Events {
    inner: Arc<Mutex<Ring>>,
    tx: broadcast::Sender<Arc<Numbered>>,
}

#[derive(Debug)]
struct Ring {
    next_id: u64,
    kept: VecDeque<Arc<Numbered>>,
}

impl Default for Events {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(SUBSCRIBER_BUFFER);
        Self {
            inner: Arc::new(Mutex::new(Ring {
                next_id: 1,
                kept: VecDeque::with_capacity(REPLAY),
            })),
            tx,
        }
    }
}

impl Events {
    /// Numbers `event`, keeps it for replay and sends it to every subscriber.
    pub fn emit(&self, event: Event) {
        let mut ring = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let numbered = Arc::new(Numbered {
            id: ring.next_id,
            event,
        });
        ring.next_id += 1;
        if ring.kept.len() == REPLAY {
            ring.kept.pop_front();
        }
        ring.kept.push_back(numbered.clone());
        // Sent under the lock, so a subscriber taken with `subscribe_after` sees no gap or
        // duplicate between its replay and its receiver. No subscriber is not an error.
        let _ = self.tx.send(numbered);
    }

    /// A receiver of every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Numbered>> {
        self.tx.subscribe()
    }

    /// The kept events with an id above `last_id`, and a receiver of every later one.
    pub fn subscribe_after(
        &self,
        last_id: u64,
    ) -> (Vec<Arc<Numbered>>, broadcast::Receiver<Arc<Numbered>>) {
        let ring = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let replay = ring
            .kept
            .iter()
            .filter(|e| e.id > last_id)
            .cloned()
            .collect();
        (replay, self.tx.subscribe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub_state(state: &str) -> Event {
        Event::HubState(StateChange {
            url: "http://h".to_owned(),
            state: state.to_owned(),
            detail: None,
        })
    }

    #[test]
    fn ids_increase_and_replay_starts_after_the_given_id() {
        let events = Events::default();
        events.emit(hub_state("a"));
        events.emit(hub_state("b"));
        let (replay, mut rx) = events.subscribe_after(1);
        assert_eq!(replay.len(), 1);
        assert_eq!(replay[0].id, 2);
        events.emit(hub_state("c"));
        assert_eq!(rx.try_recv().unwrap().id, 3);
    }

    #[test]
    fn replay_keeps_only_the_newest_thousand() {
        let events = Events::default();
        for _ in 0..REPLAY + 5 {
            events.emit(hub_state("x"));
        }
        let (replay, _) = events.subscribe_after(0);
        assert_eq!(replay.len(), REPLAY);
        assert_eq!(replay[0].id, 6);
    }

    #[test]
    fn state_change_omits_absent_detail() {
        let json = serde_json::to_string(&hub_state("online")).unwrap();
        assert_eq!(json, r#"{"url":"http://h","state":"online"}"#);
        assert_eq!(hub_state("online").kind(), "hub.state");
    }
}

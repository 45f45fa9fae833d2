//! Topic dispatch (peer.md §5): one table of exact topics and prefixes, the first matching row
//! wins; every other topic goes to the application inbox. Groups and chat rooms have their routes;
//! the namespaces of the cluster queue and the realtime bridge are acked and dropped until their
//! subsystems replace their `Drop` rows with a route of their own.

use libp2p::PeerId;
use serde_json::Value;

use super::wire::Msg;
use crate::event::{Event, MqDelivered, MqUndecryptable};
use crate::node::Node;

/// Where a topic goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `chat`: direct chat (peer.md §7.1).
    Chat,
    /// `chat.broadcast`: an event, not stored.
    ChatBroadcast,
    /// `identity`: answer with our identity (peer.md §7.2).
    Identity,
    /// `identity.response`: a peer's identity.
    IdentityResponse,
    /// `mq.ack`: a peer processed one of our messages (`mq.delivered`).
    Delivered,
    /// `group:<gid>:<type>`: group protocol (peer.md §8).
    Group,
    /// `group.invite`: an invitation (peer.md §8.5).
    GroupInvite,
    /// `chat.room:<gid>:<kind>`: chat rooms (peer.md §8.8).
    ChatRoom,
    /// A namespace without a handler here: acked and dropped (debug log).
    Drop(&'static str),
    /// The application inbox (`mq.message`).
    Inbox,
}

#[derive(Debug, Clone, Copy)]
enum Pattern {
    Exact(&'static str),
    Prefix(&'static str),
}

impl Pattern {
    fn matches(self, topic: &str) -> bool {
        match self {
            Self::Exact(exact) => topic == exact,
            Self::Prefix(prefix) => topic.starts_with(prefix),
        }
    }
}

use Pattern::{Exact, Prefix};

/// The dispatch table of peer.md §5.
const TABLE: &[(Pattern, Route)] = &[
    (Exact("chat"), Route::Chat),
    (Exact("chat.broadcast"), Route::ChatBroadcast),
    (Exact("identity"), Route::Identity),
    (Exact("identity.response"), Route::IdentityResponse),
    (Exact("mq.ack"), Route::Delivered),
    (Prefix("chat.room:"), Route::ChatRoom),
    (Prefix("group:"), Route::Group),
    (Exact("group.invite"), Route::GroupInvite),
    (Prefix("cluster:"), Route::Drop("cluster")),
    (Prefix("realtime:"), Route::Drop("realtime")),
    (Prefix("call:"), Route::Drop("call")),
];

/// Topics only their subsystems send: the local API refuses them (peer.md §11.3).
const RESERVED: &[Pattern] = &[
    Prefix("group:"),
    Exact("group.invite"),
    Prefix("chat.room:"),
    Prefix("cluster:"),
    Exact("identity"),
    Exact("identity.response"),
    Prefix("call:"),
];

/// The route of `topic`.
pub fn route(topic: &str) -> Route {
    TABLE
        .iter()
        .find(|(pattern, _)| pattern.matches(topic))
        .map_or(Route::Inbox, |(_, route)| *route)
}

/// Whether the local API must refuse to send `topic` (`reserved_topic`).
pub fn is_reserved(topic: &str) -> bool {
    RESERVED.iter().any(|pattern| pattern.matches(topic))
}

/// Hands an acked, first-seen message of `from` to its handler.
pub(super) async fn dispatch(node: &Node, from: PeerId, msg: Msg) {
    if is_sealed(&msg.payload) {
        // No crypto support yet (peer.md §10): such messages are acked and dropped.
        tracing::debug!(%from, topic = %msg.topic, "mq: sealed message dropped");
        node.events.emit(Event::MqUndecryptable(MqUndecryptable {
            from: from.to_base58(),
            id: msg.id.to_string(),
        }));
        return;
    }
    let route = route(&msg.topic);
    match route {
        Route::Chat => crate::chat::receive(node, from, &msg).await,
        Route::ChatBroadcast => crate::chat::receive_broadcast(node, from, &msg),
        Route::Identity => crate::identity::answer(node, from).await,
        Route::IdentityResponse => crate::identity::accept(node, from, &msg.payload),
        Route::Delivered => delivered(node, from, &msg.payload),
        Route::Group => crate::groups::receive(node, from, &msg).await,
        Route::ChatRoom => crate::groups::rooms::receive(node, from, &msg).await,
        Route::GroupInvite => crate::groups::receive_invite(node, from, &msg.payload).await,
        Route::Drop(namespace) => {
            tracing::debug!(%from, topic = %msg.topic, namespace, "mq: no handler, dropped");
        }
        Route::Inbox => node.mq.inbox().deliver(&node.events, from, &msg),
    }
    if !matches!(route, Route::Identity | Route::IdentityResponse) {
        crate::identity::meet(node, from).await;
    }
}

/// A payload that is exactly `{"enc":"<sealed>"}` (peer.md §4.2).
fn is_sealed(payload: &Value) -> bool {
    payload
        .as_object()
        .is_some_and(|map| map.len() == 1 && map.get("enc").is_some_and(Value::is_string))
}

/// `mq.ack` `{"msg_id":string}` → `mq.delivered`; anything else is dropped.
fn delivered(node: &Node, from: PeerId, payload: &Value) {
    match payload.get("msg_id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() && id.len() <= 128 => {
            node.events.emit(Event::MqDelivered(MqDelivered {
                msg_id: id.to_owned(),
            }));
        }
        _ => tracing::debug!(%from, "mq: mq.ack without a usable msg_id dropped"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_route_by_exact_name_then_prefix_else_inbox() {
        let cases = [
            ("chat", Route::Chat),
            ("chat.broadcast", Route::ChatBroadcast),
            ("identity", Route::Identity),
            ("identity.response", Route::IdentityResponse),
            ("mq.ack", Route::Delivered),
            ("call:abc", Route::Drop("call")),
            ("group:g1:msg", Route::Group),
            ("group.invite", Route::GroupInvite),
            ("chat.room:g:msg", Route::ChatRoom),
            ("cluster:g:a:b", Route::Drop("cluster")),
            ("realtime:invite", Route::Drop("realtime")),
            ("chatx", Route::Inbox),
            ("app:move", Route::Inbox),
            ("identity.other", Route::Inbox),
        ];
        for (topic, expected) in cases {
            assert_eq!(route(topic), expected, "{topic}");
        }
    }

    #[test]
    fn only_a_lone_string_enc_field_is_sealed() {
        assert!(is_sealed(&serde_json::json!({"enc": "abc"})));
        assert!(!is_sealed(&serde_json::json!({"enc": "abc", "x": 1})));
        assert!(!is_sealed(&serde_json::json!({"enc": 5})));
        assert!(!is_sealed(&serde_json::json!("enc")));
    }

    #[test]
    fn reserved_topics_are_those_of_the_local_api_rule() {
        for topic in [
            "group:g:join",
            "group.invite",
            "chat.room:g:msg",
            "cluster:g:a:b",
        ] {
            assert!(is_reserved(topic), "{topic}");
        }
        for topic in ["identity", "identity.response", "call:x"] {
            assert!(is_reserved(topic), "{topic}");
        }
        for topic in ["chat", "mq.ack", "realtime:rt-1", "app", "chat.broadcast"] {
            assert!(!is_reserved(topic), "{topic}");
        }
    }
}

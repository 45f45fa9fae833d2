//! Frames a hub sends over WS or SSE (peer.md §3.3 "Received frames"): the v2 control frames,
//! presence messages and punch hints. [`parse`] classifies one frame; what to drop and why is
//! decided here, so every transport drops the same frames.

use libp2p::{Multiaddr, PeerId};
use serde_json::{Map, Value};
use shared::ids::Ed25519PeerId;
use shared::presence::{MsgType, PresenceMsg};

/// One frame from a hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// `challenge` (WS v2 handshake).
    Challenge {
        /// `hubId`.
        hub_id: String,
        /// `nonce`.
        nonce: String,
        /// `ts` (hub clock, ms).
        ts: Option<i64>,
    },
    /// `auth-ok`.
    AuthOk {
        /// Membership state.
        state: Option<String>,
        /// Tier.
        tier: Option<String>,
        /// Hub clock.
        ts: Option<i64>,
    },
    /// `snapshot-end`.
    SnapshotEnd,
    /// `online` / `update`, with the hub's `verified` flag.
    Presence(Box<PresenceMsg>),
    /// `offline` of a peer.
    Offline(PeerId),
    /// A `punch` hint addressed to us: dial these.
    Punch(PeerId, Vec<Multiaddr>),
}

/// Why a frame was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Dropped {
    /// Not a JSON object.
    #[error("not a JSON object")]
    NotObject,
    /// No `type` or no `peerId`.
    #[error("missing type or peerId")]
    Missing,
    /// A frame about ourselves.
    #[error("about ourselves")]
    Own,
    /// A `type` we do not know.
    #[error("unknown type")]
    UnknownType,
    /// Fields that break the presence rules.
    #[error("invalid: {0}")]
    Invalid(String),
    /// A punch for another peer.
    #[error("punch for another peer")]
    NotForUs,
}

/// Classifies one text frame from a hub; `me` is our PeerId.
///
/// # Errors
/// [`Dropped`] naming why the frame is ignored.
pub fn parse(text: &str, me: &PeerId, now: i64) -> Result<Frame, Dropped> {
    let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(text) else {
        return Err(Dropped::NotObject);
    };
    let kind = map
        .get("type")
        .and_then(Value::as_str)
        .ok_or(Dropped::Missing)?
        .to_owned();
    match kind.as_str() {
        "challenge" => {
            return Ok(Frame::Challenge {
                hub_id: text_of(&map, "hubId").unwrap_or_default(),
                nonce: text_of(&map, "nonce").unwrap_or_default(),
                ts: map.get("ts").and_then(Value::as_i64),
            });
        }
        "auth-ok" => {
            return Ok(Frame::AuthOk {
                state: text_of(&map, "state"),
                tier: text_of(&map, "tier"),
                ts: map.get("ts").and_then(Value::as_i64),
            });
        }
        "snapshot-end" => return Ok(Frame::SnapshotEnd),
        "online" | "update" | "offline" | "punch" => {}
        _ => return Err(Dropped::UnknownType),
    }
    let peer = map
        .get("peerId")
        .and_then(Value::as_str)
        .ok_or(Dropped::Missing)?;
    let peer: Ed25519PeerId = peer
        .parse()
        .map_err(|_| Dropped::Invalid("peerId".to_owned()))?;
    if &peer.peer_id() == me {
        return Err(Dropped::Own);
    }
    let target = map.remove("target");
    let verified = map.remove("verified").and_then(|v| v.as_bool()) == Some(true);
    if kind == "punch" {
        let for_us = target
            .as_ref()
            .and_then(Value::as_str)
            .and_then(|t| t.parse::<PeerId>().ok())
            .is_some_and(|t| &t == me);
        if !for_us {
            return Err(Dropped::NotForUs);
        }
        map.insert("type".to_owned(), Value::from("update"));
    }
    let bytes = serde_json::to_vec(&Value::Object(map)).unwrap_or_default();
    let mut msg =
        PresenceMsg::parse(&bytes, now, None).map_err(|e| Dropped::Invalid(e.to_string()))?;
    msg.verified = verified;
    Ok(match (kind.as_str(), msg.kind) {
        ("punch", _) => Frame::Punch(
            peer.peer_id(),
            msg.addrs.iter().filter_map(|a| a.parse().ok()).collect(),
        ),
        (_, MsgType::Offline) => Frame::Offline(peer.peer_id()),
        _ => Frame::Presence(Box::new(msg)),
    })
}

fn text_of(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key).and_then(Value::as_str).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id() -> Ed25519PeerId {
        Ed25519PeerId::from(libp2p::identity::ed25519::Keypair::generate().public())
    }

    #[test]
    fn presence_frames_keep_the_hubs_verified_flag() {
        let (me, other) = (PeerId::random(), id());
        let text =
            format!(r#"{{"type":"online","peerId":"{other}","content":"x","verified":true}}"#);
        let Ok(Frame::Presence(msg)) = parse(&text, &me, 1) else {
            panic!("a presence frame");
        };
        assert!(msg.verified);
        assert_eq!(msg.content, "x");
        let off = format!(r#"{{"type":"offline","peerId":"{other}"}}"#);
        assert_eq!(parse(&off, &me, 1), Ok(Frame::Offline(other.peer_id())));
    }

    #[test]
    fn malformed_own_and_unknown_frames_are_dropped() {
        let me = id();
        let own = format!(r#"{{"type":"online","peerId":"{me}"}}"#);
        let me = me.peer_id();
        assert_eq!(parse("[1]", &me, 1), Err(Dropped::NotObject));
        assert_eq!(parse("{garbage", &me, 1), Err(Dropped::NotObject));
        assert_eq!(parse(r#"{"type":"online"}"#, &me, 1), Err(Dropped::Missing));
        assert_eq!(parse(r#"{"peerId":"x"}"#, &me, 1), Err(Dropped::Missing));
        assert_eq!(parse(&own, &me, 1), Err(Dropped::Own));
        let other = id();
        let unknown = format!(r#"{{"type":"dance","peerId":"{other}"}}"#);
        assert_eq!(parse(&unknown, &me, 1), Err(Dropped::UnknownType));
    }

    #[test]
    fn punch_is_taken_only_when_addressed_to_us() {
        let (me, other) = (PeerId::random(), id());
        let text = |target: &PeerId| {
            format!(
                r#"{{"type":"punch","peerId":"{other}","target":"{target}","addrs":["/ip4/192.168.1.9/tcp/4001"]}}"#
            )
        };
        assert_eq!(
            parse(&text(&me), &me, 1),
            Ok(Frame::Punch(
                other.peer_id(),
                vec!["/ip4/192.168.1.9/tcp/4001".parse().unwrap()]
            ))
        );
        assert_eq!(
            parse(&text(&PeerId::random()), &me, 1),
            Err(Dropped::NotForUs)
        );
    }

    proptest! {
        #[test]
        fn hostile_frames_never_panic(text in ".{0,300}") {
            let _ = parse(&text, &PeerId::random(), 1);
        }

        #[test]
        fn hostile_json_objects_never_panic(
            kind in prop_oneof!["online", "update", "offline", "punch", "auth-ok", "challenge"],
            fields in proptest::collection::btree_map(
                prop_oneof!["peerId", "target", "addrs", "verified", "ts", "content", "nonce"],
                prop_oneof![
                    Just(Value::Null),
                    any::<bool>().prop_map(Value::from),
                    any::<i64>().prop_map(Value::from),
                    ".{0,80}".prop_map(Value::from),
                    proptest::collection::vec(".{0,40}".prop_map(Value::from), 0..30)
                        .prop_map(Value::from),
                ],
                0..7,
            ),
        ) {
            let mut map: Map<String, Value> = fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            map.insert("type".to_owned(), Value::from(kind));
            let _ = parse(&Value::Object(map).to_string(), &PeerId::random(), 1);
        }
    }
}

//! The group wire (peer.md §8.2), goop2-exact: MQ topics `group:<gid>:<type>` whose **type is
//! the topic suffix**, payloads per type, and `group.invite`. [`Topic::parse`] splits a topic,
//! [`GroupMsg::parse`] checks a payload against its type, [`GroupMsg::to_payload`] writes one.
//! Unknown payload fields are ignored; sizes are checked on the serialised payload.

mod payloads;

use libp2p::PeerId;
use serde::Serialize;
use serde_json::{Map, Value, json};

pub use payloads::{ErrorBody, Invite, MemberInfo, Meta, Welcome};

/// Topic prefix of group messages.
pub const TOPIC_PREFIX: &str = "group:";
/// Topic of invitations.
pub const INVITE_TOPIC: &str = "group.invite";
/// Largest `msg` payload in bytes (serialised).
pub const MAX_MSG: usize = 64 * 1024;
/// Largest `state` payload in bytes (serialised).
pub const MAX_STATE: usize = 256 * 1024;
/// Most members of a group, host included (and most entries of a member list).
pub const MAX_MEMBERS: usize = 256;
/// Longest voucher accepted in a `join` (peer.md §3.7).
pub const MAX_VOUCHER: usize = 4096;
/// Longest short text field (names, roles, codes, types).
pub const MAX_FIELD: usize = 4096;
/// Longest error message kept.
const MAX_MESSAGE: usize = 1024;

/// A group id: `^[A-Za-z0-9_.-]{1,64}$` (ours are 16 lower-case hex chars).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct GroupId(String);

impl GroupId {
    /// Accepts a remote or local group id.
    pub fn parse(text: &str) -> Option<Self> {
        let ok = (1..=64).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        ok.then(|| Self(text.to_owned()))
    }

    /// A fresh host-generated id: 16 lower-case hex chars.
    pub fn generate() -> Self {
        Self(format!("{:016x}", rand::random::<u64>()))
    }

    /// The text form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for GroupId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The type of a group message (the topic suffix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// member → host.
    Join,
    /// host → joiner.
    Welcome,
    /// host → member.
    Error,
    /// host → members.
    Members,
    /// host → members.
    Meta,
    /// both ways.
    Msg,
    /// both ways.
    State,
    /// member → host.
    Leave,
    /// host → member.
    Close,
    /// host → member.
    Ping,
    /// member → host.
    Pong,
}

impl Kind {
    const ALL: [Self; 11] = [
        Self::Join,
        Self::Welcome,
        Self::Error,
        Self::Members,
        Self::Meta,
        Self::Msg,
        Self::State,
        Self::Leave,
        Self::Close,
        Self::Ping,
        Self::Pong,
    ];

    /// The wire word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Join => "join",
            Self::Welcome => "welcome",
            Self::Error => "error",
            Self::Members => "members",
            Self::Meta => "meta",
            Self::Msg => "msg",
            Self::State => "state",
            Self::Leave => "leave",
            Self::Close => "close",
            Self::Ping => "ping",
            Self::Pong => "pong",
        }
    }

    fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == word)
    }
}

/// A parsed `group:<gid>:<type>` topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    /// The group.
    pub group: GroupId,
    /// The message type.
    pub kind: Kind,
}

/// Why a group message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupWireError {
    /// Not `group:<gid>:<type>` with a valid gid.
    #[error("not a group topic")]
    BadTopic,
    /// A type we do not know (dropped).
    #[error("unknown group message type")]
    UnknownType,
    /// The payload does not fit its type.
    #[error("malformed {0} payload: {1}")]
    Malformed(&'static str, String),
    /// Over [`MAX_MSG`] or [`MAX_STATE`].
    #[error("payload larger than {0} bytes")]
    TooLarge(usize),
}

impl Topic {
    /// Splits `group:<gid>:<type>`; the gid never contains `:`.
    ///
    /// # Errors
    /// [`GroupWireError::BadTopic`], [`GroupWireError::UnknownType`].
    pub fn parse(topic: &str) -> Result<Self, GroupWireError> {
        let rest = topic
            .strip_prefix(TOPIC_PREFIX)
            .ok_or(GroupWireError::BadTopic)?;
        let (gid, word) = rest.split_once(':').ok_or(GroupWireError::BadTopic)?;
        let group = GroupId::parse(gid).ok_or(GroupWireError::BadTopic)?;
        let kind = Kind::parse(word).ok_or(GroupWireError::UnknownType)?;
        Ok(Self { group, kind })
    }

    /// The topic string.
    pub fn render(group: &GroupId, kind: Kind) -> String {
        format!("{TOPIC_PREFIX}{group}:{}", kind.as_str())
    }
}

/// One group message, typed by its topic suffix.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupMsg {
    /// `join`, with our voucher extension.
    Join {
        /// A membership voucher (compact JWS).
        voucher: Option<String>,
    },
    /// `welcome`.
    Welcome(Welcome),
    /// `error`, either shape.
    Error(ErrorBody),
    /// `members`.
    Members(Vec<MemberInfo>),
    /// `meta`.
    Meta(Meta),
    /// `msg`: application payload.
    Msg(Value),
    /// `state`: application state.
    State(Value),
    /// `leave`.
    Leave,
    /// `close`.
    Close,
    /// `ping`.
    Ping,
    /// `pong`.
    Pong,
}

fn malformed(kind: Kind, why: impl std::fmt::Display) -> GroupWireError {
    GroupWireError::Malformed(kind.as_str(), why.to_string())
}

fn short(text: &str, kind: Kind, field: &str) -> Result<(), GroupWireError> {
    if text.len() > MAX_FIELD {
        return Err(malformed(kind, format!("{field} too long")));
    }
    Ok(())
}

/// Checks a member list: at most [`MAX_MEMBERS`] distinct Ed25519 PeerIds, short fields.
fn check_members(kind: Kind, members: &[MemberInfo]) -> Result<(), GroupWireError> {
    if members.len() > MAX_MEMBERS {
        return Err(malformed(kind, "too many members"));
    }
    let mut seen = std::collections::HashSet::new();
    for member in members {
        if member
            .peer_id
            .parse::<shared::ids::Ed25519PeerId>()
            .is_err()
        {
            return Err(malformed(kind, "member peer_id is not a PeerId"));
        }
        if !seen.insert(member.peer_id.as_str()) {
            return Err(malformed(kind, "member listed twice"));
        }
        short(&member.role, kind, "role")?;
        short(member.name.as_deref().unwrap_or(""), kind, "name")?;
    }
    Ok(())
}

fn typed<T: serde::de::DeserializeOwned>(kind: Kind, value: &Value) -> Result<T, GroupWireError> {
    T::deserialize(value).map_err(|e| malformed(kind, e))
}

/// The serialised size of `value`.
pub fn size_of(value: &Value) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX, |v| v.len())
}

impl GroupMsg {
    /// Checks `payload` against `kind`.
    ///
    /// # Errors
    /// [`GroupWireError::Malformed`] or [`GroupWireError::TooLarge`].
    pub fn parse(kind: Kind, payload: &Value) -> Result<Self, GroupWireError> {
        let object = || {
            payload
                .as_object()
                .ok_or_else(|| malformed(kind, "not an object"))
        };
        Ok(match kind {
            Kind::Join => {
                let voucher = match object()?.get("voucher") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(v)) if v.len() <= MAX_VOUCHER => Some(v.clone()),
                    Some(_) => return Err(malformed(kind, "voucher must be a string ≤ 4 KiB")),
                };
                Self::Join { voucher }
            }
            Kind::Welcome => {
                object()?;
                let welcome: Welcome = typed(kind, payload)?;
                check_members(kind, &welcome.members)?;
                short(&welcome.group_name, kind, "group_name")?;
                short(&welcome.group_type, kind, "group_type")?;
                if welcome
                    .state
                    .as_ref()
                    .is_some_and(|s| size_of(s) > MAX_STATE)
                {
                    return Err(GroupWireError::TooLarge(MAX_STATE));
                }
                Self::Welcome(welcome)
            }
            Kind::Error => {
                let map = object()?;
                // Nested `{"type":"error","group","payload":{code,message}}` or bare `{code,message}`.
                let body = match map.get("payload") {
                    Some(inner @ Value::Object(_)) if !map.contains_key("code") => inner,
                    _ => payload,
                };
                let error: ErrorBody = typed(kind, body)?;
                if error.code.is_empty() || error.code.len() > 64 {
                    return Err(malformed(kind, "code must be 1–64 bytes"));
                }
                let mut error = error;
                if error.message.len() > MAX_MESSAGE {
                    let mut cut = MAX_MESSAGE;
                    while !error.message.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    error.message.truncate(cut);
                }
                short(error.community.as_deref().unwrap_or(""), kind, "community")?;
                Self::Error(error)
            }
            Kind::Members => {
                let map = object()?;
                let members: Vec<MemberInfo> =
                    typed(kind, map.get("members").unwrap_or(&Value::Null))?;
                check_members(kind, &members)?;
                Self::Members(members)
            }
            Kind::Meta => {
                object()?;
                let meta: Meta = typed(kind, payload)?;
                short(&meta.group_name, kind, "group_name")?;
                short(&meta.group_type, kind, "group_type")?;
                Self::Meta(meta)
            }
            Kind::Msg => {
                if size_of(payload) > MAX_MSG {
                    return Err(GroupWireError::TooLarge(MAX_MSG));
                }
                Self::Msg(payload.clone())
            }
            Kind::State => {
                if size_of(payload) > MAX_STATE {
                    return Err(GroupWireError::TooLarge(MAX_STATE));
                }
                Self::State(payload.clone())
            }
            Kind::Leave => {
                object()?;
                Self::Leave
            }
            Kind::Close => {
                object()?;
                Self::Close
            }
            Kind::Ping => {
                object()?;
                Self::Ping
            }
            Kind::Pong => {
                object()?;
                Self::Pong
            }
        })
    }

    /// The message's type.
    pub fn kind(&self) -> Kind {
        match self {
            Self::Join { .. } => Kind::Join,
            Self::Welcome(_) => Kind::Welcome,
            Self::Error(_) => Kind::Error,
            Self::Members(_) => Kind::Members,
            Self::Meta(_) => Kind::Meta,
            Self::Msg(_) => Kind::Msg,
            Self::State(_) => Kind::State,
            Self::Leave => Kind::Leave,
            Self::Close => Kind::Close,
            Self::Ping => Kind::Ping,
            Self::Pong => Kind::Pong,
        }
    }

    /// The payload to send on `group:<group>:<kind>` (goop2 shapes).
    pub fn to_payload(&self, group: &GroupId) -> Value {
        let control = |word: &str| json!({ "type": word, "group": group });
        match self {
            Self::Join { voucher } => {
                let mut value = control("join");
                if let (Some(v), Some(map)) = (voucher, value.as_object_mut()) {
                    map.insert("voucher".to_owned(), Value::String(v.clone()));
                }
                value
            }
            Self::Welcome(welcome) => serde_json::to_value(welcome).unwrap_or(Value::Null),
            Self::Error(error) => {
                json!({ "type": "error", "group": group, "payload": error })
            }
            Self::Members(members) => json!({ "members": members }),
            Self::Meta(meta) => serde_json::to_value(meta).unwrap_or(Value::Null),
            Self::Msg(value) | Self::State(value) => value.clone(),
            Self::Leave => control("leave"),
            Self::Close => control("close"),
            Self::Ping => control("ping"),
            Self::Pong => control("pong"),
        }
    }
}

/// Relays an application payload (peer.md §8.4): an object gets `_from` = `author`, replacing any
/// sender value; anything else goes unchanged.
pub fn stamp_from(payload: &Value, author: &PeerId) -> Value {
    match payload {
        Value::Object(map) => {
            let mut map: Map<String, Value> = map.clone();
            map.insert("_from".to_owned(), Value::String(author.to_base58()));
            Value::Object(map)
        }
        other => other.clone(),
    }
}

/// The `_to` of an object payload, when it names a PeerId.
pub fn addressee(payload: &Value) -> Option<Result<PeerId, ()>> {
    let to = payload.as_object()?.get("_to")?;
    Some(
        to.as_str()
            .and_then(|t| t.parse::<shared::ids::Ed25519PeerId>().ok())
            .map(|id| id.peer_id())
            .ok_or(()),
    )
}

#[cfg(test)]
mod tests;

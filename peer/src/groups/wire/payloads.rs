//! The object payloads of §8.2 (`welcome`, `members` entries, `meta`, `error`) and of
//! `group.invite`, in goop2's field names.

use libp2p::PeerId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{GroupId, GroupWireError, MAX_FIELD};

/// One member as the wire lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    /// The member.
    pub peer_id: String,
    /// Its display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its role.
    pub role: String,
    /// When it joined (unix ms).
    #[serde(default)]
    pub joined_at: i64,
}

/// The `welcome` payload: a raw object, not wrapped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    /// Display name of the group.
    pub group_name: String,
    /// Its type.
    pub group_type: String,
    /// Application context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_context: Option<String>,
    /// 0 = no limit.
    #[serde(default)]
    pub max_members: u32,
    /// Ephemeral group.
    #[serde(default)]
    pub volatile: bool,
    /// The members, host first when it joined.
    #[serde(default)]
    pub members: Vec<MemberInfo>,
    /// The host-held state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Value>,
}

/// The `meta` payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// Display name.
    pub group_name: String,
    /// Type.
    pub group_type: String,
    /// 0 = no limit.
    #[serde(default)]
    pub max_members: u32,
}

/// An `error`: its code, text and, for `voucher_*`, the community.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// `full`, `not_found`, `voucher_*`, …
    pub code: String,
    /// Human text.
    #[serde(default)]
    pub message: String,
    /// The hub URL whose voucher is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community: Option<String>,
}

/// The `group.invite` payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    /// The group.
    pub group_id: String,
    /// Its name.
    pub group_name: String,
    /// The host (must be the sender).
    pub host_peer_id: String,
    /// Its type.
    pub group_type: String,
    /// Application context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_context: Option<String>,
    /// Ephemeral group.
    #[serde(default)]
    pub volatile: bool,
}

impl ErrorBody {
    /// An error with `code` and `message`.
    pub fn new(code: &str, message: &str) -> Self {
        Self {
            code: code.to_owned(),
            message: message.to_owned(),
            community: None,
        }
    }
}

impl Invite {
    /// Parses a `group.invite` payload.
    ///
    /// # Errors
    /// [`GroupWireError::Malformed`].
    pub fn parse(payload: &Value) -> Result<(Self, GroupId, PeerId), GroupWireError> {
        let bad = |why: &str| GroupWireError::Malformed("invite", why.to_owned());
        if !payload.is_object() {
            return Err(bad("not an object"));
        }
        let invite: Self =
            serde_json::from_value(payload.clone()).map_err(|e| bad(&e.to_string()))?;
        let group = GroupId::parse(&invite.group_id).ok_or_else(|| bad("bad group_id"))?;
        let host = invite
            .host_peer_id
            .parse::<shared::ids::Ed25519PeerId>()
            .map_err(|_| bad("bad host_peer_id"))?
            .peer_id();
        for field in [&invite.group_name, &invite.group_type] {
            if field.len() > MAX_FIELD {
                return Err(bad("field too long"));
            }
        }
        Ok((invite, group, host))
    }
}

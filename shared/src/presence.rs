//! The presence message (hub.md §5.1): the wire type, its change fingerprint (§5.7), and the JSON
//! each visibility class receives (§5.6), encoded the way goop2 does. The inbound rules (§5.1–5.2)
//! that sanitize what clients may publish live in `parse`.

mod parse;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use serde::Serialize;

use crate::ids::Ed25519PeerId;

/// `type` of a presence message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MsgType {
    /// The peer is live (also every snapshot frame).
    Online,
    /// The peer changed its message (also legacy refreshes).
    Update,
    /// The peer left.
    Offline,
    /// A hole-punch hint, made only by the hub (hub.md §5.9).
    Punch,
}

/// Who receives what (hub.md §5.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// Every field, including `email`.
    Admin,
    /// Every field except `email`.
    Participant,
    /// `type`, `peerId`, `content`, `avatarHash`, `activeTemplate`, `verified` and `ts`.
    Public,
}

/// Why a message was refused: the spec's error code and the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidField {
    /// `invalid_json`, `invalid_field` or `unsupported_peer_id` (hub.md §0.1).
    pub code: crate::error_code::ErrorCode,
    /// The camelCase key at fault, or `body` when the input is not a JSON object.
    pub field: &'static str,
    /// What is wrong, for humans: short, and quoting at most 64 bytes of the input.
    pub message: String,
}

/// A sanitized presence message (hub.md §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceMsg {
    /// `type`.
    pub kind: MsgType,
    /// The peer the message is about.
    pub peer_id: Ed25519PeerId,
    /// Display label.
    pub content: String,
    /// Shown to the admin class only.
    pub email: String,
    /// Lower-case hex.
    pub avatar_hash: String,
    /// The peer does not take video calls.
    pub video_disabled: bool,
    /// Name of the peer's active site template.
    pub active_template: String,
    /// Recipient of a punch hint; only on hub-made punch messages.
    pub target: Option<Ed25519PeerId>,
    /// Multiaddrs as the peer sent them.
    pub addrs: Vec<String>,
    /// The peer's encryption key, opaque to the hub.
    pub public_key: String,
    /// The peer can encrypt.
    pub encryption_supported: bool,
    /// Client version string.
    pub goop_client_version: String,
    /// Unix milliseconds.
    pub ts: i64,
    /// Set by the hub (hub.md §5.7); never taken from clients.
    pub verified: bool,
}

impl PresenceMsg {
    /// Fingerprint over content, email, avatarHash, videoDisabled, activeTemplate, the SET of
    /// addrs (order/duplicates irrelevant), publicKey, encryptionSupported, goopClientVersion,
    /// verified (NOT type, peerId, ts). Stable within one process only.
    pub fn fingerprint(&self) -> u64 {
        // Destructured so that a new field forces a decision about the fingerprint.
        let Self {
            kind: _,
            peer_id: _,
            content,
            email,
            avatar_hash,
            video_disabled,
            active_template,
            target: _,
            addrs,
            public_key,
            encryption_supported,
            goop_client_version,
            ts: _,
            verified,
        } = self;
        let mut hasher = DefaultHasher::new();
        content.hash(&mut hasher);
        email.hash(&mut hasher);
        avatar_hash.hash(&mut hasher);
        video_disabled.hash(&mut hasher);
        active_template.hash(&mut hasher);
        addrs
            .iter()
            .map(String::as_str)
            .collect::<BTreeSet<_>>()
            .hash(&mut hasher);
        public_key.hash(&mut hasher);
        encryption_supported.hash(&mut hasher);
        goop_client_version.hash(&mut hasher);
        verified.hash(&mut hasher);
        hasher.finish()
    }

    /// JSON text of this message for `class`, with its type replaced by `kind` (e.g. snapshot
    /// frames are `online`, legacy refreshes `update`).
    pub fn to_json(&self, kind: MsgType, class: Class) -> String {
        let admin = class == Class::Admin;
        let participant = class != Class::Public;
        let wire = Wire {
            kind,
            peer_id: &self.peer_id,
            content: &self.content,
            email: if admin { &self.email } else { "" },
            avatar_hash: &self.avatar_hash,
            video_disabled: participant && self.video_disabled,
            active_template: &self.active_template,
            target: self.target.as_ref().filter(|_| participant),
            addrs: if participant { &self.addrs } else { &[] },
            public_key: if participant { &self.public_key } else { "" },
            encryption_supported: participant && self.encryption_supported,
            goop_client_version: if participant {
                &self.goop_client_version
            } else {
                ""
            },
            ts: self.ts,
            verified: self.verified,
        };
        serde_json::to_string(&wire).expect("invariant: strings, bools and integers serialize")
    }

    /// Hub-generated offline: only type, peerId, ts.
    pub fn offline(peer_id: Ed25519PeerId, ts: i64) -> Self {
        Self::bare(MsgType::Offline, peer_id, ts)
    }

    /// Hub-generated punch hint to `target` about `peer_id`'s addrs.
    pub fn punch(
        peer_id: Ed25519PeerId,
        target: Ed25519PeerId,
        addrs: Vec<String>,
        ts: i64,
    ) -> Self {
        Self {
            target: Some(target),
            addrs,
            ..Self::bare(MsgType::Punch, peer_id, ts)
        }
    }

    fn bare(kind: MsgType, peer_id: Ed25519PeerId, ts: i64) -> Self {
        Self {
            kind,
            peer_id,
            content: String::new(),
            email: String::new(),
            avatar_hash: String::new(),
            video_disabled: false,
            active_template: String::new(),
            target: None,
            addrs: Vec::new(),
            public_key: String::new(),
            encryption_supported: false,
            goop_client_version: String::new(),
            ts,
            verified: false,
        }
    }
}

/// What one class sees of a message. Empty strings, `false` and empty arrays are left out, as
/// goop2 encodes them; a field hidden from the class is passed in empty.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Wire<'a> {
    #[serde(rename = "type")]
    kind: MsgType,
    peer_id: &'a Ed25519PeerId,
    #[serde(skip_serializing_if = "str::is_empty")]
    content: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    email: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    avatar_hash: &'a str,
    #[serde(skip_serializing_if = "is_false")]
    video_disabled: bool,
    #[serde(skip_serializing_if = "str::is_empty")]
    active_template: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<&'a Ed25519PeerId>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    addrs: &'a [String],
    #[serde(skip_serializing_if = "str::is_empty")]
    public_key: &'a str,
    #[serde(skip_serializing_if = "is_false")]
    encryption_supported: bool,
    #[serde(skip_serializing_if = "str::is_empty")]
    goop_client_version: &'a str,
    ts: i64,
    #[serde(skip_serializing_if = "is_false")]
    verified: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

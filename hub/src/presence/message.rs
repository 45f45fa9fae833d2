//! The presence message (hub.md §5.1): what clients may publish, sanitized on the way in, its change
//! fingerprint (§5.7), and the JSON each visibility class receives (§5.6), encoded the way goop2 does.

use std::collections::BTreeSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use libp2p::Multiaddr;
use serde::Serialize;
use serde_json::{Map, Value};
use shared::ids::{Ed25519PeerId, ParsePeerIdError};

const INVALID_JSON: &str = "invalid_json";
const INVALID_FIELD: &str = "invalid_field";
const UNSUPPORTED_PEER_ID: &str = "unsupported_peer_id";

const MAX_CONTENT_BYTES: usize = 4096;
const MAX_EMAIL_BYTES: usize = 320;
const MAX_AVATAR_HASH_CHARS: usize = 64;
const MAX_ACTIVE_TEMPLATE_BYTES: usize = 256;
const MAX_GOOP_CLIENT_VERSION_BYTES: usize = 64;
const MAX_PUBLIC_KEY_CHARS: usize = 128;
const MAX_VERIFICATION_TOKEN_BYTES: usize = 4096;
const MAX_ADDRS: usize = 20;
const MAX_ADDR_CHARS: usize = 256;
/// Ed25519 PeerIds are 52 characters; longer text is refused before base58 decoding, which is
/// quadratic in the input length.
const MAX_PEER_ID_BYTES: usize = 128;
/// How much of the offending input an error message may quote (hub.md §0.1).
const MAX_QUOTE_BYTES: usize = 64;

/// `type` of a presence message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum MsgType {
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
pub(crate) enum Class {
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
pub(crate) struct InvalidField {
    /// `invalid_json`, `invalid_field` or `unsupported_peer_id` (hub.md §0.1).
    pub(crate) code: &'static str,
    /// The camelCase key at fault, or `body` when the input is not a JSON object.
    pub(crate) field: &'static str,
    /// What is wrong, for humans: short, and quoting at most 64 bytes of the input.
    pub(crate) message: String,
}

impl InvalidField {
    fn new(code: &'static str, field: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            field,
            message: message.into(),
        }
    }

    fn field(field: &'static str, message: impl Into<String>) -> Self {
        Self::new(INVALID_FIELD, field, message)
    }
}

/// A sanitized presence message (hub.md §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PresenceMsg {
    /// `type`.
    pub(crate) kind: MsgType,
    /// The peer the message is about.
    pub(crate) peer_id: Ed25519PeerId,
    /// Display label.
    pub(crate) content: String,
    /// Shown to the admin class only.
    pub(crate) email: String,
    /// Lower-case hex.
    pub(crate) avatar_hash: String,
    /// The peer does not take video calls.
    pub(crate) video_disabled: bool,
    /// Name of the peer's active site template.
    pub(crate) active_template: String,
    /// Recipient of a punch hint; only on hub-made punch messages.
    pub(crate) target: Option<Ed25519PeerId>,
    /// Multiaddrs as the peer sent them.
    pub(crate) addrs: Vec<String>,
    /// The peer's encryption key, opaque to the hub.
    pub(crate) public_key: String,
    /// The peer can encrypt.
    pub(crate) encryption_supported: bool,
    /// Client version string.
    pub(crate) goop_client_version: String,
    /// Unix milliseconds.
    pub(crate) ts: i64,
    /// Set by the hub (hub.md §5.7); never taken from clients.
    pub(crate) verified: bool,
}

impl PresenceMsg {
    /// Parses and validates one inbound message. `session_peer`: on WS sessions an empty/absent
    /// `peerId` takes this value. A different `peerId` is kept; dropping such frames is up to the
    /// session. `verificationToken` is checked and then dropped, and `verified` is always false.
    ///
    /// # Errors
    /// [`InvalidField`] naming the first key that breaks a rule of hub.md §5.1.
    pub(crate) fn parse(
        bytes: &[u8],
        now_ms: i64,
        session_peer: Option<&Ed25519PeerId>,
    ) -> Result<Self, InvalidField> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|_| InvalidField::new(INVALID_JSON, "body", "not valid JSON"))?;
        let Value::Object(map) = &value else {
            return Err(InvalidField::new(
                INVALID_JSON,
                "body",
                "expected a JSON object",
            ));
        };
        let fields = Fields(map);

        let kind = parse_kind(&fields)?;
        let peer_id = parse_peer_id(&fields, session_peer)?;
        let content = fields.text("content", Max::Bytes(MAX_CONTENT_BYTES))?;
        let email = fields.text("email", Max::Bytes(MAX_EMAIL_BYTES))?;
        let avatar_hash = fields.text("avatarHash", Max::Chars(MAX_AVATAR_HASH_CHARS))?;
        if !avatar_hash
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(InvalidField::field(
                "avatarHash",
                "only 0-9 and a-f allowed",
            ));
        }
        let video_disabled = fields.flag("videoDisabled")?;
        let active_template =
            fields.text("activeTemplate", Max::Bytes(MAX_ACTIVE_TEMPLATE_BYTES))?;
        if fields.get("target").is_some() {
            return Err(InvalidField::field("target", "must be absent"));
        }
        let addrs = parse_addrs(&fields)?;
        fields.text(
            "verificationToken",
            Max::Bytes(MAX_VERIFICATION_TOKEN_BYTES),
        )?;
        let public_key = fields.text("publicKey", Max::Chars(MAX_PUBLIC_KEY_CHARS))?;
        let encryption_supported = fields.flag("encryptionSupported")?;
        let goop_client_version = fields.text(
            "goopClientVersion",
            Max::Bytes(MAX_GOOP_CLIENT_VERSION_BYTES),
        )?;
        let ts = match fields.integer("ts")? {
            None | Some(0) => now_ms,
            Some(ts) if ts < 0 => return Err(InvalidField::field("ts", "must not be negative")),
            Some(ts) => ts,
        };
        fields.flag("verified")?;

        Ok(Self {
            kind,
            peer_id,
            content: content.to_owned(),
            email: email.to_owned(),
            avatar_hash: avatar_hash.to_owned(),
            video_disabled,
            active_template: active_template.to_owned(),
            target: None,
            addrs,
            public_key: public_key.to_owned(),
            encryption_supported,
            goop_client_version: goop_client_version.to_owned(),
            ts,
            verified: false,
        })
    }

    /// Fingerprint over content, email, avatarHash, videoDisabled, activeTemplate, the SET of
    /// addrs (order/duplicates irrelevant), publicKey, encryptionSupported, goopClientVersion,
    /// verified (NOT type, peerId, ts). Stable within one process only.
    pub(crate) fn fingerprint(&self) -> u64 {
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
    pub(crate) fn to_json(&self, kind: MsgType, class: Class) -> String {
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
    pub(crate) fn offline(peer_id: Ed25519PeerId, ts: i64) -> Self {
        Self::bare(MsgType::Offline, peer_id, ts)
    }

    /// Hub-generated punch hint to `target` about `peer_id`'s addrs.
    pub(crate) fn punch(
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

/// A length limit, in UTF-8 bytes or in characters as the spec states it.
#[derive(Clone, Copy)]
enum Max {
    Bytes(usize),
    Chars(usize),
}

/// The known keys of one inbound object. `null` counts as absent, as in goop2's Go decoder.
struct Fields<'a>(&'a Map<String, Value>);

impl<'a> Fields<'a> {
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.0.get(key).filter(|value| !value.is_null())
    }

    /// The raw string under `key`, `""` when absent.
    fn string(&self, key: &'static str) -> Result<&'a str, InvalidField> {
        match self.get(key) {
            None => Ok(""),
            Some(Value::String(text)) => Ok(text),
            Some(_) => Err(InvalidField::field(key, "expected a string")),
        }
    }

    /// The string under `key`, checked against `max` and for NUL.
    fn text(&self, key: &'static str, max: Max) -> Result<&'a str, InvalidField> {
        let text = self.string(key)?;
        check_text(text, max).map_err(|message| InvalidField::field(key, message))?;
        Ok(text)
    }

    fn flag(&self, key: &'static str) -> Result<bool, InvalidField> {
        match self.get(key) {
            None => Ok(false),
            Some(Value::Bool(flag)) => Ok(*flag),
            Some(_) => Err(InvalidField::field(key, "expected true or false")),
        }
    }

    fn integer(&self, key: &'static str) -> Result<Option<i64>, InvalidField> {
        match self.get(key) {
            None => Ok(None),
            Some(value) => value
                .as_i64()
                .map(Some)
                .ok_or_else(|| InvalidField::field(key, "expected an integer")),
        }
    }

    fn list(&self, key: &'static str) -> Result<&'a [Value], InvalidField> {
        match self.get(key) {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(InvalidField::field(key, "expected an array of strings")),
        }
    }
}

/// Checks the length first, so oversized input costs no more than its parsing did.
fn check_text(text: &str, max: Max) -> Result<(), String> {
    match max {
        Max::Bytes(limit) if text.len() > limit => return Err(format!("at most {limit} bytes")),
        Max::Chars(limit) if text.len() > limit && text.chars().nth(limit).is_some() => {
            return Err(format!("at most {limit} characters"));
        }
        _ => {}
    }
    // NUL truncates strings in C-based consumers; refuse it rather than pass it on.
    if text.contains('\0') {
        return Err("must not contain NUL".to_owned());
    }
    Ok(())
}

fn parse_kind(fields: &Fields<'_>) -> Result<MsgType, InvalidField> {
    match fields.string("type")? {
        "online" => Ok(MsgType::Online),
        "update" => Ok(MsgType::Update),
        "offline" => Ok(MsgType::Offline),
        "" => Err(InvalidField::field("type", "required")),
        other => Err(InvalidField::field(
            "type",
            format!("{} is not online, update or offline", quote(other)),
        )),
    }
}

fn parse_peer_id(
    fields: &Fields<'_>,
    session_peer: Option<&Ed25519PeerId>,
) -> Result<Ed25519PeerId, InvalidField> {
    let text = fields.string("peerId")?;
    if text.is_empty() {
        return session_peer
            .copied()
            .ok_or_else(|| InvalidField::field("peerId", "required"));
    }
    let parsed = if text.len() > MAX_PEER_ID_BYTES {
        Err(ParsePeerIdError::Malformed)
    } else {
        text.parse()
    };
    parsed.map_err(|error| match error {
        ParsePeerIdError::NotEd25519 => InvalidField::new(
            UNSUPPORTED_PEER_ID,
            "peerId",
            format!("{} is not an Ed25519 PeerId", quote(text)),
        ),
        ParsePeerIdError::Malformed => {
            InvalidField::field("peerId", format!("{} is not a PeerId", quote(text)))
        }
    })
}

fn parse_addrs(fields: &Fields<'_>) -> Result<Vec<String>, InvalidField> {
    let entries = fields.list("addrs")?;
    if entries.len() > MAX_ADDRS {
        return Err(InvalidField::field(
            "addrs",
            format!("at most {MAX_ADDRS} entries"),
        ));
    }
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let invalid =
                |message: String| InvalidField::field("addrs", format!("entry {index}: {message}"));
            let Value::String(addr) = entry else {
                return Err(invalid("expected a string".to_owned()));
            };
            check_text(addr, Max::Chars(MAX_ADDR_CHARS)).map_err(invalid)?;
            match addr.parse::<Multiaddr>() {
                Ok(parsed) if !parsed.is_empty() => Ok(addr.clone()),
                _ => Err(invalid(format!("{} is not a multiaddr", quote(addr)))),
            }
        })
        .collect()
}

/// At most [`MAX_QUOTE_BYTES`] of `input` in quotes, control characters replaced, so error
/// messages stay short and printable.
fn quote(input: &str) -> String {
    let mut end = input.len().min(MAX_QUOTE_BYTES);
    while !input.is_char_boundary(end) {
        end -= 1;
    }
    let shown: String = input[..end]
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    let ellipsis = if end < input.len() { "…" } else { "" };
    format!("\"{shown}{ellipsis}\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use libp2p::identity::Keypair;
    use serde_json::json;
    use std::time::{Duration, Instant};

    const NOW: i64 = 1_700_000_000_000;
    const RSA_PEER: &str = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N";
    const CLASSES: [Class; 3] = [Class::Admin, Class::Participant, Class::Public];

    fn new_peer() -> Ed25519PeerId {
        Keypair::generate_ed25519()
            .public()
            .to_peer_id()
            .try_into()
            .unwrap()
    }

    fn full(peer: &Ed25519PeerId) -> Value {
        json!({
            "type": "update",
            "peerId": peer.to_string(),
            "content": "Alice's laptop\nüñí",
            "email": "alice@example.org",
            "avatarHash": "0123456789abcdef",
            "videoDisabled": true,
            "activeTemplate": "blog",
            "addrs": ["/ip4/192.0.2.1/tcp/4001", "/ip6/::1/udp/4001/quic-v1"],
            "verificationToken": "secret-token",
            "publicKey": "base64key==",
            "encryptionSupported": true,
            "goopClientVersion": "goop2/1.4.0",
            "ts": 1_700_000_000_123_i64,
        })
    }

    fn parse(value: &Value) -> Result<PresenceMsg, InvalidField> {
        PresenceMsg::parse(value.to_string().as_bytes(), NOW, None)
    }

    fn with(mut value: Value, key: &str, field: Value) -> Value {
        value[key] = field;
        value
    }

    fn without(mut value: Value, key: &str) -> Value {
        value.as_object_mut().unwrap().remove(key);
        value
    }

    /// `(code, field)` of the refusal of `value`.
    fn refusal(value: &Value) -> (&'static str, &'static str) {
        let error = parse(value).expect_err("accepted");
        (error.code, error.field)
    }

    /// `(code, field)` of the refusal of a full message whose `key` is set to `field`.
    fn refusal_of(key: &str, field: Value) -> (&'static str, &'static str) {
        refusal(&with(full(&new_peer()), key, field))
    }

    fn keys(json: &str) -> BTreeSet<String> {
        let value: Value = serde_json::from_str(json).unwrap();
        value.as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn parse_keeps_every_field_when_message_is_full() {
        let peer = new_peer();

        let msg = parse(&full(&peer)).unwrap();

        let addrs = ["/ip4/192.0.2.1/tcp/4001", "/ip6/::1/udp/4001/quic-v1"];
        assert_eq!(
            (msg.kind, msg.peer_id, msg.ts),
            (MsgType::Update, peer, 1_700_000_000_123)
        );
        assert_eq!(msg.content, "Alice's laptop\nüñí");
        assert_eq!(msg.email, "alice@example.org");
        assert_eq!(msg.avatar_hash, "0123456789abcdef");
        assert_eq!(msg.active_template, "blog");
        assert_eq!(msg.addrs, addrs);
        assert_eq!(msg.public_key, "base64key==");
        assert_eq!(msg.goop_client_version, "goop2/1.4.0");
        assert!(msg.video_disabled && msg.encryption_supported);
        assert!(msg.target.is_none() && !msg.verified);
    }

    #[test]
    fn to_json_round_trips_when_class_is_admin() {
        let msg = parse(&full(&new_peer())).unwrap();

        let json = msg.to_json(msg.kind, Class::Admin);

        assert_eq!(PresenceMsg::parse(json.as_bytes(), 1, None).unwrap(), msg);
    }

    #[test]
    fn to_json_drops_only_email_when_class_is_participant() {
        let msg = parse(&full(&new_peer())).unwrap();

        let json = msg.to_json(msg.kind, Class::Participant);

        let back = PresenceMsg::parse(json.as_bytes(), 1, None).unwrap();
        assert_eq!(
            back,
            PresenceMsg {
                email: String::new(),
                ..msg
            }
        );
        assert!(!json.contains("alice@example.org"));
    }

    #[test]
    fn to_json_sends_public_subset_when_class_is_public() {
        let msg = PresenceMsg {
            verified: true,
            ..parse(&full(&new_peer())).unwrap()
        };

        let json = msg.to_json(msg.kind, Class::Public);

        let expected = [
            "type",
            "peerId",
            "content",
            "avatarHash",
            "activeTemplate",
            "verified",
            "ts",
        ];
        assert_eq!(keys(&json), expected.map(String::from).into());
    }

    #[test]
    fn to_json_sends_email_only_when_class_is_admin() {
        let msg = parse(&full(&new_peer())).unwrap();

        let seen = CLASSES.map(|class| keys(&msg.to_json(msg.kind, class)).contains("email"));

        assert_eq!(seen, [true, false, false]);
    }

    #[test]
    fn to_json_never_sends_verification_token_when_client_sent_one() {
        let msg = parse(&full(&new_peer())).unwrap();

        let sent = CLASSES.map(|class| msg.to_json(msg.kind, class));

        for json in sent {
            assert!(
                !json.contains("verificationToken") && !json.contains("secret-token"),
                "{json}"
            );
        }
    }

    #[test]
    fn to_json_omits_empty_false_and_unverified_when_fields_are_unset() {
        let peer = new_peer();
        let minimal = json!({"type": "online", "peerId": peer.to_string(), "videoDisabled": false, "addrs": [], "content": ""});
        let msg = parse(&minimal).unwrap();

        let json = msg.to_json(msg.kind, Class::Admin);

        assert_eq!(
            json,
            format!(r#"{{"type":"online","peerId":"{peer}","ts":{NOW}}}"#)
        );
    }

    #[test]
    fn to_json_sends_verified_when_hub_set_it() {
        let msg = PresenceMsg {
            verified: true,
            ..PresenceMsg::offline(new_peer(), NOW)
        };

        let json = msg.to_json(MsgType::Online, Class::Public);

        assert!(json.ends_with(r#""verified":true}"#), "{json}");
    }

    #[test]
    fn to_json_uses_given_kind_when_it_differs_from_received_type() {
        let msg = parse(&full(&new_peer())).unwrap();

        let json = msg.to_json(MsgType::Online, Class::Participant);

        assert!(json.starts_with(r#"{"type":"online","#), "{json}");
    }

    #[test]
    fn parse_accepts_limit_and_refuses_one_over_when_field_has_length_limit() {
        let text = |unit: &str, count: usize| json!(unit.repeat(count));
        let dns = |len: usize| format!("/dns4/{}/tcp/4001", "a".repeat(len - 15));
        let addrs = |count: usize| json!(vec!["/ip4/10.0.0.1/tcp/1"; count]);
        let cases = [
            ("content", text("a", 4096), text("a", 4097)),
            ("content", text("é", 2048), text("é", 2049)),
            ("email", text("e", 320), text("e", 321)),
            ("avatarHash", text("f", 64), text("f", 65)),
            ("activeTemplate", text("t", 256), text("t", 257)),
            ("goopClientVersion", text("v", 64), text("v", 65)),
            ("publicKey", text("é", 128), text("é", 129)),
            ("verificationToken", text("k", 4096), text("k", 4097)),
            ("addrs", json!([dns(256)]), json!([dns(257)])),
            ("addrs", addrs(20), addrs(21)),
        ];

        for (key, at_limit, over) in cases {
            let accepted = parse(&with(full(&new_peer()), key, at_limit));
            let refused = refusal_of(key, over);

            assert!(accepted.is_ok(), "{key} at limit: {accepted:?}");
            assert_eq!(refused, (INVALID_FIELD, key));
        }
    }

    #[test]
    fn parse_refuses_avatar_hash_when_not_lower_case_hex() {
        for bad in ["ABCDEF", "0123xyz", "ab cd"] {
            assert_eq!(
                refusal_of("avatarHash", json!(bad)),
                (INVALID_FIELD, "avatarHash"),
                "{bad}"
            );
        }
    }

    #[test]
    fn parse_refuses_body_when_not_json() {
        for bad in [
            &b"{"[..],
            b"",
            b"online",
            b"{\"type\":\"online\",}",
            b"\"\xff\"",
        ] {
            let error = PresenceMsg::parse(bad, NOW, None).unwrap_err();

            assert_eq!((error.code, error.field), (INVALID_JSON, "body"));
        }
    }

    #[test]
    fn parse_refuses_body_when_not_an_object() {
        for bad in [json!([]), json!("online"), json!(5), json!(null)] {
            assert_eq!(refusal(&bad), (INVALID_JSON, "body"), "{bad}");
        }
    }

    #[test]
    fn parse_refuses_key_when_json_type_is_wrong() {
        let cases = [
            ("type", json!(1)),
            ("peerId", json!(5)),
            ("content", json!(5)),
            ("email", json!(true)),
            ("avatarHash", json!(["ab"])),
            ("videoDisabled", json!("yes")),
            ("activeTemplate", json!({})),
            ("addrs", json!("/ip4/10.0.0.1/tcp/1")),
            ("addrs", json!([1])),
            ("verificationToken", json!(1)),
            ("publicKey", json!(1.5)),
            ("encryptionSupported", json!(1)),
            ("goopClientVersion", json!(false)),
            ("ts", json!("1700000000000")),
            ("ts", json!(1.5)),
            ("ts", json!(u64::MAX)),
            ("verified", json!("yes")),
        ];

        for (key, value) in cases {
            assert_eq!(refusal_of(key, value), (INVALID_FIELD, key));
        }
    }

    #[test]
    fn parse_refuses_string_when_it_contains_nul() {
        let keys = [
            "content",
            "email",
            "activeTemplate",
            "verificationToken",
            "publicKey",
            "goopClientVersion",
        ];

        for key in keys {
            assert_eq!(refusal_of(key, json!("a\u{0}b")), (INVALID_FIELD, key));
        }
        let addrs = json!(["/ip4/10.0.0.1/tcp/1\u{0}"]);
        assert_eq!(refusal_of("addrs", addrs), (INVALID_FIELD, "addrs"));
    }

    #[test]
    fn parse_refuses_addrs_when_entry_is_not_a_multiaddr() {
        for bad in ["", "not an addr", "/ip4/999.0.0.1/tcp/1", "ip4/10.0.0.1"] {
            assert_eq!(
                refusal_of("addrs", json!([bad])),
                (INVALID_FIELD, "addrs"),
                "{bad}"
            );
        }
    }

    #[test]
    fn parse_refuses_type_when_not_sendable_by_clients() {
        for bad in ["punch", "ONLINE", "challenge", ""] {
            assert_eq!(
                refusal_of("type", json!(bad)),
                (INVALID_FIELD, "type"),
                "{bad}"
            );
        }
        assert_eq!(
            refusal(&without(full(&new_peer()), "type")),
            (INVALID_FIELD, "type")
        );
    }

    #[test]
    fn parse_refuses_target_when_client_sends_one() {
        let target = json!(new_peer().to_string());

        assert_eq!(refusal_of("target", target), (INVALID_FIELD, "target"));
    }

    #[test]
    fn parse_reports_unsupported_peer_id_when_key_is_rsa() {
        assert_eq!(
            refusal_of("peerId", json!(RSA_PEER)),
            (UNSUPPORTED_PEER_ID, "peerId")
        );
    }

    #[test]
    fn parse_reports_invalid_field_when_peer_id_is_garbage() {
        for bad in ["12D3KooW!!!", "hello", &"1".repeat(10_000)] {
            assert_eq!(
                refusal_of("peerId", json!(bad)),
                (INVALID_FIELD, "peerId"),
                "{bad:.20}"
            );
        }
    }

    #[test]
    fn parse_refuses_peer_id_when_missing_without_session() {
        let absent = without(full(&new_peer()), "peerId");
        let empty = with(full(&new_peer()), "peerId", json!(""));

        for value in [absent, empty] {
            assert_eq!(refusal(&value), (INVALID_FIELD, "peerId"));
        }
    }

    #[test]
    fn parse_takes_session_peer_when_peer_id_missing_or_empty() {
        let session = new_peer();

        for value in [
            json!({"type": "online"}),
            json!({"type": "online", "peerId": ""}),
        ] {
            let msg = PresenceMsg::parse(value.to_string().as_bytes(), NOW, Some(&session));

            assert_eq!(msg.unwrap().peer_id, session);
        }
    }

    #[test]
    fn parse_keeps_sent_peer_id_when_it_differs_from_session_peer() {
        let sent = new_peer();
        let value = json!({"type": "online", "peerId": sent.to_string()});

        let msg = PresenceMsg::parse(value.to_string().as_bytes(), NOW, Some(&new_peer()));

        assert_eq!(msg.unwrap().peer_id, sent);
    }

    #[test]
    fn parse_ignores_verified_when_client_sends_true() {
        let msg = parse(&with(full(&new_peer()), "verified", json!(true))).unwrap();

        assert!(!msg.verified);
        assert!(!msg.to_json(msg.kind, Class::Admin).contains("verified"));
    }

    #[test]
    fn parse_uses_now_when_ts_is_zero_absent_or_null() {
        let zero = with(full(&new_peer()), "ts", json!(0));
        let null = with(full(&new_peer()), "ts", Value::Null);

        for value in [zero, null, without(full(&new_peer()), "ts")] {
            assert_eq!(parse(&value).unwrap().ts, NOW);
        }
    }

    #[test]
    fn parse_refuses_ts_when_negative() {
        assert_eq!(refusal_of("ts", json!(-1)), (INVALID_FIELD, "ts"));
    }

    #[test]
    fn parse_ignores_key_when_unknown() {
        let known = full(&new_peer());
        let extended = with(known.clone(), "somethingNew", json!({"nested": [1, 2]}));

        let msg = parse(&extended);

        assert_eq!(msg, parse(&known));
    }

    #[test]
    fn parse_refuses_quickly_when_field_is_one_mib() {
        for (key, field) in [
            ("content", json!("a".repeat(1 << 20))),
            ("peerId", json!("1".repeat(1 << 20))),
        ] {
            let bytes = with(full(&new_peer()), key, field).to_string();
            let started = Instant::now();

            let error = PresenceMsg::parse(bytes.as_bytes(), NOW, None).unwrap_err();

            assert_eq!(error.field, key);
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "{key}: {:?}",
                started.elapsed()
            );
        }
    }

    #[test]
    fn error_message_stays_short_when_input_is_long() {
        let long = format!("{}\u{7}{}", "é".repeat(40), "x".repeat(10_000));

        let error = parse(&with(full(&new_peer()), "type", json!(long))).unwrap_err();

        let quoted = error.message.split('"').nth(1).unwrap();
        assert!(
            quoted.trim_end_matches('…').len() <= MAX_QUOTE_BYTES,
            "{quoted}"
        );
        assert!(error.to_string().chars().count() <= 200, "{error}");
        assert!(!error.message.contains('\u{7}'));
    }

    #[test]
    fn fingerprint_is_equal_when_addrs_are_reordered_or_duplicated() {
        let msg = parse(&full(&new_peer())).unwrap();
        let mut addrs = msg.addrs.clone();
        addrs.reverse();
        addrs.push(addrs[0].clone());

        let reordered = PresenceMsg {
            addrs,
            ..msg.clone()
        };

        assert_eq!(reordered.fingerprint(), msg.fingerprint());
    }

    #[test]
    fn fingerprint_is_equal_when_only_type_peer_or_ts_change() {
        let msg = parse(&full(&new_peer())).unwrap();

        let moved = PresenceMsg {
            kind: MsgType::Online,
            peer_id: new_peer(),
            ts: msg.ts + 5_000,
            ..msg.clone()
        };

        assert_eq!(moved.fingerprint(), msg.fingerprint());
    }

    #[test]
    fn fingerprint_differs_when_any_fingerprinted_field_changes() {
        let msg = parse(&full(&new_peer())).unwrap();
        let changes: [fn(&mut PresenceMsg); 10] = [
            |m| m.content = "Bob".into(),
            |m| m.email = "bob@example.org".into(),
            |m| m.avatar_hash = "ff".into(),
            |m| m.video_disabled = false,
            |m| m.active_template = "shop".into(),
            |m| m.addrs = vec!["/ip4/192.0.2.1/tcp/4001".into()],
            |m| m.public_key = "other".into(),
            |m| m.encryption_supported = false,
            |m| m.goop_client_version = "goop2/1.5.0".into(),
            |m| m.verified = true,
        ];

        for change in changes {
            let mut other = msg.clone();
            change(&mut other);

            assert_ne!(other.fingerprint(), msg.fingerprint(), "{other:?}");
        }
    }

    #[test]
    fn punch_encodes_goop2_shape_when_sent_to_target() {
        let (peer, target) = (new_peer(), new_peer());
        let addrs = vec!["/ip4/192.0.2.1/tcp/4001".to_owned()];

        let punch = PresenceMsg::punch(peer, target, addrs, NOW);

        let expected = format!(
            r#"{{"type":"punch","peerId":"{peer}","target":"{target}","addrs":["/ip4/192.0.2.1/tcp/4001"],"ts":{NOW}}}"#
        );
        assert_eq!(punch.to_json(MsgType::Punch, Class::Participant), expected);
    }

    #[test]
    fn offline_encodes_exactly_three_keys_when_hub_generated() {
        let peer = new_peer();

        let offline = PresenceMsg::offline(peer, NOW);

        let expected = format!(r#"{{"type":"offline","peerId":"{peer}","ts":{NOW}}}"#);
        for class in CLASSES {
            assert_eq!(offline.to_json(MsgType::Offline, class), expected);
        }
    }
}

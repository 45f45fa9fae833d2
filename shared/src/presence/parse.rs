//! The inbound rules of hub.md §5.1–5.2: what a client may publish, checked field by field in a
//! fixed order, each refusal naming the spec's error code and the offending key.

use libp2p::Multiaddr;
use serde_json::{Map, Value};

use super::{InvalidField, MsgType, PresenceMsg};
use crate::error_code::ErrorCode;
use crate::ids::{Ed25519PeerId, ParsePeerIdError};

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
pub(super) const MAX_QUOTE_BYTES: usize = 64;

impl InvalidField {
    fn new(code: ErrorCode, field: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            field,
            message: message.into(),
        }
    }

    fn field(field: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidField, field, message)
    }
}

impl PresenceMsg {
    /// Parses and validates one inbound message. `session_peer`: on WS sessions an empty/absent
    /// `peerId` takes this value. A different `peerId` is kept; dropping such frames is up to the
    /// session. `verificationToken` is checked and then dropped, and `verified` is always false.
    ///
    /// # Errors
    /// [`InvalidField`] naming the first key that breaks a rule of hub.md §5.1.
    pub fn parse(
        bytes: &[u8],
        now_ms: i64,
        session_peer: Option<&Ed25519PeerId>,
    ) -> Result<Self, InvalidField> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|_| InvalidField::new(ErrorCode::InvalidJson, "body", "not valid JSON"))?;
        let Value::Object(map) = &value else {
            return Err(InvalidField::new(
                ErrorCode::InvalidJson,
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
            ErrorCode::UnsupportedPeerId,
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

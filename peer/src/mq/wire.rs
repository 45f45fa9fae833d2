//! The `/goop/mq/1.0.0` wire (peer.md §4.2, goop2-exact): one JSON line from the sender
//! (`{"type":"msg","id","seq","topic","payload"}`), one back (`{"type":"ack","id","seq"}`).
//! Lines follow the JSON line rules of peer.md §0.1: `\n` or `\r\n` or EOF ends a line; a BOM, a
//! duplicate key, invalid UTF-8 or trailing bytes make it malformed.

mod strict;

use futures::{AsyncRead, AsyncReadExt as _};
use libp2p::StreamProtocol;
use serde::Serialize;
use serde_json::Value;

/// The protocol id.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/goop/mq/1.0.0");
/// Longest message line, terminator included (peer.md §4.2).
pub const MAX_LINE: usize = 1024 * 1024;
/// Longest ack line a sender reads.
pub const MAX_ACK_LINE: usize = 4096;
/// Longest topic in bytes.
pub const MAX_TOPIC: usize = 256;

/// A message id: a lower-case hyphenated UUID (we send v4).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct MsgId(String);

impl MsgId {
    /// A fresh random (v4) id.
    pub fn new() -> Self {
        Self(uuid::Uuid::new_v4().hyphenated().to_string())
    }

    /// Accepts exactly the lower-case hyphenated UUID form (any version: goop2 and browsers send
    /// v4, and the id only has to be unique).
    pub fn parse(text: &str) -> Option<Self> {
        let canonical = text.len() == 36
            && !text.bytes().any(|b| b.is_ascii_uppercase())
            && uuid::Uuid::try_parse(text).is_ok_and(|u| u.hyphenated().to_string() == text);
        canonical.then(|| Self(text.to_owned()))
    }

    /// The text form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for MsgId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for MsgId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One MQ message.
#[derive(Debug, Clone, PartialEq)]
pub struct Msg {
    /// Unique per message; a retry reuses it.
    pub id: MsgId,
    /// The sender's counter (informational).
    pub seq: i64,
    /// The topic (peer.md §5).
    pub topic: String,
    /// Any JSON (`null` when absent).
    pub payload: Value,
}

/// Why a line was refused. Every variant means: reset without ack.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Not one strict JSON value (syntax, BOM, duplicate key, trailing bytes, bad UTF-8).
    #[error("malformed JSON line: {0}")]
    Json(String),
    /// Valid JSON of the wrong shape (not an object, `type` ≠ `msg`, a field of a wrong type).
    #[error("invalid message: {0}")]
    Shape(&'static str),
    /// `topic` breaks the topic rules.
    #[error("invalid topic")]
    Topic,
}

/// Why a line could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadLineError {
    /// More than the limit before a terminator.
    #[error("line longer than {0} bytes")]
    TooLong(usize),
    /// The stream ended before any byte.
    #[error("stream ended before a line")]
    Empty,
    /// The stream failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Whether `topic` is 1–256 bytes without control characters or whitespace.
pub fn valid_topic(topic: &str) -> bool {
    !topic.is_empty()
        && topic.len() <= MAX_TOPIC
        && !topic.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// Reads one line of at most `max` bytes (terminator included) and returns it without its
/// `\n`/`\r\n`; a final line may end at EOF. Bytes after the terminator are not looked at.
///
/// # Errors
/// [`ReadLineError`]. Never buffers more than `max` bytes.
pub async fn read_line<R: AsyncRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> Result<Vec<u8>, ReadLineError> {
    let mut line = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let room = (max + 1).saturating_sub(line.len()).min(chunk.len());
        let n = reader.read(&mut chunk[..room]).await?;
        if n == 0 {
            if line.is_empty() {
                return Err(ReadLineError::Empty);
            }
            break;
        }
        if let Some(end) = chunk[..n].iter().position(|&b| b == b'\n') {
            line.extend_from_slice(&chunk[..end]);
            if line.len() + 1 > max {
                return Err(ReadLineError::TooLong(max));
            }
            break;
        }
        line.extend_from_slice(&chunk[..n]);
        if line.len() >= max {
            return Err(ReadLineError::TooLong(max));
        }
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(line)
}

/// Parses a `msg` line (without its terminator).
///
/// # Errors
/// [`WireError`]: malformed JSON, `type` ≠ `msg`, missing or invalid `id` or `topic`, a `seq`
/// that is not an integer. A missing `seq` is 0; a missing `payload` is `null`.
pub fn parse_msg(line: &[u8]) -> Result<Msg, WireError> {
    let Value::Object(mut map) = strict::parse(line)? else {
        return Err(WireError::Shape("not an object"));
    };
    if map.get("type").and_then(Value::as_str) != Some("msg") {
        return Err(WireError::Shape("type is not msg"));
    }
    let id = map
        .get("id")
        .and_then(Value::as_str)
        .and_then(MsgId::parse)
        .ok_or(WireError::Shape("id missing or not a UUID"))?;
    let seq = match map.get("seq") {
        None | Some(Value::Null) => 0,
        Some(value) => value
            .as_i64()
            .ok_or(WireError::Shape("seq is not an i64"))?,
    };
    let Some(Value::String(topic)) = map.remove("topic") else {
        return Err(WireError::Shape("topic missing"));
    };
    if !valid_topic(&topic) {
        return Err(WireError::Topic);
    }
    let payload = map.remove("payload").unwrap_or(Value::Null);
    Ok(Msg {
        id,
        seq,
        topic,
        payload,
    })
}

/// Parses an ack line and returns its `id` and `seq`.
///
/// # Errors
/// [`WireError`] when it is not `{"type":"ack","id":string,…}`.
pub fn parse_ack(line: &[u8]) -> Result<(String, i64), WireError> {
    let Value::Object(map) = strict::parse(line)? else {
        return Err(WireError::Shape("not an object"));
    };
    if map.get("type").and_then(Value::as_str) != Some("ack") {
        return Err(WireError::Shape("type is not ack"));
    }
    let id = map
        .get("id")
        .and_then(Value::as_str)
        .ok_or(WireError::Shape("id missing"))?;
    let seq = map.get("seq").and_then(Value::as_i64).unwrap_or(0);
    Ok((id.to_owned(), seq))
}

#[derive(Serialize)]
struct Line<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    seq: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    topic: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<&'a Value>,
}

impl Msg {
    /// The wire line, `\n` included.
    pub fn to_line(&self) -> Vec<u8> {
        encode(&Line {
            kind: "msg",
            id: self.id.as_str(),
            seq: self.seq,
            topic: Some(&self.topic),
            payload: Some(&self.payload),
        })
    }

    /// The ack line for this message, `\n` included.
    pub fn ack_line(&self) -> Vec<u8> {
        encode(&Line {
            kind: "ack",
            id: self.id.as_str(),
            seq: self.seq,
            topic: None,
            payload: None,
        })
    }

    /// The whole message as JSON (`{type,id,seq,topic,payload}`), as events carry it.
    pub fn to_value(&self) -> Value {
        serde_json::json!({
            "type": "msg",
            "id": self.id.as_str(),
            "seq": self.seq,
            "topic": self.topic,
            "payload": self.payload,
        })
    }
}

fn encode(line: &Line<'_>) -> Vec<u8> {
    // Serialising a struct of strings, integers and a `Value` cannot fail.
    let mut bytes = serde_json::to_vec(line).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests;

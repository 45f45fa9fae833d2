//! Keyset-pagination cursors: the position after the last row of a page, handed to clients as an
//! opaque `b64u("<time>:<id>")` string and read back when they ask for the next page. A position
//! richer than time and id travels as b64u JSON ([`encode_json`], [`decode_json`]).

#[cfg(test)]
mod proptests;

use std::num::ParseIntError;

use crate::signing::{b64u_decode, b64u_encode};

/// Longest encoded cursor [`Cursor::decode`] reads. A cursor this crate makes holds an `i64` and an
/// id (a UUID or a short code), far below it; anything longer did not come from a previous page.
pub const MAX_ENCODED_LEN: usize = 512;

/// The position after the last row of a page: its time and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The time column (`created_at`, `at`, …) of the last row, in unix milliseconds.
    pub at: i64,
    /// Its id, which breaks ties between rows of the same time.
    pub id: String,
}

/// Why a string is not a cursor made by [`Cursor::encode`].
#[derive(Debug, thiserror::Error)]
pub enum DecodeCursorError {
    /// Longer than [`MAX_ENCODED_LEN`].
    #[error("cursor is {len} bytes, at most {MAX_ENCODED_LEN} are allowed")]
    TooLong {
        /// The length given.
        len: usize,
    },
    /// Not base64url without padding.
    #[error("cursor is not base64url")]
    Base64(#[source] base64::DecodeError),
    /// The decoded bytes are not UTF-8.
    #[error("cursor is not UTF-8")]
    Utf8(#[source] std::string::FromUtf8Error),
    /// No `:` between time and id.
    #[error("cursor has no `:` separator")]
    MissingSeparator,
    /// The time is not an integer.
    #[error("cursor time is not an integer")]
    Time(#[source] ParseIntError),
    /// The decoded bytes are not the expected JSON.
    #[error("cursor is not the expected JSON")]
    Json(#[source] serde_json::Error),
}

/// The opaque form of a JSON position: `b64u(<json>)`.
pub fn encode_json<T: serde::Serialize>(position: &T) -> String {
    let json = serde_json::to_vec(position).expect("a cursor position serializes to JSON");
    b64u_encode(&json)
}

/// Reads a position made by [`encode_json`], refusing text longer than [`MAX_ENCODED_LEN`].
///
/// # Errors
/// [`DecodeCursorError`] naming what is wrong with `text`.
pub fn decode_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, DecodeCursorError> {
    if text.len() > MAX_ENCODED_LEN {
        return Err(DecodeCursorError::TooLong { len: text.len() });
    }
    let bytes = b64u_decode(text).map_err(DecodeCursorError::Base64)?;
    serde_json::from_slice(&bytes).map_err(DecodeCursorError::Json)
}

impl Cursor {
    /// The opaque form handed to clients: `b64u("<at>:<id>")`.
    pub fn encode(&self) -> String {
        b64u_encode(format!("{}:{}", self.at, self.id).as_bytes())
    }

    /// Reads a cursor made by [`Cursor::encode`].
    ///
    /// # Errors
    /// [`DecodeCursorError`] naming what is wrong with `text`.
    pub fn decode(text: &str) -> Result<Self, DecodeCursorError> {
        if text.len() > MAX_ENCODED_LEN {
            return Err(DecodeCursorError::TooLong { len: text.len() });
        }
        let bytes = b64u_decode(text).map_err(DecodeCursorError::Base64)?;
        let text = String::from_utf8(bytes).map_err(DecodeCursorError::Utf8)?;
        let (at, id) = text
            .split_once(':')
            .ok_or(DecodeCursorError::MissingSeparator)?;
        Ok(Self {
            at: at.parse().map_err(DecodeCursorError::Time)?,
            id: id.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_returns_the_cursor_when_given_its_encoding() {
        let cursor = Cursor {
            at: 1_700_000_000_000,
            id: "0190b6a8-0000-7000-8000-000000000001".to_owned(),
        };

        let decoded = Cursor::decode(&cursor.encode()).unwrap();

        assert_eq!(decoded, cursor);
    }

    #[test]
    fn decode_keeps_colons_of_the_id_when_id_contains_them() {
        let cursor = Cursor {
            at: -5,
            id: "a:b".to_owned(),
        };

        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
    }

    #[test]
    fn decode_fails_when_text_is_malformed() {
        assert!(matches!(
            Cursor::decode("not base64!"),
            Err(DecodeCursorError::Base64(_))
        ));
        assert!(matches!(
            Cursor::decode(&b64u_encode(&[0xff, 0xfe])),
            Err(DecodeCursorError::Utf8(_))
        ));
        assert!(matches!(
            Cursor::decode(&b64u_encode(b"no-colon")),
            Err(DecodeCursorError::MissingSeparator)
        ));
        assert!(matches!(
            Cursor::decode(&b64u_encode(b"soon:id")),
            Err(DecodeCursorError::Time(_))
        ));
    }

    #[test]
    fn decode_json_returns_the_position_when_given_its_encoding() {
        let position = serde_json::json!({"s": "members", "k": null, "i": "id"});

        let decoded: serde_json::Value = decode_json(&encode_json(&position)).unwrap();

        assert_eq!(decoded, position);
    }

    #[test]
    fn decode_json_fails_when_text_is_malformed_or_oversized() {
        let not_json = decode_json::<serde_json::Value>(&b64u_encode(b"{"));
        let huge = decode_json::<serde_json::Value>(&"A".repeat(MAX_ENCODED_LEN + 1));

        assert!(matches!(not_json, Err(DecodeCursorError::Json(_))));
        assert!(matches!(huge, Err(DecodeCursorError::TooLong { .. })));
    }

    #[test]
    fn decode_fails_when_text_is_oversized() {
        let huge = Cursor {
            at: 1,
            id: "x".repeat(MAX_ENCODED_LEN),
        };

        let decoded = Cursor::decode(&huge.encode());

        assert!(
            matches!(decoded, Err(DecodeCursorError::TooLong { len }) if len > MAX_ENCODED_LEN),
            "{decoded:?}"
        );
    }
}

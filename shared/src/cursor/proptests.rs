//! Property tests of keyset cursors: any text a client sends back is answered without a panic,
//! every cursor this crate makes reads back as itself, and text over the limit is refused unread.

use proptest::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Cursor, DecodeCursorError, MAX_ENCODED_LEN, decode_json, encode_json};
use crate::signing::b64u_encode;

/// A JSON position such as the admin lists use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Position {
    s: String,
    k: Option<i64>,
    i: String,
}

proptest! {
    #[test]
    fn decode_never_panics_on_any_text(text in "(?s).{0,600}") {
        let _ = Cursor::decode(&text);
        let _ = decode_json::<Position>(&text);
        let _ = decode_json::<serde_json::Value>(&text);
    }

    #[test]
    fn decode_never_panics_on_any_decoded_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let text = b64u_encode(&bytes);

        if let Ok(cursor) = Cursor::decode(&text) {
            let shown = format!("{}:{}", cursor.at, cursor.id);
            prop_assert!(shown.len() <= bytes.len());
        }
        let _ = decode_json::<Position>(&text);
    }

    #[test]
    fn cursor_reads_back_as_itself(at in any::<i64>(), id in "(?s).{0,80}") {
        let cursor = Cursor { at, id };

        prop_assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
    }

    #[test]
    fn json_position_reads_back_as_itself(s in "(?s).{0,40}", k in any::<Option<i64>>(), i in "[0-9a-f-]{0,36}") {
        let position = Position { s, k, i };

        prop_assert_eq!(decode_json::<Position>(&encode_json(&position)).unwrap(), position);
    }

    #[test]
    fn text_over_the_limit_is_refused_unread(extra in 1usize..2000, fill in "[A-Za-z0-9_-]") {
        let text = fill.repeat(MAX_ENCODED_LEN + extra);

        let too_long = |e| matches!(e, DecodeCursorError::TooLong { len } if len == text.len());
        prop_assert!(too_long(Cursor::decode(&text).unwrap_err()));
        prop_assert!(too_long(decode_json::<Position>(&text).unwrap_err()));
    }
}

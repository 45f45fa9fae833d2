//! The search cursor (superhub.md §5.1): b64u JSON `{"s","k","i","h"}` holding the order, the last
//! sort key, the last id and a hash of the normalized query, so a cursor only continues the query
//! that made it. Float keys travel as their IEEE-754 bits, so the position is exact.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shared::cursor::{decode_json, encode_json};

use crate::store::{HubSearch, SearchSort, SortKey};

/// Longest hub id a cursor may carry.
const MAX_ID_LEN: usize = 128;

#[derive(Debug, Serialize, Deserialize)]
struct Position {
    s: String,
    k: Option<i64>,
    i: String,
    h: String,
}

/// The first 16 hex characters of SHA-256 over the normalized query: tokens, tags and join modes
/// (sorted, deduplicated), region, language, access and the effective order; not the limit.
pub fn query_hash(search: &HubSearch) -> String {
    let normalized = serde_json::json!([
        search.tokens,
        search.tags,
        search.region,
        search.language,
        search.join_modes,
        search.access,
        search.sort.as_str(),
    ]);
    let digest = Sha256::digest(normalized.to_string().as_bytes());
    hex::encode(&digest[..8])
}

/// The cursor after the row with `key` and `id` of `search`.
pub fn encode(search: &HubSearch, key: SortKey, id: &str) -> String {
    let k = match key {
        SortKey::Null => None,
        SortKey::Int(v) => Some(v),
        SortKey::Float(v) => Some(v.to_bits().cast_signed()),
    };
    encode_json(&Position {
        s: search.sort.as_str().to_owned(),
        k,
        i: id.to_owned(),
        h: query_hash(search),
    })
}

/// The position `text` resumes after, if it was made for `search`; `None` when it does not
/// decode, names another order or query, or carries an impossible key or id.
pub fn decode(text: &str, search: &HubSearch) -> Option<(SortKey, String)> {
    let position: Position = decode_json(text).ok()?;
    if position.s != search.sort.as_str() || position.h != query_hash(search) {
        return None;
    }
    if position.i.is_empty()
        || position.i.len() > MAX_ID_LEN
        || !position.i.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return None;
    }
    let key = match (search.sort, position.k) {
        (_, None) => SortKey::Null,
        (SearchSort::Members | SearchSort::Newest, Some(v)) => SortKey::Int(v),
        (SearchSort::Relevance | SearchSort::Uptime, Some(bits)) => {
            let v = f64::from_bits(bits.cast_unsigned());
            if !v.is_finite() {
                return None;
            }
            SortKey::Float(v)
        }
    };
    Some((key, position.i))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::search::params::parse;

    #[test]
    fn decode_returns_the_exact_position_when_given_a_cursor_of_the_same_query() {
        let search = parse("q=go&tag=web").unwrap().search;
        let rank = -1.234_567_890_123_456_7e-6;

        let cursor = encode(&search, SortKey::Float(rank), "12D3KooWabc");

        assert_eq!(
            decode(&cursor, &search),
            Some((SortKey::Float(rank), "12D3KooWabc".to_owned()))
        );
    }

    #[test]
    fn decode_refuses_a_cursor_when_made_for_another_query_or_order() {
        let search = parse("q=go").unwrap().search;
        let cursor = encode(&search, SortKey::Float(1.0), "id");

        assert!(decode(&cursor, &parse("q=rust").unwrap().search).is_none());
        assert!(decode(&cursor, &parse("q=go&sort=uptime").unwrap().search).is_none());
        assert!(decode(&cursor, &parse("q=go&tag=x").unwrap().search).is_none());
        assert!(decode(&cursor, &parse("q=go&limit=3").unwrap().search).is_some());
    }

    #[test]
    fn decode_refuses_a_cursor_when_tampered_or_hostile() {
        let search = parse("").unwrap().search;
        let h = query_hash(&search);
        let forge = |json: serde_json::Value| encode_json(&json);

        assert!(decode("not a cursor", &search).is_none());
        assert!(decode(&"A".repeat(600), &search).is_none());
        assert!(
            decode(
                &forge(serde_json::json!({"s": "members", "k": 1, "i": "a b", "h": h})),
                &search
            )
            .is_none()
        );
        assert!(
            decode(
                &forge(serde_json::json!({"s": "members", "k": 1, "i": "", "h": h})),
                &search
            )
            .is_none()
        );
        assert!(
            decode(
                &forge(serde_json::json!({"s": "members", "k": "1", "i": "a", "h": h})),
                &search
            )
            .is_none()
        );
        assert!(
            decode(
                &forge(serde_json::json!({"s": "members", "k": 1, "i": "a", "h": h})),
                &search
            )
            .is_some()
        );
        let uptime = parse("sort=uptime").unwrap().search;
        let nan = f64::NAN.to_bits().cast_signed();
        let h = query_hash(&uptime);
        assert!(
            decode(
                &forge(serde_json::json!({"s": "uptime", "k": nan, "i": "a", "h": h})),
                &uptime
            )
            .is_none()
        );
    }
}

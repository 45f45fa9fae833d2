//! Keyset pages of the admin lists: newest first, with an opaque cursor `b64u("<time>:<id>")`.

use serde::Serialize;

use super::{Error, Result};
use crate::store::Cursor;

/// A page of items and the cursor of the next page.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Page<T> {
    pub(crate) items: Vec<T>,
    pub(crate) next: Option<String>,
}

/// The opaque form of a cursor.
pub(crate) fn encode_cursor(cursor: &Cursor) -> String {
    shared::signing::b64u_encode(format!("{}:{}", cursor.at, cursor.id).as_bytes())
}

/// Reads a cursor made by [`encode_cursor`]; [`Error::InvalidCursor`] otherwise.
pub(crate) fn decode_cursor(text: &str) -> Result<Cursor> {
    let invalid = || Error::InvalidCursor;
    let bytes = shared::signing::b64u_decode(text).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (at, id) = text.split_once(':').ok_or_else(invalid)?;
    Ok(Cursor {
        at: at.parse().map_err(|_| invalid())?,
        id: id.to_owned(),
    })
}

/// The page of `rows` asked for with `limit`: the query fetched one row more to learn whether a
/// next page exists.
pub(super) fn page<R, T>(
    mut rows: Vec<R>,
    limit: i64,
    key: impl Fn(&R) -> Cursor,
    view: impl FnMut(R) -> T,
) -> Page<T> {
    let limit = usize::try_from(limit).unwrap_or(0);
    let next = (rows.len() > limit).then(|| {
        rows.truncate(limit);
        rows.last().map(|r| encode_cursor(&key(r)))
    });
    Page {
        items: rows.into_iter().map(view).collect(),
        next: next.flatten(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let cursor = Cursor {
            at: 1_700_000_000_000,
            id: "0190-abc".to_owned(),
        };

        assert_eq!(decode_cursor(&encode_cursor(&cursor)).unwrap(), cursor);
        assert!(decode_cursor("not base64!").is_err());
        assert!(decode_cursor(&shared::signing::b64u_encode(b"no-colon")).is_err());
    }

    #[test]
    fn page_has_next_only_when_more_rows_exist() {
        let key = |n: &i64| Cursor {
            at: *n,
            id: n.to_string(),
        };

        let full = page(vec![5, 4, 3], 2, key, |n| n);
        let last = page(vec![2, 1], 2, key, |n| n);

        assert_eq!(full.items, vec![5, 4]);
        assert_eq!(decode_cursor(&full.next.unwrap()).unwrap().at, 4);
        assert_eq!(last.items, vec![2, 1]);
        assert!(last.next.is_none());
    }
}

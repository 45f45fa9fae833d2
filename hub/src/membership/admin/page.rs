//! Keyset pages of the admin lists: newest first, the next page named by an opaque
//! [`Cursor`].

use serde::Serialize;

use crate::store::Cursor;

/// A page of items and the cursor of the next page.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Page<T> {
    pub(crate) items: Vec<T>,
    pub(crate) next: Option<String>,
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
        rows.last().map(|r| key(r).encode())
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
    fn page_has_next_only_when_more_rows_exist() {
        let key = |n: &i64| Cursor {
            at: *n,
            id: n.to_string(),
        };

        let full = page(vec![5, 4, 3], 2, key, |n| n);
        let last = page(vec![2, 1], 2, key, |n| n);

        assert_eq!(full.items, vec![5, 4]);
        assert_eq!(Cursor::decode(&full.next.unwrap()).unwrap().at, 4);
        assert_eq!(last.items, vec![2, 1]);
        assert!(last.next.is_none());
    }
}

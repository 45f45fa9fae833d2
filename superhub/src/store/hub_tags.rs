//! `hub_tags` (superhub.md §5.1, §11): one row per (tag, hub) of the hub's stored record, so a
//! `tag` filter is an index lookup instead of a pattern match over every listed hub. Written in
//! the same transaction as the hub row; the row's `state` still decides whether a hub is found.
//! [`replace_rows`] also writes `hub_languages` (`store/hub_languages.rs`), which has the same shape.

use shared::record::HubRecord;
use sqlx::AnyConnection;

use super::StoreError;

/// A (value, hub) table derived from the stored record.
#[derive(Debug, Clone, Copy)]
pub(super) enum ValueTable {
    /// `hub_tags (tag, hub_id)`.
    Tags,
    /// `hub_languages (language, hub_id)`.
    Languages,
}

impl ValueTable {
    fn insert(self) -> &'static str {
        match self {
            Self::Tags => {
                "insert into hub_tags (tag, hub_id) values ($1, $2) on conflict do nothing"
            }
            Self::Languages => {
                "insert into hub_languages (language, hub_id) values ($1, $2) on conflict do nothing"
            }
        }
    }

    fn delete(self) -> &'static str {
        match self {
            Self::Tags => "delete from hub_tags where hub_id = $1",
            Self::Languages => "delete from hub_languages where hub_id = $1",
        }
    }
}

/// Replaces hub `id`'s rows of `table` with `values`.
///
/// # Errors
/// [`StoreError`].
pub(super) async fn replace_rows(
    conn: &mut AnyConnection,
    table: ValueTable,
    id: &str,
    values: &[String],
) -> Result<(), StoreError> {
    delete_rows(&mut *conn, table, id).await?;
    for value in values {
        sqlx::query(table.insert())
            .bind(value)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Drops hub `id`'s rows of `table`.
///
/// # Errors
/// [`StoreError`].
pub(super) async fn delete_rows(
    conn: &mut AnyConnection,
    table: ValueTable,
    id: &str,
) -> Result<(), StoreError> {
    sqlx::query(table.delete()).bind(id).execute(conn).await?;
    Ok(())
}

/// Replaces hub `r.id`'s tag rows with the tags of `r`.
///
/// # Errors
/// [`StoreError`].
pub(super) async fn index_tags(conn: &mut AnyConnection, r: &HubRecord) -> Result<(), StoreError> {
    replace_rows(conn, ValueTable::Tags, &r.id, &r.tags).await
}

/// Drops hub `id`'s tag rows.
///
/// # Errors
/// [`StoreError`].
pub(super) async fn unindex_tags(conn: &mut AnyConnection, id: &str) -> Result<(), StoreError> {
    delete_rows(conn, ValueTable::Tags, id).await
}

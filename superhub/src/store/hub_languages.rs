//! `hub_languages` (superhub.md §5.1, §11): one row per (language, hub) of the hub's stored
//! record, written with the hub row like `hub_tags`, so a `language` that few hubs list is an index
//! lookup (migration `0005_search_filters`).

use shared::record::HubRecord;
use sqlx::AnyConnection;

use super::StoreError;
use super::hub_tags::{ValueTable, delete_rows, replace_rows};

/// Replaces hub `r.id`'s language rows with the languages of `r`.
///
/// # Errors
/// [`StoreError`].
pub(super) async fn index_languages(
    conn: &mut AnyConnection,
    r: &HubRecord,
) -> Result<(), StoreError> {
    replace_rows(conn, ValueTable::Languages, &r.id, &r.languages).await
}

/// Drops hub `id`'s language rows.
///
/// # Errors
/// [`StoreError`].
pub(super) async fn unindex_languages(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<(), StoreError> {
    delete_rows(conn, ValueTable::Languages, id).await
}

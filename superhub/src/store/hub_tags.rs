//! `hub_tags` (superhub.md §5.1, §11): one row per (tag, hub) of the hub's stored record, so a
//! `tag` filter is an index lookup instead of a pattern match over every listed hub. Written in
//! the same transaction as the hub row; the row's `state` still decides whether a hub is found.

use shared::record::HubRecord;
use sqlx::AnyConnection;

use super::StoreError;

/// Replaces hub `r.id`'s tag rows with the tags of `r`.
///
/// # Errors
/// [`StoreError`].
pub(super) async fn index_tags(conn: &mut AnyConnection, r: &HubRecord) -> Result<(), StoreError> {
    unindex_tags(&mut *conn, &r.id).await?;
    for tag in &r.tags {
        sqlx::query("insert into hub_tags (tag, hub_id) values ($1, $2) on conflict do nothing")
            .bind(tag)
            .bind(&r.id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Drops hub `id`'s tag rows.
///
/// # Errors
/// [`StoreError`].
pub(super) async fn unindex_tags(conn: &mut AnyConnection, id: &str) -> Result<(), StoreError> {
    sqlx::query("delete from hub_tags where hub_id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

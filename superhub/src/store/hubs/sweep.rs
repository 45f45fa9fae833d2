//! The expiry sweep's SQL (superhub.md §3.5, §4.4): records past `expires_at` become `expired`;
//! expired records, tombstones and probe rows past their retention are deleted with everything
//! that refers to them. Each step is one transaction under the directory lock, so a registration
//! never interleaves with it.

use shared::db::DbKind;
use sqlx::AnyConnection;

use crate::store::changes::lock_directory;
use crate::store::{Store, StoreError};

/// Rows deleted per statement at most; the next sweep takes the rest (bounded transactions).
const DELETE_BATCH: i64 = 500;

impl Store {
    /// Marks every record with `expires_at <= now_ms` `expired` (tombstoned and already expired
    /// hubs excepted) and takes it off the probe queue. Returns how many changed.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn expire_records(&self, now_ms: i64) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        lock_directory(&mut tx, now_ms).await?;
        let done = sqlx::query(
            "update hubs set state = 'expired', next_probe_at = null, updated_at = $1 \
             where expires_at <= $1 and state not in ('expired', 'tombstoned')",
        )
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// Deletes up to 500 `expired` hubs whose record expired at or before `cutoff_ms`, with their
    /// probe rows, slug claims, change rows and search-index rows. Returns how many hubs went.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn delete_expired_hubs(
        &self,
        cutoff_ms: i64,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let (mut tx, ids) = self
            .begin_deleting(
                "select id from hubs where state = 'expired' and expires_at <= $1 order by id limit $2",
                cutoff_ms,
                now_ms,
            )
            .await?;
        for id in &ids {
            delete_hub(&mut tx, self.kind(), id).await?;
        }
        tx.commit().await?;
        Ok(ids.len() as u64)
    }

    /// Deletes up to 500 tombstones received at or before `cutoff_ms` with their change rows, and the
    /// hub rows they left `tombstoned` (with those hubs' probe rows and index rows). Returns how
    /// many tombstones went.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn delete_old_tombstones(
        &self,
        cutoff_ms: i64,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let (mut tx, ids) = self
            .begin_deleting(
                "select hub_id from tombstones where received_at <= $1 order by hub_id limit $2",
                cutoff_ms,
                now_ms,
            )
            .await?;
        for id in &ids {
            let tombstoned: Option<String> =
                sqlx::query_scalar("select id from hubs where id = $1 and state = 'tombstoned'")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if tombstoned.is_some() {
                delete_hub(&mut tx, self.kind(), id).await?;
            }
            sqlx::query("delete from changes where kind = 'hub-tombstone' and change_key = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("delete from tombstones where hub_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(ids.len() as u64)
    }

    /// Begins a locked write transaction and selects the first [`DELETE_BATCH`] ids of `select`
    /// (parameters: the cut-off, the batch size).
    async fn begin_deleting(
        &self,
        select: &'static str,
        cutoff_ms: i64,
        now_ms: i64,
    ) -> Result<(sqlx::Transaction<'static, sqlx::Any>, Vec<String>), StoreError> {
        let mut tx = self.begin_write().await?;
        lock_directory(&mut tx, now_ms).await?;
        let ids = sqlx::query_scalar(select)
            .bind(cutoff_ms)
            .bind(DELETE_BATCH)
            .fetch_all(&mut *tx)
            .await?;
        Ok((tx, ids))
    }

    /// Deletes probe rows older than `cutoff_ms` (§4.4: kept `probe.history_days`). Returns how
    /// many went.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn delete_old_probes(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("delete from probes where at < $1")
            .bind(cutoff_ms)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}

/// Deletes hub `id` and every row that refers to it except its tombstone.
async fn delete_hub(conn: &mut AnyConnection, kind: DbKind, id: &str) -> Result<(), StoreError> {
    sqlx::query(
        "delete from changes where (kind = 'hub-record' and change_key = $1) or (kind = 'slug-claim' \
         and change_key in (select slug || '/' || hub_id from slug_claims where hub_id = $1))",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    crate::store::hub_tags::unindex_tags(&mut *conn, id).await?;
    crate::store::hub_languages::unindex_languages(&mut *conn, id).await?;
    for sql in [
        "delete from slug_claims where hub_id = $1",
        "delete from probes where hub_id = $1",
        "delete from hubs where id = $1",
    ] {
        sqlx::query(sql).bind(id).execute(&mut *conn).await?;
    }
    if kind == DbKind::Sqlite {
        super::unindex_for_search(conn, id).await?;
    }
    Ok(())
}

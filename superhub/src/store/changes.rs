//! `changes` (superhub.md §7.1): the federation change feed. Every stored change takes the next
//! number of the row-locked counter `superhub_state.change_seq` inside the writing transaction,
//! so numbers become visible in order even with several replicas on one Postgres (a sequence
//! could let 11 commit before 10, and a puller past 11 would never see 10). Only the newest change
//! per key is kept.

use sqlx::AnyConnection;

use super::StoreError;

/// What a change is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// The hub's latest record; key = hub id.
    HubRecord,
    /// The hub's tombstone; key = hub id.
    HubTombstone,
    /// Evidence for a (slug, hub) claim; key = `<slug>/<hub id>`.
    SlugClaim,
    /// A moderation note; key = `<issuer>/<subject>`.
    ModerationNote,
}

impl ChangeKind {
    /// The `kind` text, as in the feed.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HubRecord => "hub-record",
            Self::HubTombstone => "hub-tombstone",
            Self::SlugClaim => "slug-claim",
            Self::ModerationNote => "moderation-note",
        }
    }
}

/// Takes the directory's write lock: the `change_seq` row, locked until the caller's transaction
/// ends (on SQLite `begin immediate` already serializes writers). Every directory write takes it
/// first, so reading the stored state and deciding on it cannot race another replica.
///
/// # Errors
/// [`StoreError`].
pub async fn lock_directory(conn: &mut AnyConnection, now_ms: i64) -> Result<(), StoreError> {
    sqlx::query(
        "insert into superhub_state (key, value, updated_at) values ('change_seq', '0', $1) \
         on conflict (key) do update set updated_at = superhub_state.updated_at",
    )
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes the next change number: increments `superhub_state.change_seq` in the caller's
/// transaction (its row lock orders concurrent writers) and returns the new value.
///
/// # Errors
/// [`StoreError`].
pub async fn next_change_seq(conn: &mut AnyConnection, now_ms: i64) -> Result<i64, StoreError> {
    let value: String = sqlx::query_scalar(
        "insert into superhub_state (key, value, updated_at) values ('change_seq', '1', $1) \
         on conflict (key) do update set \
         value = cast(cast(superhub_state.value as bigint) + 1 as text), updated_at = $1 \
         returning value",
    )
    .bind(now_ms)
    .fetch_one(conn)
    .await?;
    value
        .parse()
        .map_err(|_| StoreError::Corrupt("superhub_state.change_seq"))
}

/// Records a change of `kind` for `key` under a fresh number, replacing the key's older change.
/// Returns the number.
///
/// # Errors
/// [`StoreError`].
pub async fn append_change(
    conn: &mut AnyConnection,
    kind: ChangeKind,
    key: &str,
    now_ms: i64,
) -> Result<i64, StoreError> {
    let seq = next_change_seq(conn, now_ms).await?;
    sqlx::query(
        "insert into changes (seq, kind, change_key, created_at) values ($1, $2, $3, $4) \
         on conflict (kind, change_key) do update set seq = $1, created_at = $4",
    )
    .bind(seq)
    .bind(kind.as_str())
    .bind(key)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(seq)
}

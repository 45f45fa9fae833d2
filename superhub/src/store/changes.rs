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

/// One change of the feed joined to the row it names (§7.1 rule 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedEntry {
    /// The hub's live record.
    Record(StoredItem),
    /// The hub's tombstone.
    Tombstone(StoredItem),
    /// Slug-claim evidence.
    Claim(StoredClaim),
}

/// A stored record or tombstone with its provenance.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredItem {
    /// The envelope JSON text as stored.
    pub envelope: String,
    /// The super hub that received it from the hub.
    pub origin: String,
    /// `direct` or the peer it was pulled from.
    pub received_from: String,
    /// When this super hub stored it.
    pub received_at: i64,
}

/// A stored slug claim.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredClaim {
    /// The slug.
    pub slug: String,
    /// The claiming hub.
    pub hub_id: String,
    /// The record's `issued_at`.
    pub claimed_at: i64,
    /// When a super hub accepted the record.
    pub witnessed_at: i64,
    /// The record envelope JSON text.
    pub envelope: String,
}

/// A page of the change feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangePage {
    /// The live items, ascending by change number.
    pub entries: Vec<FeedEntry>,
    /// The number of the last change scanned (items of expired or vanished rows are scanned but
    /// not returned), `None` when nothing was after the cursor.
    pub last_seq: Option<i64>,
    /// More changes follow.
    pub more: bool,
}

/// A change with the columns of its record or tombstone (null for claims and vanished rows).
#[derive(sqlx::FromRow)]
struct ChangeRow {
    seq: i64,
    kind: String,
    change_key: String,
    envelope: Option<String>,
    origin: Option<String>,
    received_from: Option<String>,
    received_at: Option<i64>,
}

impl super::Store {
    /// Up to `limit` changes after `after`, each joined to its current row; records that expired
    /// by `now_ms` and rows gone since are skipped.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn changes_after(
        &self,
        after: i64,
        limit: u32,
        now_ms: i64,
    ) -> Result<ChangePage, StoreError> {
        let mut conn = self.pool().acquire().await?;
        let mut rows: Vec<ChangeRow> = sqlx::query_as(
            "select c.seq, c.kind, c.change_key, coalesce(h.envelope, t.envelope) as envelope, \
             coalesce(h.origin, t.origin) as origin, \
             coalesce(h.received_from, t.received_from) as received_from, \
             coalesce(h.received_at, t.received_at) as received_at \
             from changes c \
             left join hubs h on c.kind = 'hub-record' and h.id = c.change_key and h.expires_at > $3 \
             left join tombstones t on c.kind = 'hub-tombstone' and t.hub_id = c.change_key \
             where c.seq > $1 order by c.seq limit $2",
        )
        .bind(after)
        .bind(i64::from(limit) + 1)
        .bind(now_ms)
        .fetch_all(&mut *conn)
        .await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let mut entries = Vec::with_capacity(rows.len());
        for row in &rows {
            if let Some(entry) = entry_of(&mut conn, row).await? {
                entries.push(entry);
            }
        }
        Ok(ChangePage {
            entries,
            last_seq: rows.last().map(|r| r.seq),
            more,
        })
    }

    /// How many keys have a change of `kind` (one per key after compaction): for `hub-record`,
    /// the hubs whose record this super hub holds.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn count_changes(&self, kind: ChangeKind) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("select cast(count(*) as bigint) from changes where kind = $1")
                .bind(kind.as_str())
                .fetch_one(self.pool())
                .await?,
        )
    }

    /// The newest change number (0 before the first change).
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn changes_head(&self) -> Result<i64, StoreError> {
        let value: Option<String> =
            sqlx::query_scalar("select value from superhub_state where key = 'change_seq'")
                .fetch_optional(self.pool())
                .await?;
        value.map_or(Ok(0), |v| {
            v.parse()
                .map_err(|_| StoreError::Corrupt("superhub_state.change_seq"))
        })
    }
}

async fn entry_of(
    conn: &mut AnyConnection,
    row: &ChangeRow,
) -> Result<Option<FeedEntry>, StoreError> {
    let stored = || {
        Some(StoredItem {
            envelope: row.envelope.clone()?,
            origin: row.origin.clone()?,
            received_from: row.received_from.clone()?,
            received_at: row.received_at?,
        })
    };
    Ok(match row.kind.as_str() {
        "hub-record" => stored().map(FeedEntry::Record),
        "hub-tombstone" => stored().map(FeedEntry::Tombstone),
        "slug-claim" => {
            let Some((slug, hub_id)) = row.change_key.rsplit_once('/') else {
                return Ok(None);
            };
            sqlx::query_as(
                "select slug, hub_id, claimed_at, witnessed_at, envelope from slug_claims \
                 where slug = $1 and hub_id = $2",
            )
            .bind(slug)
            .bind(hub_id)
            .fetch_optional(conn)
            .await?
            .map(FeedEntry::Claim)
        }
        _ => None,
    })
}

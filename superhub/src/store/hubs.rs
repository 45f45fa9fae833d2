//! `hubs`, `tombstones` (superhub.md §3, §11): the latest record per hub with its listing state,
//! and the latest tombstone per hub. [`Store::put_record`] and [`Store::put_tombstone`] are the
//! one write path of registration and federation: each orders by `seq` (§3.2), stores, updates
//! the slug evidence (§5.4) and appends the change (§7.1) in one transaction.

mod overrides;
mod read;
mod sweep;

pub use read::{DETAIL_PROBES, HubCounts, HubDetailRow, TombstoneRow};

use shared::envelope::Envelope;
use shared::record::{HubRecord, Tombstone};
use sqlx::AnyConnection;

use super::changes::{ChangeKind, append_change, lock_directory};
use super::slug_claims::{Claim, release_claims, witness_claim};
use super::{Store, StoreError};
use shared::db::DbKind;

/// A hub's listing state (§3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HubState {
    /// Waits for its first (or address-change) probe.
    PendingProbe,
    /// Searchable.
    Listed,
    /// Was listed; failed probes in a row since.
    Unreachable,
    /// Never passed a probe for its current addresses.
    ProbeFailed,
    /// Its record expired without a newer one.
    Expired,
    /// Decommissioned by its operator.
    Tombstoned,
}

impl HubState {
    /// Every state, in the order of §3.4.
    pub const ALL: [Self; 6] = [
        Self::PendingProbe,
        Self::Listed,
        Self::Unreachable,
        Self::ProbeFailed,
        Self::Expired,
        Self::Tombstoned,
    ];

    /// The `state` text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingProbe => "pending_probe",
            Self::Listed => "listed",
            Self::Unreachable => "unreachable",
            Self::ProbeFailed => "probe_failed",
            Self::Expired => "expired",
            Self::Tombstoned => "tombstoned",
        }
    }

    /// The state a `state` text names.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] for any other text.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or(StoreError::Corrupt("hubs.state"))
    }
}

/// Where a record or tombstone came from (§7.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// The super hub that received it from the hub itself.
    pub origin: String,
    /// `direct`, or the id of the peer super hub it was pulled from.
    pub received_from: String,
}

impl Provenance {
    /// Registered here by the hub: origin = this super hub.
    pub fn direct(this_superhub: &str) -> Self {
        Self {
            origin: this_superhub.to_owned(),
            received_from: "direct".to_owned(),
        }
    }

    /// Whether the hub registered it here.
    pub fn is_direct(&self) -> bool {
        self.received_from == "direct"
    }
}

/// What [`Store::put_record`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutRecord {
    /// Stored as the hub's latest record, now in `state`; `probe_due` when a probe is required.
    Stored {
        /// The state after storing.
        state: HubState,
        /// A probe is due now (§3.3 rule 3).
        probe_due: bool,
    },
    /// The same `seq` and payload were stored already; nothing changed.
    Unchanged {
        /// The current state.
        state: HubState,
    },
    /// Older than (or as old as, but different from) the stored record.
    Stale,
    /// Not newer than the hub's tombstone.
    Tombstoned,
}

/// What [`Store::put_tombstone`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutTombstone {
    /// Stored; the hub is `tombstoned`.
    Stored,
    /// The same tombstone was stored already.
    Unchanged,
    /// Not newer than the stored record or tombstone.
    Stale,
}

#[derive(sqlx::FromRow)]
struct Current {
    seq: i64,
    envelope: String,
    state: String,
    probed_http_url: Option<String>,
    probed_multiaddrs: Option<String>,
    next_probe_at: Option<i64>,
}

fn payload_of(envelope_json: &str) -> Option<String> {
    Envelope::parse(envelope_json.as_bytes())
        .ok()
        .map(|e| e.payload)
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

/// `seq` as a column value; records are checked to be ≤ 2⁵³ − 1 before they get here.
fn seq_col(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

impl Store {
    /// Stores `record` (already verified and checked against §3.1) unless the stored record or
    /// tombstone orders after it (§3.2); on success also witnesses its slug claim and appends a
    /// `hub-record` change, all in one transaction.
    ///
    /// # Errors
    /// [`StoreError`]; nothing is stored.
    pub async fn put_record(
        &self,
        envelope: &Envelope,
        record: &HubRecord,
        provenance: &Provenance,
        now_ms: i64,
    ) -> Result<PutRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        lock_directory(&mut tx, now_ms).await?;
        let put = self
            .put_record_in(&mut tx, envelope, record, provenance, now_ms)
            .await?;
        if matches!(put, PutRecord::Stored { .. }) {
            tx.commit().await?;
        }
        Ok(put)
    }

    /// [`Store::put_record`] inside the caller's write transaction, which holds
    /// [`lock_directory`] already; the caller commits (federation stores a feed page at once).
    ///
    /// # Errors
    /// [`StoreError`]; the caller's transaction must then be rolled back.
    pub async fn put_record_in(
        &self,
        conn: &mut AnyConnection,
        envelope: &Envelope,
        record: &HubRecord,
        provenance: &Provenance,
        now_ms: i64,
    ) -> Result<PutRecord, StoreError> {
        let current: Option<Current> = sqlx::query_as(
            "select seq, envelope, state, probed_http_url, probed_multiaddrs, next_probe_at \
             from hubs where id = $1",
        )
        .bind(&record.id)
        .fetch_optional(&mut *conn)
        .await?;
        let tombstone_seq: Option<i64> =
            sqlx::query_scalar("select seq from tombstones where hub_id = $1")
                .bind(&record.id)
                .fetch_optional(&mut *conn)
                .await?;
        let seq = seq_col(record.seq);
        if tombstone_seq.is_some_and(|t| seq <= t) {
            return Ok(PutRecord::Tombstoned);
        }
        let multiaddrs = to_json(&record.multiaddrs);
        let (state, next_probe_at, probe_due) = match &current {
            Some(c) if seq < c.seq => return Ok(PutRecord::Stale),
            Some(c) if seq == c.seq => {
                return Ok(
                    if payload_of(&c.envelope).as_deref() == Some(&envelope.payload) {
                        PutRecord::Unchanged {
                            state: HubState::parse(&c.state)?,
                        }
                    } else {
                        PutRecord::Stale
                    },
                );
            }
            Some(c) => {
                let state = HubState::parse(&c.state)?;
                let must_probe = matches!(
                    state,
                    HubState::ProbeFailed
                        | HubState::Unreachable
                        | HubState::Expired
                        | HubState::Tombstoned
                ) || c.probed_http_url.as_deref()
                    != Some(record.http_url.as_str())
                    || c.probed_multiaddrs.as_deref() != Some(multiaddrs.as_str());
                if must_probe && state != HubState::PendingProbe {
                    (HubState::PendingProbe, Some(now_ms), true)
                } else if state == HubState::PendingProbe {
                    (state, c.next_probe_at.or(Some(now_ms)), true)
                } else {
                    (state, c.next_probe_at, false)
                }
            }
            None => (HubState::PendingProbe, Some(now_ms), true),
        };
        upsert_hub(
            &mut *conn,
            &HubRow {
                envelope: &to_json(envelope),
                record,
                multiaddrs: &multiaddrs,
                state,
                next_probe_at,
                provenance,
            },
            now_ms,
        )
        .await?;
        if self.kind() == DbKind::Sqlite {
            index_for_search(&mut *conn, record).await?;
        }
        super::hub_tags::index_tags(&mut *conn, record).await?;
        super::hub_languages::index_languages(&mut *conn, record).await?;
        append_change(&mut *conn, ChangeKind::HubRecord, &record.id, now_ms).await?;
        let claim = Claim {
            slug: &record.slug,
            hub_id: &record.id,
            claimed_at: record.issued_at,
            witnessed_at: now_ms,
            envelope: &to_json(envelope),
            source: "local",
        };
        witness_claim(conn, &claim, now_ms).await?;
        Ok(PutRecord::Stored { state, probe_due })
    }

    /// Stores `tombstone` unless the stored record or tombstone has the same or a higher `seq`
    /// (§3.2). On success the hub (if known) becomes `tombstoned`, its slug claims are released
    /// and a `hub-tombstone` change is appended, in one transaction.
    ///
    /// # Errors
    /// [`StoreError`]; nothing is stored.
    pub async fn put_tombstone(
        &self,
        envelope: &Envelope,
        tombstone: &Tombstone,
        provenance: &Provenance,
        now_ms: i64,
    ) -> Result<PutTombstone, StoreError> {
        let mut tx = self.begin_write().await?;
        lock_directory(&mut tx, now_ms).await?;
        let put = self
            .put_tombstone_in(&mut tx, envelope, tombstone, provenance, now_ms)
            .await?;
        if put == PutTombstone::Stored {
            tx.commit().await?;
        }
        Ok(put)
    }

    /// [`Store::put_tombstone`] inside the caller's write transaction, which holds
    /// [`lock_directory`] already; the caller commits.
    ///
    /// # Errors
    /// [`StoreError`]; the caller's transaction must then be rolled back.
    pub async fn put_tombstone_in(
        &self,
        conn: &mut AnyConnection,
        envelope: &Envelope,
        tombstone: &Tombstone,
        provenance: &Provenance,
        now_ms: i64,
    ) -> Result<PutTombstone, StoreError> {
        let record_seq: Option<i64> = sqlx::query_scalar("select seq from hubs where id = $1")
            .bind(&tombstone.id)
            .fetch_optional(&mut *conn)
            .await?;
        let stored: Option<(i64, String)> =
            sqlx::query_as("select seq, envelope from tombstones where hub_id = $1")
                .bind(&tombstone.id)
                .fetch_optional(&mut *conn)
                .await?;
        let seq = seq_col(tombstone.seq);
        if record_seq.is_some_and(|r| seq <= r) {
            return Ok(PutTombstone::Stale);
        }
        if let Some((stored_seq, stored_envelope)) = &stored {
            if seq == *stored_seq
                && payload_of(stored_envelope).as_deref() == Some(&envelope.payload)
            {
                return Ok(PutTombstone::Unchanged);
            }
            if seq <= *stored_seq {
                return Ok(PutTombstone::Stale);
            }
        }
        sqlx::query(
            "insert into tombstones (hub_id, envelope, seq, issued_at, reason, origin, received_from, received_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8) \
             on conflict (hub_id) do update set envelope = $2, seq = $3, issued_at = $4, reason = $5, \
             origin = $6, received_from = $7, received_at = $8",
        )
        .bind(&tombstone.id)
        .bind(to_json(envelope))
        .bind(seq)
        .bind(tombstone.issued_at)
        .bind(&tombstone.reason)
        .bind(&provenance.origin)
        .bind(&provenance.received_from)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "update hubs set state = 'tombstoned', next_probe_at = null, updated_at = $2 where id = $1",
        )
        .bind(&tombstone.id)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
        release_claims(&mut *conn, &tombstone.id).await?;
        append_change(conn, ChangeKind::HubTombstone, &tombstone.id, now_ms).await?;
        Ok(PutTombstone::Stored)
    }
}

struct HubRow<'a> {
    envelope: &'a str,
    record: &'a HubRecord,
    multiaddrs: &'a str,
    state: HubState,
    next_probe_at: Option<i64>,
    provenance: &'a Provenance,
}

async fn upsert_hub(
    conn: &mut AnyConnection,
    row: &HubRow<'_>,
    now_ms: i64,
) -> Result<(), StoreError> {
    let r = row.record;
    sqlx::query(
        "insert into hubs (id, envelope, seq, slug, slug_text, name, description, icon_url, tags, tags_text, \
         languages, region, join_mode, access, plans, relay, multiaddrs, http_url, software, member_count, \
         issued_at, expires_at, state, origin, received_from, received_at, first_seen_at, next_probe_at, \
         consecutive_failures, updated_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, \
         $21, $22, $23, $24, $25, $26, $26, $27, 0, $26) \
         on conflict (id) do update set envelope = $2, seq = $3, slug = $4, slug_text = $5, name = $6, \
         description = $7, icon_url = $8, tags = $9, tags_text = $10, languages = $11, region = $12, \
         join_mode = $13, access = $14, plans = $15, relay = $16, multiaddrs = $17, http_url = $18, \
         software = $19, member_count = $20, issued_at = $21, expires_at = $22, state = $23, origin = $24, \
         received_from = $25, received_at = $26, next_probe_at = $27, updated_at = $26",
    )
    .bind(&r.id)
    .bind(row.envelope)
    .bind(seq_col(r.seq))
    .bind(&r.slug)
    .bind(r.slug.replace('-', " "))
    .bind(&r.name)
    .bind(&r.description)
    .bind(&r.icon_url)
    .bind(to_json(&r.tags))
    .bind(r.tags.join(" "))
    .bind(to_json(&r.languages))
    .bind(&r.region)
    .bind(&r.join_mode)
    .bind(&r.access)
    .bind(to_json(&r.plans))
    .bind(to_json(&r.relay))
    .bind(row.multiaddrs)
    .bind(&r.http_url)
    .bind(to_json(&r.software))
    .bind(r.member_count.map(|n| i64::try_from(n).unwrap_or(i64::MAX)))
    .bind(r.issued_at)
    .bind(r.expires_at)
    .bind(row.state.as_str())
    .bind(&row.provenance.origin)
    .bind(&row.provenance.received_from)
    .bind(now_ms)
    .bind(row.next_probe_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Rewrites the hub's rows of the SQLite full-text indexes (§5.1: `hubs_fts` and the relevance tiers'
/// `hubs_fts_names`) and its `hubs.search_rowid`; Postgres derives its `search` columns from the row
/// itself. The index rows' `rowid` is [`fts_rowid`] of the hub id, so they are found by key: `id` is
/// an unindexed FTS column, and deleting by it would scan the whole index. The hub row must exist
/// (bulk loaders call this after inserting it).
///
/// # Errors
/// [`StoreError`].
pub async fn index_for_search(conn: &mut AnyConnection, r: &HubRecord) -> Result<(), StoreError> {
    let rowid = fts_rowid(&r.id)?;
    unindex_rowid(conn, rowid).await?;
    let slug_text = r.slug.replace('-', " ");
    sqlx::query(
        "insert into hubs_fts (rowid, id, name, slug, tags, description) \
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(rowid)
    .bind(&r.id)
    .bind(&r.name)
    .bind(&slug_text)
    .bind(r.tags.join(" "))
    .bind(&r.description)
    .execute(&mut *conn)
    .await?;
    sqlx::query("insert into hubs_fts_names (rowid, name, slug) values ($1, $2, $3)")
        .bind(rowid)
        .bind(&r.name)
        .bind(&slug_text)
        .execute(&mut *conn)
        .await?;
    sqlx::query("update hubs set search_rowid = $1 where id = $2")
        .bind(rowid)
        .bind(&r.id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The `rowid` of hub `id`'s `hubs_fts` row (bulk loaders must use it too): a lookup by its `rowid`, since the unindexed `id` column can
/// only be scanned (a scan per registration made storing quadratic in the directory's size).
///
/// The rowid is the first 63 bits of the hub's Ed25519 public key: stable across versions and
/// `VACUUM` (unlike `hubs.rowid`), and two hubs share it only if someone finds a key matching 63
/// bits of another's.
pub fn fts_rowid(id: &str) -> Result<i64, StoreError> {
    let key = id
        .parse::<shared::ids::Ed25519PeerId>()
        .map_err(|_| StoreError::Corrupt("hubs.id"))?
        .public_key()
        .to_bytes();
    let mut prefix = [0; 8];
    prefix.copy_from_slice(&key[..8]);
    Ok(i64::from_be_bytes(prefix) & i64::MAX)
}

async fn unindex_rowid(conn: &mut AnyConnection, rowid: i64) -> Result<(), StoreError> {
    for sql in [
        "delete from hubs_fts where rowid = $1",
        "delete from hubs_fts_names where rowid = $1",
    ] {
        sqlx::query(sql).bind(rowid).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Removes hub `id` from the SQLite full-text index.
///
/// # Errors
/// [`StoreError`].
pub(super) async fn unindex_for_search(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<(), StoreError> {
    unindex_rowid(conn, fts_rowid(id)?).await
}

/// The columns of a [`HubListing`], for the search and detail queries (prefix `h.`).
pub const LISTING_COLUMNS: &str = "h.id, h.seq, h.slug, h.name, h.description, h.icon_url, h.tags, \
     h.languages, h.region, h.join_mode, h.access, h.plans, h.member_count, h.http_url, h.state, \
     h.received_from, h.first_listed_at, h.uptime_30d, h.rtt_ms, h.p2p_ok_at, h.p2p_rtt_ms, \
     h.last_probe_at, h.hidden_at";

/// What search results and the detail show of a hub (§5.1 summary); JSON columns as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct HubListing {
    /// Hub id.
    pub id: String,
    /// The stored record's `seq`.
    pub seq: i64,
    /// Its slug.
    pub slug: String,
    /// Its name.
    pub name: String,
    /// Its full description.
    pub description: String,
    /// `""` or its icon URL.
    pub icon_url: String,
    /// Tags (JSON array).
    pub tags: String,
    /// Languages (JSON array).
    pub languages: String,
    /// `""` or its region.
    pub region: String,
    /// Join mode.
    pub join_mode: String,
    /// `free` or `paid`.
    pub access: String,
    /// Plans (JSON array, as signed).
    pub plans: String,
    /// Reported member count.
    pub member_count: Option<i64>,
    /// Its HTTP URL.
    pub http_url: String,
    /// Its listing state.
    pub state: String,
    /// `direct` or a peer super hub id.
    pub received_from: String,
    /// First passed a probe (ms).
    pub first_listed_at: Option<i64>,
    /// Measured uptime, 30 days.
    pub uptime_30d: Option<f64>,
    /// Median RTT of the last day's ok probes.
    pub rtt_ms: Option<i64>,
    /// Last libp2p probe that passed (ms); null when the last one failed.
    pub p2p_ok_at: Option<i64>,
    /// RTT of that libp2p probe.
    pub p2p_rtt_ms: Option<i64>,
    /// Last probe (ms).
    pub last_probe_at: Option<i64>,
    /// Hidden by moderation (ms).
    pub hidden_at: Option<i64>,
}

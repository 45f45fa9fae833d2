//! Reads of one hub for the public detail, its stored envelope and resolve (superhub.md §5.2,
//! §5.3), and the per-state counts of info and metrics (§2, §12).

use super::{HubListing, HubState, LISTING_COLUMNS};
use crate::store::{Store, StoreError};

/// Probe rows the detail shows at most.
pub const DETAIL_PROBES: u32 = 10;

/// Everything the detail shows of a stored hub: the listing row plus the record's remaining
/// columns and its provenance. JSON columns as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct HubDetailRow {
    /// The summary's columns.
    #[sqlx(flatten)]
    pub listing: HubListing,
    /// Multiaddrs (JSON array).
    pub multiaddrs: String,
    /// Relay summary (JSON object, as signed).
    pub relay: String,
    /// Software (JSON object, as signed).
    pub software: String,
    /// The record's `issued_at`.
    pub issued_at: i64,
    /// The record's `expires_at`.
    pub expires_at: i64,
    /// The super hub that received it from the hub.
    pub origin: String,
    /// When this super hub stored it.
    pub received_at: i64,
    /// When this super hub first stored a record of the hub.
    pub first_seen_at: i64,
}

/// A stored tombstone, as the 410 of the detail shows it (§3.4).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TombstoneRow {
    /// The hub id.
    pub hub_id: String,
    /// Its `seq`.
    pub seq: i64,
    /// The operator's reason.
    pub reason: String,
    /// When the operator issued it.
    pub issued_at: i64,
    /// The envelope as stored (JSON text).
    pub envelope: String,
}

/// Stored hubs per state and how many are hidden (§12 gauges, §2 counts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HubCounts {
    /// `(state, visible, hidden)` for each state that has rows.
    pub by_state: Vec<(HubState, i64, i64)>,
}

impl HubCounts {
    /// Every stored hub in `state`, hidden or not.
    pub fn in_state(&self, state: HubState) -> i64 {
        self.by_state
            .iter()
            .filter(|(s, ..)| *s == state)
            .map(|(_, visible, hidden)| visible + hidden)
            .sum()
    }

    /// Hidden hubs, in every state.
    pub fn hidden(&self) -> i64 {
        self.by_state.iter().map(|(.., hidden)| hidden).sum()
    }

    /// Listed and not hidden: what search can return.
    pub fn listed(&self) -> i64 {
        self.by_state
            .iter()
            .filter(|(s, ..)| *s == HubState::Listed)
            .map(|(_, visible, _)| visible)
            .sum()
    }

    /// Not tombstoned and not hidden: what the public detail answers 200 for.
    pub fn known(&self) -> i64 {
        self.by_state
            .iter()
            .filter(|(s, ..)| *s != HubState::Tombstoned)
            .map(|(_, visible, _)| visible)
            .sum()
    }
}

impl Store {
    /// The detail row of hub `id`, hidden or not.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn find_hub_detail(&self, id: &str) -> Result<Option<HubDetailRow>, StoreError> {
        let sql = format!(
            "select {LISTING_COLUMNS}, h.multiaddrs, h.relay, h.software, h.issued_at, h.expires_at, \
             h.origin, h.received_at, h.first_seen_at from hubs h where h.id = $1"
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// The stored tombstone of hub `id`.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn find_tombstone(&self, id: &str) -> Result<Option<TombstoneRow>, StoreError> {
        Ok(sqlx::query_as(
            "select hub_id, seq, reason, issued_at, envelope from tombstones where hub_id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// The stored record envelope of hub `id` (JSON text), with its state and `hidden_at`.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn find_record_envelope(
        &self,
        id: &str,
    ) -> Result<Option<(String, String, Option<i64>)>, StoreError> {
        Ok(
            sqlx::query_as("select envelope, state, hidden_at from hubs where id = $1")
                .bind(id)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    /// Stored hubs per state, split into visible and hidden.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn count_hubs(&self) -> Result<HubCounts, StoreError> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "select state, \
             cast(sum(case when hidden_at is null then 1 else 0 end) as bigint), \
             cast(sum(case when hidden_at is null then 0 else 1 end) as bigint) \
             from hubs group by state",
        )
        .fetch_all(self.pool())
        .await?;
        let by_state = rows
            .into_iter()
            .map(|(state, visible, hidden)| Ok((HubState::parse(&state)?, visible, hidden)))
            .collect::<Result<_, StoreError>>()?;
        Ok(HubCounts { by_state })
    }
}

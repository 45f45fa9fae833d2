//! A hub's public detail and its stored envelope (superhub.md §5.2): the summary plus the full
//! record, provenance and recent probes; 404 for unknown or hidden hubs, 410 for tombstoned ones.

use serde::{Serialize, Serializer};
use serde_json::Value;

use super::Directory;
use super::summary::HubSummary;
use crate::store::{
    DETAIL_PROBES, HubDetailRow, HubState, ProbeRow, StoreError, TombstoneRow, winner,
};

/// What `GET /api/v1/hubs/{id}` finds.
#[derive(Debug, Clone)]
pub enum Detail {
    /// A stored, visible hub that is not tombstoned.
    Found(Box<HubDetail>),
    /// The hub's operator decommissioned it (410).
    Gone(TombstoneRow),
    /// Unknown here, or hidden (404).
    NotFound,
}

/// The detail of a hub. Serializes as the summary's fields with the full `description` and the
/// `plans` as signed, plus the fields of §5.2.
#[derive(Debug, Clone, PartialEq)]
pub struct HubDetail {
    /// The summary (its `description` cut, its `plans` reduced to prices).
    pub summary: HubSummary,
    /// The rest of §5.2.
    pub extra: DetailExtra,
}

/// The fields the detail adds to (or replaces in) the summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetailExtra {
    /// The full description.
    pub description: String,
    /// The record's multiaddrs.
    pub multiaddrs: Value,
    /// The plans as signed.
    pub plans: Value,
    /// The relay summary as signed.
    pub relay: Value,
    /// The software as signed.
    pub software: Value,
    /// `state == listed`.
    pub listed: bool,
    /// The stored record's times.
    pub record: RecordTimes,
    /// Where the stored record came from (§7.3).
    pub provenance: ProvenanceView,
    /// The last 10 probes, newest first.
    pub probes: Vec<ProbeRow>,
}

/// `record` of the detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RecordTimes {
    /// Its `seq`.
    pub seq: i64,
    /// Its `issued_at`.
    pub issued_at: i64,
    /// Its `expires_at`.
    pub expires_at: i64,
}

/// `provenance` of the detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProvenanceView {
    /// The super hub that received it from the hub.
    pub origin: String,
    /// `direct` or the peer it was pulled from.
    pub received_from: String,
    /// When it was stored here.
    pub received_at: i64,
    /// When a record of this hub was first stored here.
    pub first_seen_at: i64,
}

impl Serialize for HubDetail {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        let object = |value| match value {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(S::Error::custom("the detail serializes as an object")),
        };
        let mut map = object(serde_json::to_value(&self.summary))?;
        map.extend(object(serde_json::to_value(&self.extra))?);
        map.serialize(serializer)
    }
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

impl HubDetail {
    /// The detail of `row` with its `probes`; `owner` says whether it wins its slug.
    pub fn of(row: HubDetailRow, owner: bool, probes: Vec<ProbeRow>) -> Self {
        let listing = &row.listing;
        Self {
            summary: HubSummary::of(listing, owner),
            extra: DetailExtra {
                description: listing.description.clone(),
                multiaddrs: json(&row.multiaddrs),
                plans: json(&listing.plans),
                relay: json(&row.relay),
                software: json(&row.software),
                listed: listing.state == HubState::Listed.as_str(),
                record: RecordTimes {
                    seq: listing.seq,
                    issued_at: row.issued_at,
                    expires_at: row.expires_at,
                },
                provenance: ProvenanceView {
                    origin: row.origin,
                    received_from: listing.received_from.clone(),
                    received_at: row.received_at,
                    first_seen_at: row.first_seen_at,
                },
                probes,
            },
        }
    }
}

impl Directory {
    /// The hold cut-off of slug claims now (§5.4 rule 3).
    pub fn claim_hold_cutoff(&self, now_ms: i64) -> i64 {
        let days = i64::from(self.config.directory.claim_hold_days);
        now_ms.saturating_sub(days.saturating_mul(86_400_000))
    }

    /// Whether hub `id` wins `slug` among the held claims now.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn owns_slug(&self, id: &str, slug: &str) -> Result<bool, StoreError> {
        let claims = self
            .store
            .list_held_claims(&[slug], self.claim_hold_cutoff(self.now_ms()))
            .await?;
        Ok(winner(&claims).is_some_and(|w| w.hub_id == id))
    }

    /// `GET /api/v1/hubs/{id}` (§5.2); `id` is a valid hub id.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn detail(&self, id: &str) -> Result<Detail, StoreError> {
        let row = self.store.find_hub_detail(id).await?;
        if row.as_ref().is_some_and(|r| r.listing.hidden_at.is_some()) {
            return Ok(Detail::NotFound);
        }
        match row {
            Some(row) if row.listing.state != HubState::Tombstoned.as_str() => {
                let owner = self.owns_slug(id, &row.listing.slug).await?;
                let probes = self.store.probe_history(id, DETAIL_PROBES).await?;
                Ok(Detail::Found(Box::new(HubDetail::of(row, owner, probes))))
            }
            _ => Ok(match self.store.find_tombstone(id).await? {
                Some(tombstone) => Detail::Gone(tombstone),
                None => Detail::NotFound,
            }),
        }
    }

    /// `GET /api/v1/hubs/{id}/record` (§5.2): the hub's latest signed envelope as stored — its
    /// record, or its tombstone once tombstoned. `None` for unknown or hidden hubs.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn latest_envelope(&self, id: &str) -> Result<Option<String>, StoreError> {
        let stored = self.store.find_record_envelope(id).await?;
        match stored {
            Some((_, _, Some(_hidden))) => Ok(None),
            Some((envelope, state, None)) if state != HubState::Tombstoned.as_str() => {
                Ok(Some(envelope))
            }
            _ => Ok(self.store.find_tombstone(id).await?.map(|t| t.envelope)),
        }
    }
}

//! The change feed's wire form (superhub.md §7.1): what `GET /api/v1/federation/changes` answers
//! and what the pull loop reads back. Envelopes travel as JSON objects whose `payload` string and
//! `sig` are exactly as signed, so receivers verify them themselves.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::cursor::FeedCursor;
use crate::store::{ChangePage, FeedEntry, StoredClaim, StoredItem};

/// One page of the feed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeedPage<I = FeedItem> {
    /// The id of the super hub serving the feed.
    pub superhub: String,
    /// The items, ascending by change number.
    pub items: Vec<I>,
    /// The cursor to continue from.
    pub next: String,
    /// More items follow.
    pub more: bool,
}

/// One item of the feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum FeedItem {
    /// A hub's latest live record.
    HubRecord(Relayed),
    /// A hub's tombstone.
    HubTombstone(Relayed),
    /// Evidence that a hub claimed a slug (§5.4).
    SlugClaim(ClaimItem),
}

/// A record or tombstone with its provenance (§7.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Relayed {
    /// The envelope as signed.
    pub envelope: Value,
    /// The super hub that received it from the hub.
    pub origin: String,
    /// `direct` or the peer the serving super hub pulled it from.
    pub received_from: String,
    /// When the serving super hub stored it.
    pub received_at: i64,
}

/// A slug claim's best evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimItem {
    /// The slug.
    pub slug: String,
    /// The claiming hub.
    pub hub_id: String,
    /// The record's `issued_at`.
    pub claimed_at: i64,
    /// When a super hub accepted the record.
    pub witnessed_at: i64,
    /// The hub-signed record carrying the slug (possibly expired by now).
    pub envelope: Value,
}

/// The page answering `since` with `stored`, served by `superhub`.
pub fn page_of(superhub: &str, since: FeedCursor, stored: ChangePage) -> FeedPage {
    let next = stored.last_seq.map_or(since, FeedCursor);
    FeedPage {
        superhub: superhub.to_owned(),
        items: stored.entries.into_iter().filter_map(item_of).collect(),
        next: next.encode(),
        more: stored.more,
    }
}

fn item_of(entry: FeedEntry) -> Option<FeedItem> {
    Some(match entry {
        FeedEntry::Record(item) => FeedItem::HubRecord(relayed(item)?),
        FeedEntry::Tombstone(item) => FeedItem::HubTombstone(relayed(item)?),
        FeedEntry::Claim(claim) => FeedItem::SlugClaim(claim_item(claim)?),
    })
}

fn relayed(item: StoredItem) -> Option<Relayed> {
    Some(Relayed {
        envelope: serde_json::from_str(&item.envelope).ok()?,
        origin: item.origin,
        received_from: item.received_from,
        received_at: item.received_at,
    })
}

fn claim_item(claim: StoredClaim) -> Option<ClaimItem> {
    Some(ClaimItem {
        envelope: serde_json::from_str(&claim.envelope).ok()?,
        slug: claim.slug,
        hub_id: claim.hub_id,
        claimed_at: claim.claimed_at,
        witnessed_at: claim.witnessed_at,
    })
}

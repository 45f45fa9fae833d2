//! Slug resolution (superhub.md §5.3, §5.4): the winner among the held claims of a slug, answered
//! only while it is listed and not hidden here. A winner that is hidden or not listed keeps the
//! slug: resolution then finds nothing rather than the next claimant.

use serde::Serialize;
use serde_json::Value;
use shared::ids::Slug;

use super::Directory;
use crate::store::{HubState, StoreError, winner};

/// The answer of `GET /api/v1/resolve/{slug}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resolved {
    /// The slug asked for.
    pub slug: String,
    /// The winning hub.
    pub id: String,
    /// Its HTTP URL.
    pub http_url: String,
    /// Its multiaddrs, as signed.
    pub multiaddrs: Value,
    /// Its best evidence for the slug.
    pub claimed_at: i64,
    /// Its state (always `listed` in an answer).
    pub state: String,
    /// Whether it is listed (always true in an answer).
    pub listed: bool,
    /// Held claims of the slug, the winner's included.
    pub contenders: usize,
}

impl Directory {
    /// The listed, visible winner of `slug`, if any.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn resolve(&self, slug: &Slug) -> Result<Option<Resolved>, StoreError> {
        let claims = self
            .store
            .list_held_claims(&[slug.as_str()], self.claim_hold_cutoff(self.now_ms()))
            .await?;
        let Some(best) = winner(&claims) else {
            return Ok(None);
        };
        let Some(row) = self.store.find_hub_detail(&best.hub_id).await? else {
            return Ok(None);
        };
        let listing = &row.listing;
        if listing.hidden_at.is_some() || listing.state != HubState::Listed.as_str() {
            return Ok(None);
        }
        Ok(Some(Resolved {
            slug: slug.to_string(),
            id: best.hub_id.clone(),
            http_url: listing.http_url.clone(),
            multiaddrs: serde_json::from_str(&row.multiaddrs).unwrap_or(Value::Null),
            claimed_at: best.claimed_at,
            state: listing.state.clone(),
            listed: true,
            contenders: claims.len(),
        }))
    }
}

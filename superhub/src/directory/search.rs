//! Search (superhub.md §5.1): the parameters ([`params`]), the cursor ([`cursor`]) and
//! [`Directory::search`], which runs one page and summarizes it with each hub's slug status.

pub mod cursor;
pub mod params;

use std::collections::HashMap;

use serde::Serialize;

use super::Directory;
use super::summary::HubSummary;
use crate::store::{HeldClaim, SearchSort, StoreError, winner};
pub use params::{SearchParams, parse, tokenize};

/// Why a search was not answered.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// A parameter is invalid (`field` names it).
    #[error("{field}: {message}")]
    InvalidField {
        /// The parameter.
        field: &'static str,
        /// What a valid value looks like.
        message: &'static str,
    },
    /// The cursor does not decode or belongs to another query.
    #[error("the cursor does not continue this query")]
    BadCursor,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One page of results (the §5.1 response body).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchPage {
    /// The matching hubs of this page, in order.
    pub items: Vec<HubSummary>,
    /// Paid placements (a later issue; always empty for now).
    pub featured: Vec<HubSummary>,
    /// The cursor of the next page; `null` on the last.
    pub next: Option<String>,
    /// The effective order (for metrics).
    #[serde(skip)]
    pub sort: SearchSort,
}

const DAY_MS: i64 = 86_400_000;

impl Directory {
    /// Runs the search of `params`: one page of listed, unhidden hubs, with one more row read to
    /// know whether a next page exists.
    ///
    /// # Errors
    /// [`SearchError::BadCursor`] or [`SearchError::Store`].
    pub async fn search(&self, params: SearchParams) -> Result<SearchPage, SearchError> {
        let mut search = params.search;
        if let Some(text) = &params.cursor {
            search.after = Some(cursor::decode(text, &search).ok_or(SearchError::BadCursor)?);
        }
        let limit = search.limit as usize;
        search.limit += 1;
        let mut hits = self.store.search_hubs(&search).await?;
        search.limit -= 1;
        let next = if hits.len() > limit {
            hits.truncate(limit);
            hits.last()
                .map(|last| cursor::encode(&search, search.sort.key_of(last), &last.listing.id))
        } else {
            None
        };
        let slugs: Vec<&str> = hits.iter().map(|h| h.listing.slug.as_str()).collect();
        let hold_cutoff = self.now_ms() - i64::from(self.config.directory.claim_hold_days) * DAY_MS;
        let claims = self.store.list_held_claims(&slugs, hold_cutoff).await?;
        let mut by_slug: HashMap<&str, Vec<HeldClaim>> = HashMap::new();
        for claim in &claims {
            by_slug.entry(&claim.slug).or_default().push(claim.clone());
        }
        let items = hits
            .iter()
            .map(|hit| {
                let owner = by_slug
                    .get(hit.listing.slug.as_str())
                    .and_then(|claims| winner(claims))
                    .is_some_and(|w| w.hub_id == hit.listing.id);
                HubSummary::of(&hit.listing, owner)
            })
            .collect();
        Ok(SearchPage {
            items,
            featured: Vec::new(),
            next,
            sort: search.sort,
        })
    }
}

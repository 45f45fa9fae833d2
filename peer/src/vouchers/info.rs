//! What a voucher checker reads of a community's info document (peer.md §3.7): [`CommunityInfo`]
//! (`id`, `http_url`, `slug`), fetched from the public `GET {community}/api/v1/info` with a
//! bounded body and a deadline, and [`Cache`], the documents kept for [`TTL`], at most
//! [`MAX_CACHED`] communities.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use shared::ids::Ed25519PeerId;
use shared::voucher::normalize_hub_url;

use crate::hub_url::HubUrl;

/// How long a fetched info document is trusted (peer.md §3.7).
pub const TTL: Duration = Duration::from_secs(3600);
/// A mismatch refetches only a document older than this, so callers presenting vouchers of
/// other communities cannot make us fetch at their pace.
pub const MIN_REFETCH: Duration = Duration::from_secs(60);
/// Communities whose document is kept; the oldest fetch is dropped first.
pub const MAX_CACHED: usize = 256;
/// Largest info document read.
pub const MAX_BODY: usize = 256 * 1024;

/// The parts of a community's info document a voucher is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommunityInfo {
    /// The hub id: the issuer of its vouchers.
    pub id: Ed25519PeerId,
    /// `http_url`, normalised as a voucher's `hub_url`.
    pub hub_url: String,
    /// The community slug.
    pub slug: String,
}

impl CommunityInfo {
    /// Parses an info document; `None` without an Ed25519 `id`, a non-empty `slug` and a
    /// non-empty `http_url`.
    pub fn parse(body: &[u8]) -> Option<Self> {
        let value: Value = serde_json::from_slice(body).ok()?;
        let text = |key: &str| value.get(key)?.as_str().filter(|s| !s.is_empty());
        Some(Self {
            id: text("id")?.parse().ok()?,
            hub_url: normalize_hub_url(text("http_url")?),
            slug: text("slug")?.to_owned(),
        })
    }

    /// Whether a voucher with these claims was issued by this community: `iss` = `id`,
    /// `hub_url` = `http_url` (both normalised), `community` = `slug`.
    pub fn issued(&self, claims: &shared::voucher::Claims) -> bool {
        claims.iss == self.id.to_string()
            && normalize_hub_url(&claims.hub_url) == self.hub_url
            && claims.community == self.slug
    }
}

/// Why a public read of a community failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The hub could not be reached or did not answer in time.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// Not a 200.
    #[error("status {0}")]
    Status(u16),
    /// Too long, or not the document asked for.
    #[error("not {0}")]
    Malformed(&'static str),
}

/// `GET {community}/api/v1/info` (public).
///
/// # Errors
/// [`FetchError`].
pub async fn fetch(
    http: &reqwest::Client,
    community: &HubUrl,
) -> Result<CommunityInfo, FetchError> {
    let body = get(
        http,
        community.join("/api/v1/info"),
        MAX_BODY,
        "an info document",
    )
    .await?;
    CommunityInfo::parse(&body).ok_or(FetchError::Malformed("an info document"))
}

/// The body of a public `GET url` answered 200, read up to `max` bytes (`what` names it in
/// errors).
///
/// # Errors
/// [`FetchError`].
pub(super) async fn get(
    http: &reqwest::Client,
    url: String,
    max: usize,
    what: &'static str,
) -> Result<Vec<u8>, FetchError> {
    let unreachable =
        |e: &reqwest::Error| FetchError::Unreachable(shared::http_client::describe(e));
    let response = http.get(url).send().await.map_err(|e| unreachable(&e))?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(FetchError::Status(response.status().as_u16()));
    }
    shared::http_client::read_limited(response, max)
        .await
        .map_err(|e| match e {
            shared::http_client::ReadError::TooLarge(_) => FetchError::Malformed(what),
            shared::http_client::ReadError::Transport(e) => unreachable(&e),
        })
}

/// A fetched document and when (clock ms).
#[derive(Debug, Clone)]
pub struct Cached {
    /// The document.
    pub info: CommunityInfo,
    /// When it was fetched.
    pub fetched_ms: i64,
}

/// The documents by community, and when a fetch last failed (no new fetch within
/// [`MIN_REFETCH`] of a failure, so a community that is down is not asked at callers' pace).
#[derive(Debug, Default)]
pub struct Cache {
    entries: HashMap<HubUrl, Cached>,
    failed: HashMap<HubUrl, i64>,
}

impl Cache {
    /// The document of `community`, fresh or not.
    pub fn get(&self, community: &HubUrl) -> Option<&Cached> {
        self.entries.get(community)
    }

    /// Keeps `info`, dropping the oldest fetch when full.
    pub fn insert(&mut self, community: HubUrl, info: CommunityInfo, now_ms: i64) {
        if self.entries.len() >= MAX_CACHED && !self.entries.contains_key(&community) {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, c)| c.fetched_ms)
                .map(|(url, _)| url.clone());
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
            }
        }
        self.failed.remove(&community);
        self.entries.insert(
            community,
            Cached {
                info,
                fetched_ms: now_ms,
            },
        );
    }

    /// Notes a failed fetch of `community` at `now_ms`.
    pub fn fetch_failed(&mut self, community: &HubUrl, now_ms: i64) {
        if self.failed.len() >= MAX_CACHED {
            self.failed
                .retain(|_, at| !older_than(*at, MIN_REFETCH, now_ms));
        }
        if self.failed.len() < MAX_CACHED {
            self.failed.insert(community.clone(), now_ms);
        }
    }

    /// Whether a fetch of `community` failed within [`MIN_REFETCH`] before `now_ms`.
    pub fn failed_recently(&self, community: &HubUrl, now_ms: i64) -> bool {
        self.failed
            .get(community)
            .is_some_and(|at| !older_than(*at, MIN_REFETCH, now_ms))
    }

    /// How many communities are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Whether a document fetched at `fetched_ms` is older than `age` at `now_ms`.
pub fn older_than(fetched_ms: i64, age: Duration, now_ms: i64) -> bool {
    now_ms.saturating_sub(fetched_ms) >= i64::try_from(age.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id() -> Ed25519PeerId {
        libp2p::identity::ed25519::Keypair::generate()
            .public()
            .into()
    }

    #[test]
    fn info_needs_an_ed25519_id_a_slug_and_an_http_url() {
        let id = id();
        let good =
            format!(r#"{{"id":"{id}","slug":"go","http_url":"HTTP://H.example:80/","x":1}}"#);
        let info = CommunityInfo::parse(good.as_bytes()).unwrap();
        assert_eq!(info.hub_url, "http://h.example");
        assert_eq!(info.slug, "go");
        for bad in [
            format!(r#"{{"id":"{id}","http_url":"http://h"}}"#),
            format!(r#"{{"id":"{id}","slug":"","http_url":"http://h"}}"#),
            format!(r#"{{"id":"{id}","slug":"go"}}"#),
            r#"{"id":"QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N","slug":"go","http_url":"h"}"#
                .to_owned(),
            r#"{"id":7,"slug":"go","http_url":"h"}"#.to_owned(),
            "[]".to_owned(),
            "<html>".to_owned(),
        ] {
            assert_eq!(CommunityInfo::parse(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn cache_drops_the_oldest_fetch_when_full() {
        let mut cache = Cache::default();
        let info = CommunityInfo {
            id: id(),
            hub_url: "http://h".to_owned(),
            slug: "s".to_owned(),
        };
        for i in 0..=MAX_CACHED {
            let url = HubUrl::parse(&format!("http://h{i}.example")).unwrap();
            cache.insert(url, info.clone(), i as i64);
        }
        assert_eq!(cache.len(), MAX_CACHED);
        assert!(
            cache
                .get(&HubUrl::parse("http://h0.example").unwrap())
                .is_none()
        );
        assert!(
            cache
                .get(&HubUrl::parse("http://h1.example").unwrap())
                .is_some()
        );
    }

    #[test]
    fn a_failed_fetch_is_not_repeated_within_a_minute() {
        let mut cache = Cache::default();
        let url = HubUrl::parse("http://down.example").unwrap();
        cache.fetch_failed(&url, 1000);
        assert!(cache.failed_recently(&url, 60_999));
        assert!(!cache.failed_recently(&url, 61_000));
        cache.insert(
            url.clone(),
            CommunityInfo {
                id: id(),
                hub_url: "http://down.example".to_owned(),
                slug: "s".to_owned(),
            },
            2000,
        );
        assert!(!cache.failed_recently(&url, 2000), "a success clears it");
    }

    proptest! {
        #[test]
        fn hostile_info_documents_never_panic(body in proptest::collection::vec(any::<u8>(), 0..2048),
                                              slug in "(?s).{0,64}", url in "(?s).{0,64}") {
            let _ = CommunityInfo::parse(&body);
            let id = id();
            let doc = serde_json::json!({"id": id.to_string(), "slug": slug, "http_url": url});
            if let Some(info) = CommunityInfo::parse(doc.to_string().as_bytes()) {
                prop_assert_eq!(info.id, id);
                prop_assert!(!info.slug.is_empty());
            }
        }
    }
}

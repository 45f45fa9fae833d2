//! Revocation lists (peer.md §3.7, hub.md §7.4): [`parse`] reads the public
//! `GET {community}/api/v1/vouchers/revocations?since=<ms>` answer, [`Lists`] keeps each
//! community's entries for [`KEEP`] (at most [`MAX_ENTRIES`] per community, oldest first out)
//! and says which entries are news.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use libp2p::PeerId;
use serde_json::Value;
use shared::ids::Ed25519PeerId;

use super::info::FetchError;
use crate::hub_url::HubUrl;

/// How long an entry is kept: longer than any voucher it can revoke lives (peer.md §3.7).
pub const KEEP: Duration = Duration::from_secs(25 * 3600);
/// Entries kept per community.
pub const MAX_ENTRIES: usize = 20_000;
/// Entries read from one answer (the hub sends at most 10,000).
pub const MAX_PER_ANSWER: usize = 10_000;
/// Largest answer read.
pub const MAX_BODY: usize = 2 * 1024 * 1024;
/// Communities polled at once.
pub const MAX_COMMUNITIES: usize = 64;

/// One revocation: every voucher of `peer` issued before `revoked_before_ms` is void.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The holder.
    pub peer: PeerId,
    /// Unix ms: vouchers with `iat`·1000 below this are revoked.
    pub revoked_before_ms: i64,
}

/// A parsed answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The usable entries (others are skipped).
    pub entries: Vec<Entry>,
    /// The hub's `now`: the next `since`.
    pub now_ms: i64,
}

/// Parses `{"revocations":[{"peer_id","revoked_before"}],"now":<ms>}`; entries without an
/// Ed25519 `peer_id` or an integer `revoked_before` are skipped, at most [`MAX_PER_ANSWER`]
/// read. `None` without a `revocations` array or an integer `now`.
pub fn parse(body: &[u8]) -> Option<Answer> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let now_ms = value.get("now")?.as_i64()?;
    let entries = value
        .get("revocations")?
        .as_array()?
        .iter()
        .take(MAX_PER_ANSWER)
        .filter_map(|item| {
            let peer: Ed25519PeerId = item.get("peer_id")?.as_str()?.parse().ok()?;
            Some(Entry {
                peer: peer.peer_id(),
                revoked_before_ms: item.get("revoked_before")?.as_i64()?,
            })
        })
        .collect();
    Some(Answer { entries, now_ms })
}

/// The entries of one community.
#[derive(Debug, Default)]
struct List {
    by_peer: HashMap<PeerId, i64>,
    /// Insertion order, for eviction (an entry raised later may appear twice).
    order: VecDeque<(PeerId, i64)>,
}

/// The revocation lists by community.
#[derive(Debug, Default)]
pub struct Lists {
    lists: HashMap<HubUrl, List>,
}

impl Lists {
    /// Takes `entries` into `community`'s list, drops entries older than [`KEEP`] at `now_ms`,
    /// and returns the entries that are new or raise a peer's `revoked_before`.
    pub fn apply(&mut self, community: &HubUrl, entries: &[Entry], now_ms: i64) -> Vec<Entry> {
        let oldest = now_ms.saturating_sub(i64::try_from(KEEP.as_millis()).unwrap_or(i64::MAX));
        let list = self.lists.entry(community.clone()).or_default();
        list.by_peer.retain(|_, before| *before >= oldest);
        let mut news = Vec::new();
        for entry in entries {
            if entry.revoked_before_ms < oldest {
                continue;
            }
            let known = list.by_peer.get(&entry.peer).copied();
            if known.is_some_and(|before| before >= entry.revoked_before_ms) {
                continue;
            }
            while known.is_none() && list.by_peer.len() >= MAX_ENTRIES {
                let Some((peer, before)) = list.order.pop_front() else {
                    break;
                };
                if list.by_peer.get(&peer) == Some(&before) {
                    list.by_peer.remove(&peer);
                }
            }
            list.by_peer.insert(entry.peer, entry.revoked_before_ms);
            list.order.push_back((entry.peer, entry.revoked_before_ms));
            news.push(*entry);
        }
        let by_peer = &list.by_peer;
        list.order
            .retain(|(peer, before)| by_peer.get(peer) == Some(before));
        news
    }

    /// Whether a voucher of `peer` issued at `iat_ms` is revoked in `community`.
    pub fn revoked(&self, community: &HubUrl, peer: &PeerId, iat_ms: i64) -> bool {
        self.lists
            .get(community)
            .and_then(|list| list.by_peer.get(peer))
            .is_some_and(|before| *before > iat_ms)
    }

    /// Forgets `community`.
    pub fn remove(&mut self, community: &HubUrl) {
        self.lists.remove(community);
    }

    /// Entries kept for `community`.
    pub fn len(&self, community: &HubUrl) -> usize {
        self.lists.get(community).map_or(0, |l| l.by_peer.len())
    }
}

/// `GET {community}/api/v1/vouchers/revocations?since=<since_ms>` (public).
///
/// # Errors
/// [`FetchError`].
pub async fn fetch(
    http: &reqwest::Client,
    community: &HubUrl,
    since_ms: i64,
) -> Result<Answer, FetchError> {
    const WHAT: &str = "a revocation list";
    let url = community.join(&format!("/api/v1/vouchers/revocations?since={since_ms}"));
    let body = super::info::get(http, url, MAX_BODY, WHAT).await?;
    parse(&body).ok_or(FetchError::Malformed(WHAT))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn peer() -> Ed25519PeerId {
        libp2p::identity::ed25519::Keypair::generate()
            .public()
            .into()
    }

    fn hub() -> HubUrl {
        HubUrl::parse("http://h.example").unwrap()
    }

    #[test]
    fn answer_keeps_usable_entries_and_needs_now() {
        let p = peer();
        let body = format!(
            r#"{{"revocations":[{{"peer_id":"{p}","revoked_before":5}},{{"peer_id":"x","revoked_before":1}},
            {{"peer_id":"{p}","revoked_before":"7"}},7],"now":9,"extra":true}}"#
        );
        let answer = parse(body.as_bytes()).unwrap();
        assert_eq!(answer.now_ms, 9);
        assert_eq!(
            answer.entries,
            [Entry {
                peer: p.peer_id(),
                revoked_before_ms: 5
            }]
        );
        for bad in [
            r#"{"revocations":[]}"#,
            r#"{"revocations":{},"now":1}"#,
            r#"{"now":1}"#,
            r#"{"revocations":[],"now":1.5}"#,
            "garbage",
        ] {
            assert_eq!(parse(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn lists_report_news_once_and_revoke_older_vouchers_only() {
        let mut lists = Lists::default();
        let p = peer().peer_id();
        let now = 100 * 3_600_000;
        let entry = Entry {
            peer: p,
            revoked_before_ms: now - 1000,
        };

        assert_eq!(lists.apply(&hub(), &[entry], now), [entry]);
        assert!(lists.apply(&hub(), &[entry], now).is_empty());
        assert!(lists.revoked(&hub(), &p, now - 2000));
        assert!(!lists.revoked(&hub(), &p, now - 1000));
        let other = HubUrl::parse("http://other.example").unwrap();
        assert!(!lists.revoked(&other, &p, 0));
        let raised = Entry {
            revoked_before_ms: now,
            ..entry
        };
        assert_eq!(lists.apply(&hub(), &[raised], now), [raised]);
    }

    #[test]
    fn lists_forget_entries_after_25_hours_and_stay_bounded() {
        let mut lists = Lists::default();
        let now = 100 * 3_600_000;
        let stale = Entry {
            peer: peer().peer_id(),
            revoked_before_ms: now - 26 * 3_600_000,
        };
        assert!(lists.apply(&hub(), &[stale], now).is_empty());
        let fresh = Entry {
            peer: peer().peer_id(),
            revoked_before_ms: now,
        };
        lists.apply(&hub(), &[fresh], now);
        assert_eq!(lists.len(&hub()), 1);
        lists.apply(&hub(), &[], now + 26 * 3_600_000);
        assert_eq!(lists.len(&hub()), 0);

        let many: Vec<Entry> = (0..MAX_ENTRIES + 10)
            .map(|_| Entry {
                peer: PeerId::random(),
                revoked_before_ms: now,
            })
            .collect();
        lists.apply(&hub(), &many, now);
        assert_eq!(lists.len(&hub()), MAX_ENTRIES);
        assert!(lists.revoked(&hub(), &many.last().unwrap().peer, 0));
        assert!(!lists.revoked(&hub(), &many[0].peer, 0));
    }

    proptest! {
        #[test]
        fn hostile_revocation_answers_never_panic(body in proptest::collection::vec(any::<u8>(), 0..2048),
                                                  now in any::<i64>(), before in any::<i64>(),
                                                  id in "(?s).{0,60}") {
            let _ = parse(&body);
            let doc = serde_json::json!({"revocations": [{"peer_id": id, "revoked_before": before}], "now": now});
            let answer = parse(doc.to_string().as_bytes()).unwrap();
            prop_assert_eq!(answer.now_ms, now);
            let mut lists = Lists::default();
            let _ = lists.apply(&hub(), &answer.entries, now);
        }
    }
}

//! The summary of a hub in search results and at the top of its detail (superhub.md §5.1):
//! self-reported fields as the hub signed them, and the badges this super hub measured.

use serde::Serialize;

use crate::store::HubListing;

/// Longest summary description, in characters (cut with "…").
const SUMMARY_DESCRIPTION_CHARS: usize = 280;

/// One hub in a result list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HubSummary {
    /// Hub id.
    pub id: String,
    /// Its slug.
    pub slug: String,
    /// `owner` when this hub wins its slug (§5.4), else `conflict`.
    pub slug_status: &'static str,
    /// Its name.
    pub name: String,
    /// At most 280 characters, cut with "…".
    pub description: String,
    /// `""` or its icon URL.
    pub icon_url: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// Its languages.
    pub languages: Vec<String>,
    /// `""` or its region.
    pub region: String,
    /// Join mode.
    pub join_mode: String,
    /// `free` or `paid`.
    pub access: String,
    /// Prices: `kind`, `amount`, `currency`, `interval` of each plan.
    pub plans: Vec<PlanPrice>,
    /// Reported by the hub, never measured.
    pub member_count: Option<i64>,
    /// Its HTTP URL.
    pub http_url: String,
    /// Its listing state.
    pub state: String,
    /// `direct` or `federated`.
    pub source: &'static str,
    /// When it was first listed here.
    pub listed_since: Option<i64>,
    /// Measured, attested and sponsored badges.
    pub badges: Badges,
}

/// A plan's price as the summary shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PlanPrice {
    /// `free`, `subscription` or `donation`.
    pub kind: String,
    /// Price, when fixed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    /// Currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// `month` or `year`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
}

/// The badges of §6.1.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Badges {
    /// From this super hub's probes.
    pub measured: Measured,
    /// Checks the operator passed here (attestations arrive in a later issue).
    pub attested: Attested,
    /// Paid placement (a later issue).
    pub featured: Option<serde_json::Value>,
}

/// Measured values (§4.4).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measured {
    /// ok ÷ all HTTP probes of 30 days; null below 10 probes.
    pub uptime_30d: Option<f64>,
    /// Median RTT of the last day's ok HTTP probes.
    pub rtt_ms: Option<i64>,
    /// Whether the last libp2p probe passed.
    pub p2p_reachable: bool,
    /// The last probe.
    pub last_probe_at: Option<i64>,
}

/// Attested values (§6.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attested {
    /// The verified domain, if any.
    pub domain: Option<String>,
    /// Whether the operator's email was verified.
    pub operator_email: bool,
}

fn json_list<T: serde::de::DeserializeOwned>(text: &str) -> Vec<T> {
    serde_json::from_str(text).unwrap_or_default()
}

/// Cuts `text` to at most `max` characters, ending in "…" when cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(max - 1).collect();
    short.push('…');
    short
}

impl HubSummary {
    /// The summary of a stored hub; `owner` says whether it wins its slug.
    pub fn of(row: &HubListing, owner: bool) -> Self {
        Self {
            id: row.id.clone(),
            slug: row.slug.clone(),
            slug_status: if owner { "owner" } else { "conflict" },
            name: row.name.clone(),
            description: cut(&row.description, SUMMARY_DESCRIPTION_CHARS),
            icon_url: row.icon_url.clone(),
            tags: json_list(&row.tags),
            languages: json_list(&row.languages),
            region: row.region.clone(),
            join_mode: row.join_mode.clone(),
            access: row.access.clone(),
            plans: json_list(&row.plans),
            member_count: row.member_count,
            http_url: row.http_url.clone(),
            state: row.state.clone(),
            source: if row.received_from == "direct" {
                "direct"
            } else {
                "federated"
            },
            listed_since: row.first_listed_at,
            badges: Badges {
                measured: Measured {
                    uptime_30d: row.uptime_30d,
                    rtt_ms: row.rtt_ms,
                    p2p_reachable: row.p2p_ok_at.is_some(),
                    last_probe_at: row.last_probe_at,
                },
                attested: Attested {
                    domain: None,
                    operator_email: false,
                },
                featured: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_keeps_short_text_and_ends_long_text_in_an_ellipsis() {
        assert_eq!(cut("short", 280), "short");
        let long = "é".repeat(300);

        let summary = cut(&long, 280);

        assert_eq!(summary.chars().count(), 280);
        assert!(summary.ends_with('…'));
    }
}

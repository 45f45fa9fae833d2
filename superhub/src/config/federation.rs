//! `[federation]`: which super hubs this one pulls from and how (superhub.md §7, §13).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use shared::config::LoadConfigError;
use shared::ids::Ed25519PeerId;

/// `[federation]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederationConfig {
    /// Serve the change feed and pull from the peers.
    pub enabled: bool,
    /// Each peer is pulled this often (± 10 %).
    #[serde(rename = "pull_interval_secs", with = "shared::config::secs")]
    pub pull_interval: Duration,
    /// Items asked for per page.
    pub page_limit: u32,
    /// Whole-request timeout of one pull.
    #[serde(rename = "request_timeout_secs", with = "shared::config::secs")]
    pub request_timeout: Duration,
    /// A feed page is read up to this many bytes.
    pub max_response_bytes: usize,
    /// The base of the failure backoff (`base^n` seconds after `n` failures in a row).
    pub backoff_base: f64,
    /// The backoff's lower clamp.
    #[serde(rename = "backoff_min_secs", with = "shared::config::secs")]
    pub backoff_min: Duration,
    /// The backoff's upper clamp.
    #[serde(rename = "backoff_cap_secs", with = "shared::config::secs")]
    pub backoff_cap: Duration,
    /// A peer without a success for this long is `dead` (still retried).
    #[serde(rename = "dead_after_secs", with = "shared::config::secs")]
    pub dead_after: Duration,
    /// `[[federation.peers]]` (file only).
    #[serde(default)]
    pub peers: Vec<FederationPeer>,
}

/// One `[[federation.peers]]` entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederationPeer {
    /// Base URL of the peer super hub.
    pub url: String,
    /// Its super hub id; when set, every feed page must carry it.
    #[serde(default)]
    pub id: String,
    /// A display name.
    #[serde(default)]
    pub name: String,
    /// Apply this peer's moderation notes.
    #[serde(default)]
    pub trust_moderation: bool,
    /// Count this peer's slug-claim evidence.
    #[serde(default = "yes")]
    pub trust_claims: bool,
}

fn yes() -> bool {
    true
}

impl FederationPeer {
    /// The key of this peer's `federation_peers` row: its configured id, else its URL.
    pub fn key(&self) -> &str {
        if self.id.is_empty() {
            &self.url
        } else {
            &self.id
        }
    }
}

impl Default for FederationConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            pull_interval: Duration::from_secs(30),
            page_limit: 100,
            request_timeout: Duration::from_secs(15),
            max_response_bytes: 8 << 20,
            backoff_base: 1.25,
            backoff_min: Duration::from_secs(30),
            backoff_cap: Duration::from_secs(86_400),
            dead_after: Duration::from_secs(259_200),
            peers: Vec::new(),
        }
    }
}

impl FederationConfig {
    pub(crate) fn validate(&self) -> Result<(), LoadConfigError> {
        if self.pull_interval.is_zero() {
            return Err(LoadConfigError::rule(
                "federation.pull_interval_secs",
                "at least 1",
            ));
        }
        if !(1..=500).contains(&self.page_limit) {
            return Err(LoadConfigError::rule("federation.page_limit", "1–500"));
        }
        if self.request_timeout.is_zero() {
            return Err(LoadConfigError::rule(
                "federation.request_timeout_secs",
                "at least 1",
            ));
        }
        if !(1024..=64 << 20).contains(&self.max_response_bytes) {
            return Err(LoadConfigError::rule(
                "federation.max_response_bytes",
                "1 KiB – 64 MiB",
            ));
        }
        if !(self.backoff_base.is_finite() && self.backoff_base > 1.0) {
            return Err(LoadConfigError::rule(
                "federation.backoff_base",
                "a number greater than 1",
            ));
        }
        if self.backoff_min > self.backoff_cap {
            return Err(LoadConfigError::rule(
                "federation.backoff_min_secs",
                "at most federation.backoff_cap_secs",
            ));
        }
        let mut keys = std::collections::HashSet::new();
        for peer in &self.peers {
            if !shared::config::is_http_url(&peer.url, 512) {
                return Err(LoadConfigError::rule(
                    "federation.peers.url",
                    format!("{:?} is not an http(s) URL", peer.url),
                ));
            }
            if !peer.id.is_empty() && peer.id.parse::<Ed25519PeerId>().is_err() {
                return Err(LoadConfigError::rule(
                    "federation.peers.id",
                    format!("{:?} is not an Ed25519 PeerId", peer.id),
                ));
            }
            if !keys.insert(peer.key()) {
                return Err(LoadConfigError::rule(
                    "federation.peers",
                    format!("{} is listed twice", peer.key()),
                ));
            }
        }
        Ok(())
    }
}

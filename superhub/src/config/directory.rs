//! `[directory]` and `[probe]`: what the directory accepts and how it checks hubs before listing
//! them (superhub.md §3, §4, §13).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use shared::config::LoadConfigError;

/// `[directory]`: registration policy and retention.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryConfig {
    /// List only hubs whose `http_url` is `https`.
    pub require_https: bool,
    /// A record may live at most this long (`expires_at − issued_at`).
    #[serde(rename = "record_max_lifetime_secs", with = "shared::config::secs")]
    pub record_max_lifetime: Duration,
    /// A record may be issued at most this far in the future.
    #[serde(rename = "max_future_skew_secs", with = "shared::config::secs")]
    pub max_future_skew: Duration,
    /// Expired records are deleted this many days after they expired.
    pub expired_retention_days: u32,
    /// Tombstones are deleted this many days after they arrived.
    pub tombstone_retention_days: u32,
    /// A slug stays held this many days after its record expired.
    pub claim_hold_days: u32,
    /// Featured hubs on the first page at most.
    pub max_featured: u32,
    /// How often the expiry sweep runs (§3.5).
    #[serde(rename = "sweep_interval_secs", with = "shared::config::secs")]
    pub sweep_interval: Duration,
}

impl Default for DirectoryConfig {
    fn default() -> Self {
        Self {
            require_https: true,
            record_max_lifetime: Duration::from_secs(7200),
            max_future_skew: Duration::from_secs(300),
            expired_retention_days: 30,
            tombstone_retention_days: 30,
            claim_hold_days: 30,
            max_featured: 3,
            sweep_interval: Duration::from_secs(60),
        }
    }
}

impl DirectoryConfig {
    pub(crate) fn validate(&self) -> Result<(), LoadConfigError> {
        if self.record_max_lifetime < Duration::from_secs(60) {
            return Err(LoadConfigError::rule(
                "directory.record_max_lifetime_secs",
                "at least 60",
            ));
        }
        if self.sweep_interval.is_zero() {
            return Err(LoadConfigError::rule(
                "directory.sweep_interval_secs",
                "at least 1",
            ));
        }
        Ok(())
    }
}

/// `[probe]`: the scheduler and the HTTP and libp2p probes (§4).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeConfig {
    /// Run the probe scheduler. Off, nothing is probed and so nothing new is listed (a directory
    /// under maintenance, or a test that arranges states itself).
    pub enabled: bool,
    /// A listed hub is probed again this long after its last probe …
    #[serde(rename = "interval_secs", with = "shared::config::secs")]
    pub interval: Duration,
    /// … plus or minus up to this.
    #[serde(rename = "jitter_secs", with = "shared::config::secs")]
    pub jitter: Duration,
    /// Probes in flight at most.
    pub concurrency: usize,
    /// The longest wait before retrying a hub that never passed.
    #[serde(rename = "retry_max_secs", with = "shared::config::secs")]
    pub retry_max: Duration,
    /// Failures in a row after which a listed hub becomes `unreachable`.
    pub unreachable_after_failures: u32,
    /// TCP (and TLS) connect timeout of the HTTP probe.
    #[serde(rename = "connect_timeout_secs", with = "shared::config::secs")]
    pub connect_timeout: Duration,
    /// Whole-request timeout of the HTTP probe.
    #[serde(rename = "http_timeout_secs", with = "shared::config::secs")]
    pub http_timeout: Duration,
    /// The probed info document is read up to this many bytes.
    pub max_body_bytes: usize,
    /// Probe rows are kept this many days.
    pub history_days: u32,
    /// Probe hubs on loopback, private, link-local and other non-public addresses (tests, LANs).
    pub allow_private_addresses: bool,
    /// Also dial the hub over libp2p (never gates listing).
    pub p2p: bool,
    /// Whole timeout of the libp2p probe.
    #[serde(rename = "p2p_timeout_secs", with = "shared::config::secs")]
    pub p2p_timeout: Duration,
    /// How often the scheduler looks for due probes, in milliseconds (§4.1; tests shorten it).
    pub tick_millis: u64,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(600),
            jitter: Duration::from_secs(60),
            concurrency: 8,
            retry_max: Duration::from_secs(3600),
            unreachable_after_failures: 3,
            connect_timeout: Duration::from_secs(5),
            http_timeout: Duration::from_secs(10),
            max_body_bytes: 65_536,
            history_days: 30,
            allow_private_addresses: false,
            enabled: true,
            p2p: true,
            p2p_timeout: Duration::from_secs(10),
            tick_millis: 5000,
        }
    }
}

impl ProbeConfig {
    /// The scheduler's tick.
    pub fn tick(&self) -> Duration {
        Duration::from_millis(self.tick_millis)
    }

    pub(crate) fn validate(&self) -> Result<(), LoadConfigError> {
        let positive = [
            ("probe.interval_secs", self.interval.as_secs()),
            ("probe.concurrency", self.concurrency as u64),
            ("probe.retry_max_secs", self.retry_max.as_secs()),
            (
                "probe.unreachable_after_failures",
                u64::from(self.unreachable_after_failures),
            ),
            ("probe.connect_timeout_secs", self.connect_timeout.as_secs()),
            ("probe.http_timeout_secs", self.http_timeout.as_secs()),
            ("probe.max_body_bytes", self.max_body_bytes as u64),
            ("probe.p2p_timeout_secs", self.p2p_timeout.as_secs()),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(LoadConfigError::rule(key, "at least 1"));
            }
        }
        if !(10..=60_000).contains(&self.tick_millis) {
            return Err(LoadConfigError::rule(
                "probe.tick_millis",
                "between 10 and 60000",
            ));
        }
        if self.jitter >= self.interval {
            return Err(LoadConfigError::rule(
                "probe.jitter_secs",
                "less than probe.interval_secs",
            ));
        }
        // Probes in flight, and the capacity of their channels: tokio refuses (panics) beyond 2^61.
        if self.concurrency > 1024 {
            return Err(LoadConfigError::rule("probe.concurrency", "at most 1024"));
        }
        if self.max_body_bytes > 1 << 20 {
            return Err(LoadConfigError::rule(
                "probe.max_body_bytes",
                "at most 1 MiB",
            ));
        }
        Ok(())
    }
}

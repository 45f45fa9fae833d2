//! `[rate_limits]`: the token buckets of superhub.md §10.

use serde::{Deserialize, Serialize};
use shared::config::LoadConfigError;
use shared::rate_limit::RateLimit;

/// `[rate_limits]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimits {
    /// `POST /api/v1/hubs` per client IP, checked before anything else.
    pub register_ip: RateLimit,
    /// Accepted registrations per hub id.
    pub register_hub: RateLimit,
    /// The federation feed per client IP.
    pub feed_ip: RateLimit,
    /// Search, resolve and the public pages per client IP.
    pub search_ip: RateLimit,
    /// Attestation requests per hub id.
    pub attest_hub: RateLimit,
    /// Failed admin authentication per client IP.
    pub admin_fail_ip: RateLimit,
    /// Every other route except the health checks, per client IP.
    pub general_ip: RateLimit,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            register_ip: RateLimit::new(10, 60.0),
            register_hub: RateLimit::new(3, 60.0),
            feed_ip: RateLimit::new(60, 1.0),
            search_ip: RateLimit::new(60, 0.5),
            attest_hub: RateLimit::new(5, 720.0),
            admin_fail_ip: RateLimit::new(10, 60.0),
            general_ip: RateLimit::new(120, 0.05),
        }
    }
}

impl RateLimits {
    pub(crate) fn validate(&self) -> Result<(), LoadConfigError> {
        self.register_ip.validate("rate_limits.register_ip")?;
        self.register_hub.validate("rate_limits.register_hub")?;
        self.feed_ip.validate("rate_limits.feed_ip")?;
        self.search_ip.validate("rate_limits.search_ip")?;
        self.attest_hub.validate("rate_limits.attest_hub")?;
        self.admin_fail_ip.validate("rate_limits.admin_fail_ip")?;
        self.general_ip.validate("rate_limits.general_ip")
    }
}

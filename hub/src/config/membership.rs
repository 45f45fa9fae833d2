//! `[membership]` and `[vouchers]` (the keys the membership rules read; hub.md §6, §7, §16).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use shared::config::LoadConfigError;
use shared::db::StoreError;

use super::JoinMode;
use crate::members::Access;

/// `[membership]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembershipConfig {
    /// `open`, `email`, `invite` or `application`.
    pub join_mode: JoinMode,
    /// `free` (verified accounts are members) or `paid` (guests until they pay or are comped).
    pub access: Access,
    /// Whether `guest`-tier accounts may use presence.
    pub guest_presence: bool,
    /// In `open` mode, a proven key is entitled without joining first.
    pub open_autojoin: bool,
    /// PeerIds one account may bind.
    pub max_peers_per_account: u32,
    /// Longest application message, in characters.
    pub application_max_chars: usize,
    /// Unverified accounts are deleted after this many days.
    pub pending_expiry_days: u64,
    /// Period of the membership sweep (§6.7).
    #[serde(rename = "sweep_interval_secs", with = "shared::config::secs")]
    pub sweep_interval: Duration,
    /// Browser session lifetime.
    pub session_ttl_days: u64,
    /// Bind code lifetime.
    #[serde(rename = "bind_code_ttl_secs", with = "shared::config::secs")]
    pub bind_code_ttl: Duration,
    /// Failures tests inject between a commit and its enforcement. Not a config key.
    #[serde(skip)]
    pub faults: Faults,
}

/// Failure injection for tests (not a config key, never set by a file or the environment): makes
/// the database reads that follow a committed membership change fail, as a connection lost right
/// after the commit would, so tests reach that window deterministically instead of by a race.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    after_commit: Arc<AtomicBool>,
}

impl Faults {
    /// While `on`, enforcement after a committed change fails with [`StoreError::Unavailable`]
    /// before it reads the database.
    pub fn fail_after_commit(&self, on: bool) {
        self.after_commit.store(on, Ordering::SeqCst);
    }

    /// The injected failure, when one is set.
    pub(crate) fn after_commit(&self) -> Result<(), StoreError> {
        if self.after_commit.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable(sqlx::Error::PoolClosed));
        }
        Ok(())
    }
}

impl Default for MembershipConfig {
    fn default() -> Self {
        Self {
            join_mode: JoinMode::Email,
            access: Access::Free,
            guest_presence: false,
            open_autojoin: true,
            max_peers_per_account: 10,
            application_max_chars: 2000,
            pending_expiry_days: 7,
            sweep_interval: Duration::from_secs(60),
            session_ttl_days: 30,
            bind_code_ttl: Duration::from_secs(600),
            faults: Faults::default(),
        }
    }
}

impl MembershipConfig {
    pub(crate) fn validate(&self) -> Result<(), LoadConfigError> {
        let positive = [
            (
                "membership.max_peers_per_account",
                u64::from(self.max_peers_per_account),
            ),
            (
                "membership.application_max_chars",
                self.application_max_chars as u64,
            ),
            ("membership.pending_expiry_days", self.pending_expiry_days),
            (
                "membership.sweep_interval_secs",
                self.sweep_interval.as_secs(),
            ),
            ("membership.session_ttl_days", self.session_ttl_days),
            (
                "membership.bind_code_ttl_secs",
                self.bind_code_ttl.as_secs(),
            ),
        ];
        match positive.iter().find(|(_, v)| *v == 0) {
            Some((key, _)) => Err(LoadConfigError::rule(key, "must be at least 1")),
            None if self.max_peers_per_account > 1000 => Err(LoadConfigError::rule(
                "membership.max_peers_per_account",
                "at most 1000",
            )),
            None => Ok(()),
        }
    }
}

/// `[vouchers]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VouchersConfig {
    /// Voucher lifetime (capped by comp and grace ends).
    #[serde(rename = "ttl_secs", with = "shared::config::secs")]
    pub ttl: Duration,
}

impl Default for VouchersConfig {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(86_400),
        }
    }
}

impl VouchersConfig {
    pub(crate) fn validate(&self) -> Result<(), LoadConfigError> {
        if !(60..=30 * 86_400).contains(&self.ttl.as_secs()) {
            return Err(LoadConfigError::rule(
                "vouchers.ttl_secs",
                "between 60 and 2592000 (30 days)",
            ));
        }
        Ok(())
    }
}

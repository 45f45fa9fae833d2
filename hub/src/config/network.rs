//! `[relay]`, `[rendezvous]`, `[autonat]` and `[rate_limits]`: the sections that
//! shape the libp2p services and who may use them (hub.md §4, §13.2, §16).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use shared::config::LoadConfigError;

/// Who may use a relay function (hub.md §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Peers whose entitlement includes `relay`.
    Members,
    /// Every peer.
    Any,
}

/// How people join the community (hub.md §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JoinMode {
    /// Anyone who proves a key.
    Open,
    /// A verified email address.
    Email,
    /// An invite code.
    Invite,
    /// An application approved by an admin.
    Application,
}

/// `[relay]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayConfig {
    /// Serve circuit relay v2 (HOP).
    pub enabled: bool,
    /// Who may reserve.
    pub reservations: Policy,
    /// Who may open circuits.
    pub circuit_sources: Policy,
    /// Other hubs whose vouchers admit circuit sources here (hub.md §4.5).
    #[serde(deserialize_with = "shared::config::comma_list")]
    pub trusted_voucher_issuers: Vec<shared::ids::Ed25519PeerId>,
    /// Reservation slots in total.
    pub max_reservations: usize,
    /// Reservations per peer.
    pub max_reservations_per_peer: usize,
    /// Reservation lifetime.
    #[serde(rename = "reservation_ttl_secs", with = "shared::config::secs")]
    pub reservation_ttl: Duration,
    /// Open circuits in total.
    pub max_circuits: usize,
    /// Open circuits per peer.
    pub max_circuits_per_peer: usize,
    /// A circuit is reset after this long.
    #[serde(rename = "circuit_max_duration_secs", with = "shared::config::secs")]
    pub circuit_max_duration: Duration,
    /// Bytes per direction (goop2 semantics); the library limit is twice this (hub.md §4.2 rule 1).
    pub circuit_max_bytes: u64,
    /// `/relay` hint: delay before cleaning up a direct-connection attempt.
    pub hint_cleanup_delay_sec: u64,
    /// `/relay` hint: deadline for polling.
    pub hint_poll_deadline_sec: u64,
    /// `/relay` hint: connect timeout.
    pub hint_connect_timeout_sec: u64,
    /// `/relay` hint: reservation refresh interval.
    pub hint_refresh_interval_sec: u64,
    /// `/relay` hint: recovery grace.
    pub hint_recovery_grace_sec: u64,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            reservations: Policy::Members,
            circuit_sources: Policy::Members,
            trusted_voucher_issuers: Vec::new(),
            max_reservations: 128,
            max_reservations_per_peer: 4,
            reservation_ttl: Duration::from_secs(3600),
            max_circuits: 64,
            max_circuits_per_peer: 4,
            circuit_max_duration: Duration::from_secs(1800),
            circuit_max_bytes: 16 * 1024 * 1024,
            hint_cleanup_delay_sec: 3,
            hint_poll_deadline_sec: 10,
            hint_connect_timeout_sec: 5,
            hint_refresh_interval_sec: 90,
            hint_recovery_grace_sec: 5,
        }
    }
}

/// `[rendezvous]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RendezvousConfig {
    /// Serve rendezvous (namespace = slug).
    pub enabled: bool,
    /// Shortest registration TTL accepted.
    pub min_ttl_secs: u64,
    /// Longest registration TTL accepted.
    pub max_ttl_secs: u64,
    /// Registrations per peer.
    pub max_registrations_per_peer: usize,
    /// Registrations in total.
    pub max_registrations: usize,
}

impl Default for RendezvousConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            min_ttl_secs: 60,
            max_ttl_secs: 7200,
            max_registrations_per_peer: 4,
            max_registrations: 10_000,
        }
    }
}

/// `[autonat]`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AutonatConfig {
    /// Answer AutoNAT v1 dial-back requests.
    pub enabled: bool,
}

pub use shared::rate_limit::RateLimit;

/// `[rate_limits]`: the buckets implemented so far.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimits {
    /// `POST /publish` per client IP.
    pub publish_ip: RateLimit,
    /// `POST /publish` per PeerId.
    pub publish_peer: RateLimit,
    /// Inbound WebSocket frames per session (excess dropped and counted).
    pub ws_frames: RateLimit,
    /// Relay reservations per PeerId.
    pub relay_reserve_peer: RateLimit,
    /// Relay reservations per IP.
    pub relay_reserve_ip: RateLimit,
    /// Relay circuit sources per PeerId.
    pub relay_circuit_peer: RateLimit,
    /// Relay circuit sources per IP.
    pub relay_circuit_ip: RateLimit,
    /// Join, login, resend and email change per client IP.
    pub email_ip: RateLimit,
    /// Join, login, resend and email change per normalized address.
    pub email_addr: RateLimit,
    /// Token checks and confirmations per client IP.
    pub verify_ip: RateLimit,
    /// Bind-code creation and use per client IP.
    pub bind_ip: RateLimit,
    /// Voucher issuance per PeerId.
    pub voucher_peer: RateLimit,
    /// Failed admin authentication per client IP.
    pub admin_fail_ip: RateLimit,
    /// Checkout and portal sessions per account.
    pub billing_account: RateLimit,
    /// Every route but the health checks and the webhook, per client IP, before any other work.
    pub general_ip: RateLimit,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            publish_ip: RateLimit::new(60, 1.0),
            publish_peer: RateLimit::new(10, 2.0),
            ws_frames: RateLimit::new(20, 1.0),
            relay_reserve_peer: RateLimit::new(30, 120.0),
            relay_reserve_ip: RateLimit::new(60, 60.0),
            relay_circuit_peer: RateLimit::new(30, 120.0),
            relay_circuit_ip: RateLimit::new(60, 60.0),
            email_ip: RateLimit::new(10, 60.0),
            email_addr: RateLimit::new(5, 300.0),
            verify_ip: RateLimit::new(20, 10.0),
            bind_ip: RateLimit::new(10, 60.0),
            voucher_peer: RateLimit::new(10, 360.0),
            admin_fail_ip: RateLimit::new(10, 60.0),
            billing_account: RateLimit::new(5, 60.0),
            general_ip: RateLimit::new(120, 0.05),
        }
    }
}

impl RateLimits {
    pub(crate) fn validate(&self) -> Result<(), LoadConfigError> {
        self.publish_ip.validate("rate_limits.publish_ip")?;
        self.publish_peer.validate("rate_limits.publish_peer")?;
        self.ws_frames.validate("rate_limits.ws_frames")?;
        self.relay_reserve_peer
            .validate("rate_limits.relay_reserve_peer")?;
        self.relay_reserve_ip
            .validate("rate_limits.relay_reserve_ip")?;
        self.relay_circuit_peer
            .validate("rate_limits.relay_circuit_peer")?;
        self.relay_circuit_ip
            .validate("rate_limits.relay_circuit_ip")?;
        self.email_ip.validate("rate_limits.email_ip")?;
        self.email_addr.validate("rate_limits.email_addr")?;
        self.verify_ip.validate("rate_limits.verify_ip")?;
        self.bind_ip.validate("rate_limits.bind_ip")?;
        self.voucher_peer.validate("rate_limits.voucher_peer")?;
        self.admin_fail_ip.validate("rate_limits.admin_fail_ip")?;
        self.billing_account
            .validate("rate_limits.billing_account")?;
        self.general_ip.validate("rate_limits.general_ip")
    }
}

impl RelayConfig {
    pub(crate) fn validate(&self) -> Result<(), LoadConfigError> {
        let positive = [
            ("relay.max_reservations", self.max_reservations as u64),
            (
                "relay.max_reservations_per_peer",
                self.max_reservations_per_peer as u64,
            ),
            ("relay.reservation_ttl_secs", self.reservation_ttl.as_secs()),
            ("relay.max_circuits", self.max_circuits as u64),
            (
                "relay.max_circuits_per_peer",
                self.max_circuits_per_peer as u64,
            ),
            (
                "relay.circuit_max_duration_secs",
                self.circuit_max_duration.as_secs(),
            ),
            ("relay.circuit_max_bytes", self.circuit_max_bytes),
        ];
        match positive.iter().find(|(_, v)| *v == 0) {
            Some((key, _)) => Err(LoadConfigError::rule(key, "must be at least 1")),
            None => Ok(()),
        }
    }
}

impl RendezvousConfig {
    pub(crate) fn validate(&self) -> Result<(), LoadConfigError> {
        // The protocol's implicit TTL is 2 h, so the maximum must admit it (hub.md §4.4).
        if self.min_ttl_secs == 0
            || self.min_ttl_secs > self.max_ttl_secs
            || self.max_ttl_secs < 7200
        {
            return Err(LoadConfigError::rule(
                "rendezvous.max_ttl_secs",
                "need 1 ≤ min_ttl_secs ≤ max_ttl_secs and max_ttl_secs ≥ 7200",
            ));
        }
        if self.max_registrations_per_peer == 0 || self.max_registrations == 0 {
            return Err(LoadConfigError::rule(
                "rendezvous.max_registrations",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

/// Yamux refuses more streams than its connection receive window (1 GiB) holds at 256 KiB each.
const MAX_STREAMS_PER_CONNECTION: u32 = 4096;

impl super::P2pConfig {
    /// The per-IP, memory, stream and handshake limits of `[p2p]` (hub.md §4.1).
    pub(crate) fn validate_limits(&self) -> Result<(), LoadConfigError> {
        let positive = [
            (
                "p2p.max_connections_per_ip",
                u64::from(self.max_connections_per_ip),
            ),
            ("p2p.max_pending_per_ip", u64::from(self.max_pending_per_ip)),
            ("p2p.max_memory_mib", self.max_memory_mib),
            (
                "p2p.max_streams_per_connection",
                u64::from(self.max_streams_per_connection),
            ),
            (
                "p2p.handshake_timeout_secs",
                self.handshake_timeout.as_secs(),
            ),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(LoadConfigError::rule(key, "must be at least 1"));
        }
        if self.max_streams_per_connection > MAX_STREAMS_PER_CONNECTION {
            return Err(LoadConfigError::rule(
                "p2p.max_streams_per_connection",
                format!("at most {MAX_STREAMS_PER_CONNECTION}"),
            ));
        }
        if self.max_memory_mib > u64::MAX >> 20 {
            return Err(LoadConfigError::rule("p2p.max_memory_mib", "too large"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    /// A change to a valid config and the key its error must name.
    type Case = (fn(&mut Config), &'static str);

    #[test]
    fn p2p_limits_of_zero_or_beyond_yamux_are_refused() {
        let cases: [Case; 3] = [
            (
                |c| c.p2p.max_connections_per_ip = 0,
                "p2p.max_connections_per_ip",
            ),
            (|c| c.p2p.max_pending_per_ip = 0, "p2p.max_pending_per_ip"),
            (
                |c| c.p2p.max_streams_per_connection = 4097,
                "p2p.max_streams_per_connection",
            ),
        ];
        for (change, key) in cases {
            let mut config = Config::default();
            change(&mut config);

            let error = config.p2p.validate_limits().unwrap_err();

            assert!(error.to_string().contains(key), "{error}");
        }
        Config::default()
            .p2p
            .validate_limits()
            .expect("defaults are valid");
    }
}

//! `[presence]` and `[admin]` (hub.md §5, §9, §16).

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use shared::config::LoadConfigError;

/// Largest `presence.ws_queue` / `presence.sse_queue`: frames queued for one subscriber.
const MAX_QUEUE: usize = 65_536;

/// `[presence]`: the goop2-compatible presence channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresenceConfig {
    /// Accept unsigned publishes and v1 WebSockets (goop2 peers cannot sign).
    pub allow_unsigned: bool,
    /// Serve `/events` without credentials, in the public class.
    pub public_read: bool,
    /// PeerSig timestamps may differ from the hub clock by at most this.
    #[serde(rename = "signature_window_secs", with = "shared::config::secs")]
    pub signature_window: Duration,
    /// A peer without an open session stays live this long after its last message.
    #[serde(rename = "peer_ttl_secs", with = "shared::config::secs")]
    pub peer_ttl: Duration,
    /// Live peers at most.
    pub max_peers: usize,
    /// Re-send every live peer to legacy subscribers this often (0 disables).
    #[serde(rename = "legacy_refresh_secs", with = "shared::config::secs")]
    pub legacy_refresh: Duration,
    /// How often expired peers are swept.
    #[serde(rename = "sweep_interval_secs", with = "shared::config::secs")]
    pub sweep_interval: Duration,
    /// WebSocket ping interval.
    #[serde(rename = "ws_ping_secs", with = "shared::config::secs")]
    pub ws_ping: Duration,
    /// No frame or pong for this long closes a WebSocket.
    #[serde(rename = "ws_read_timeout_secs", with = "shared::config::secs")]
    pub ws_read_timeout: Duration,
    /// A v2 WebSocket must authenticate within this.
    #[serde(rename = "ws_auth_timeout_secs", with = "shared::config::secs")]
    pub ws_auth_timeout: Duration,
    /// Frames queued per WebSocket before it is closed as a slow consumer.
    pub ws_queue: usize,
    /// WebSockets per client IP.
    pub ws_max_per_ip: usize,
    /// WebSockets in total.
    pub ws_max_total: usize,
    /// WebSockets per client IP still in the auth phase (not yet a session).
    pub ws_max_pending_per_ip: usize,
    /// WebSockets in total still in the auth phase.
    pub ws_max_pending: usize,
    /// SSE keep-alive comment interval.
    #[serde(rename = "sse_keepalive_secs", with = "shared::config::secs")]
    pub sse_keepalive: Duration,
    /// Events queued per SSE stream before it is ended.
    pub sse_queue: usize,
    /// SSE streams per client IP.
    pub sse_max_per_ip: usize,
    /// SSE streams in total.
    pub sse_max_total: usize,
    /// An SSE stream whose queued events make no progress towards the client for this long is
    /// ended (checked at each sweep).
    #[serde(rename = "sse_write_timeout_secs", with = "shared::config::secs")]
    pub sse_write_timeout: Duration,
    /// Send punch hints when a peer's addresses change.
    pub punch_hints: bool,
    /// A pair of peers is hinted at most once per this.
    #[serde(rename = "punch_cooldown_secs", with = "shared::config::secs")]
    pub punch_cooldown: Duration,
    /// Hints per address change at most.
    pub punch_max_per_change: usize,
}

impl Default for PresenceConfig {
    fn default() -> Self {
        Self {
            allow_unsigned: false,
            public_read: false,
            signature_window: Duration::from_secs(60),
            peer_ttl: Duration::from_secs(30),
            max_peers: 10_000,
            legacy_refresh: Duration::from_secs(15),
            sweep_interval: Duration::from_secs(5),
            ws_ping: Duration::from_secs(5),
            ws_read_timeout: Duration::from_secs(15),
            ws_auth_timeout: Duration::from_secs(10),
            ws_queue: 128,
            ws_max_per_ip: 100,
            ws_max_total: 10_000,
            ws_max_pending_per_ip: 8,
            ws_max_pending: 1024,
            sse_keepalive: Duration::from_secs(25),
            sse_queue: 64,
            sse_max_per_ip: 10,
            sse_max_total: 1024,
            sse_write_timeout: Duration::from_secs(10),
            punch_hints: true,
            punch_cooldown: Duration::from_secs(60),
            punch_max_per_change: 64,
        }
    }
}

impl PresenceConfig {
    pub(crate) fn validate(&self) -> Result<(), LoadConfigError> {
        let positive = [
            (
                "presence.signature_window_secs",
                self.signature_window.as_secs(),
            ),
            ("presence.peer_ttl_secs", self.peer_ttl.as_secs()),
            ("presence.max_peers", self.max_peers as u64),
            (
                "presence.sweep_interval_secs",
                self.sweep_interval.as_secs(),
            ),
            ("presence.ws_ping_secs", self.ws_ping.as_secs()),
            (
                "presence.ws_read_timeout_secs",
                self.ws_read_timeout.as_secs(),
            ),
            (
                "presence.ws_auth_timeout_secs",
                self.ws_auth_timeout.as_secs(),
            ),
            ("presence.ws_queue", self.ws_queue as u64),
            ("presence.ws_max_per_ip", self.ws_max_per_ip as u64),
            ("presence.ws_max_total", self.ws_max_total as u64),
            (
                "presence.ws_max_pending_per_ip",
                self.ws_max_pending_per_ip as u64,
            ),
            ("presence.ws_max_pending", self.ws_max_pending as u64),
            ("presence.sse_keepalive_secs", self.sse_keepalive.as_secs()),
            ("presence.sse_queue", self.sse_queue as u64),
            ("presence.sse_max_per_ip", self.sse_max_per_ip as u64),
            ("presence.sse_max_total", self.sse_max_total as u64),
            (
                "presence.sse_write_timeout_secs",
                self.sse_write_timeout.as_secs(),
            ),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(LoadConfigError::rule(key, "must be at least 1"));
        }
        // Each subscriber gets a channel of this capacity; tokio refuses (panics) beyond 2^61.
        let queues = [
            ("presence.ws_queue", self.ws_queue),
            ("presence.sse_queue", self.sse_queue),
        ];
        if let Some((key, _)) = queues.iter().find(|(_, v)| *v > MAX_QUEUE) {
            return Err(LoadConfigError::rule(key, format!("at most {MAX_QUEUE}")));
        }
        if self.ws_read_timeout <= self.ws_ping {
            return Err(LoadConfigError::rule(
                "presence.ws_read_timeout_secs",
                "must exceed ws_ping_secs",
            ));
        }
        Ok(())
    }
}

/// `[admin]`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// The admin bearer token; a secret: only from `HUB_ADMIN__TOKEN` or `token_file`.
    #[serde(default, skip_serializing)]
    pub token: Option<SecretString>,
    /// A file holding the admin token (trimmed); `""` for none.
    pub token_file: PathBuf,
}

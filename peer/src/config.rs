//! `peer.toml` (peer.md §1.3): defaults → file → environment (`PEER_<SECTION>__<KEY>`) → CLI
//! flags. Unknown keys are refused; values that break a rule of the spec refuse to load, naming
//! the key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use libp2p::Multiaddr;
use serde::{Deserialize, Serialize};
use shared::clock::Clock;
use shared::config::{LoadConfigError, Sources};
use shared::telemetry::LogConfig;

use crate::hub_url::HubUrl;

/// Prefix of the peer's configuration variables.
pub const ENV_PREFIX: &str = "PEER_";

/// A peer may take part in at most this many hubs (peer.md §3).
pub const MAX_HUBS: usize = 16;

/// The whole configuration. `data_dir` is not a file key: it comes from `--data-dir` or
/// `$PEER_DATA_DIR` (peer.md §1.2).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct PeerConfig {
    /// The data directory (identity, database, site).
    #[serde(skip)]
    pub data_dir: PathBuf,
    /// `[profile]`.
    pub profile: ProfileConfig,
    /// `[p2p]`.
    pub p2p: P2pConfig,
    /// `[hubs]`.
    pub hubs: HubsConfig,
    /// `[relay]`.
    pub relay: RelayConfig,
    /// `[presence]`.
    pub presence: PresenceConfig,
    /// `[http]`.
    pub http: HttpConfig,
    /// `[groups]`.
    pub groups: GroupsConfig,
    /// `[log]`.
    pub log: LogConfig,
    /// The clock every timestamp comes from (tests move it).
    #[serde(skip)]
    pub clock: Clock,
}

/// `[profile]`: what other peers see.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProfileConfig {
    /// Display name (≤ 64 chars, control chars removed).
    pub label: String,
    /// Email announced in presence.
    pub email: String,
    /// Whether hub copies of our presence carry `email`.
    pub publish_email: bool,
}

impl Default for ProfileConfig {
    fn default() -> Self {
        Self {
            label: "peer".to_owned(),
            email: String::new(),
            publish_email: true,
        }
    }
}

/// `[p2p]`: the libp2p node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct P2pConfig {
    /// Whether the node listens for direct TCP connections. Off, it is reachable only through
    /// hub relays, as a peer behind NAT is.
    pub listen: bool,
    /// TCP port on `0.0.0.0` and `::` (0 = random).
    pub listen_port: u16,
    /// Listen on loopback only (`127.0.0.1`), for tests and single-machine setups.
    pub loopback_only: bool,
    /// Operator-supplied public multiaddrs, published as confirmed.
    #[serde(deserialize_with = "shared::config::comma_list")]
    pub external_addrs: Vec<Multiaddr>,
    /// Established connections, total.
    pub max_connections: u32,
}

impl Default for P2pConfig {
    fn default() -> Self {
        Self {
            listen: true,
            listen_port: 0,
            loopback_only: false,
            external_addrs: Vec::new(),
            max_connections: 256,
        }
    }
}

/// `[hubs]`: the communities joined at start.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HubsConfig {
    /// Hub base URLs (merged with the `_hubs` table).
    #[serde(deserialize_with = "shared::config::comma_list")]
    pub urls: Vec<String>,
    /// Hub URL → token, only for legacy goop2 hubs that require registration.
    pub verification_tokens: BTreeMap<String, String>,
    /// Seconds between membership re-reads while a hub refuses presence or relay (peer.md §3.6).
    pub membership_reread_secs: u64,
    /// Seconds between membership polls while a join waits for an admin's approval (§3.6 step 5).
    pub approval_poll_secs: u64,
    /// Seconds between membership polls while a join waits for a checkout (§3.6 step 6).
    pub payment_poll_secs: u64,
    /// The program that opens a checkout URL (its one argument); empty: the platform opener
    /// (`xdg-open`, `open`, `cmd /c start`).
    pub checkout_opener: String,
}

impl Default for HubsConfig {
    fn default() -> Self {
        Self {
            urls: Vec::new(),
            verification_tokens: BTreeMap::new(),
            membership_reread_secs: 300,
            approval_poll_secs: 30,
            payment_poll_secs: 5,
            checkout_opener: String::new(),
        }
    }
}

/// `[relay]`: circuit relay reservations.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelayConfig {
    /// Reservations held at once, one per hub.
    pub max_reservations: u32,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            max_reservations: 4,
        }
    }
}

/// `[presence]`: heartbeats and expiry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PresenceConfig {
    /// Gossip, legacy hubs and HTTP publishing heartbeat (none over WS v2).
    pub heartbeat_secs: u64,
    /// Lifetime of gossip and legacy-hub sightings.
    pub ttl_secs: u64,
    /// Offline peers are removed after this many minutes (1–60).
    pub offline_grace_mins: u64,
    /// Publish and subscribe `goop.presence.v1`.
    pub gossip: bool,
}

impl Default for PresenceConfig {
    fn default() -> Self {
        Self {
            heartbeat_secs: 5,
            ttl_secs: 20,
            offline_grace_mins: 15,
            gossip: true,
        }
    }
}

impl GroupsConfig {
    /// The revocation poll period.
    pub fn revocation_poll(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.revocation_poll_secs)
    }
}

/// `[http]`: the local API (peer.md §11).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Serve the local API at all (off when the library is embedded).
    pub enabled: bool,
    /// API listener; a loopback address.
    pub addr: SocketAddr,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            addr: SocketAddr::from(([127, 0, 0, 1], 7777)),
        }
    }
}

/// Which group invitations are joined without asking (peer.md §8.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoAccept {
    /// Never: every invitation waits for the user.
    None,
    /// Invitations from favourite peers.
    Favorites,
    /// Every invitation.
    All,
}

/// `[groups]`: invitations, the group timers of peer.md §8.3 and §8.6, and the revocation poll
/// of the vouchers hosts check (§3.7).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GroupsConfig {
    /// `none`, `favorites`, `all`.
    pub auto_accept_invites: AutoAccept,
    /// Seconds between a host's pings to its members.
    pub ping_secs: u64,
    /// A member that heard no ping for this many seconds rejoins.
    pub silence_secs: u64,
    /// Seconds after start before the subscriptions are rejoined.
    pub rejoin_delay_secs: u64,
    /// First rejoin backoff, doubling up to `rejoin_backoff_max_secs`.
    pub rejoin_backoff_secs: u64,
    /// Longest rejoin backoff.
    pub rejoin_backoff_max_secs: u64,
    /// Seconds between reads of a community's voucher revocations (peer.md §3.7).
    pub revocation_poll_secs: u64,
}

impl Default for GroupsConfig {
    fn default() -> Self {
        Self {
            auto_accept_invites: AutoAccept::Favorites,
            ping_secs: 60,
            silence_secs: 150,
            rejoin_delay_secs: 3,
            rejoin_backoff_secs: 5,
            rejoin_backoff_max_secs: 300,
            revocation_poll_secs: 600,
        }
    }
}

impl PeerConfig {
    /// Loads the layers; `data_dir` is set by the caller afterwards.
    ///
    /// # Errors
    /// [`LoadConfigError`] naming the key or file at fault.
    pub fn load(sources: &Sources) -> Result<Self, LoadConfigError> {
        let figment = shared::config::layered::<Self>(ENV_PREFIX, sources)?;
        let config: Self = shared::config::extract(&figment)?;
        config.validate()?;
        Ok(config)
    }

    /// A configuration for tests: data in `data_dir`, libp2p on loopback with a random port,
    /// the local API on a random loopback port.
    pub fn for_tests(data_dir: &std::path::Path) -> Self {
        let mut config = Self {
            data_dir: data_dir.to_owned(),
            ..Self::default()
        };
        config.p2p.loopback_only = true;
        config.http.addr = SocketAddr::from(([127, 0, 0, 1], 0));
        config
    }

    /// The hub URLs of `hubs.urls`, normalised (peer.md §3).
    ///
    /// # Errors
    /// [`LoadConfigError::Rule`] for a URL that is not a hub base URL.
    pub fn hub_urls(&self) -> Result<Vec<HubUrl>, LoadConfigError> {
        let mut urls: Vec<HubUrl> = Vec::with_capacity(self.hubs.urls.len());
        for raw in &self.hubs.urls {
            let url = HubUrl::parse(raw).map_err(|e| LoadConfigError::rule("hubs.urls", e))?;
            if !urls.contains(&url) {
                urls.push(url);
            }
        }
        Ok(urls)
    }

    /// Checks the rules of peer.md §1.3.
    ///
    /// # Errors
    /// [`LoadConfigError::Rule`] naming the key.
    pub fn validate(&self) -> Result<(), LoadConfigError> {
        let label = &self.profile.label;
        if label.chars().count() > 64 || label.chars().any(char::is_control) {
            return Err(LoadConfigError::rule(
                "profile.label",
                "at most 64 characters, no control characters",
            ));
        }
        if self.profile.email.len() > 320 {
            return Err(LoadConfigError::rule("profile.email", "at most 320 bytes"));
        }
        let presence = &self.presence;
        if presence.heartbeat_secs == 0 || presence.heartbeat_secs >= presence.ttl_secs {
            return Err(LoadConfigError::rule(
                "presence.heartbeat_secs",
                "must be at least 1 and below presence.ttl_secs",
            ));
        }
        if !(1..=60).contains(&presence.offline_grace_mins) {
            return Err(LoadConfigError::rule(
                "presence.offline_grace_mins",
                "must be 1–60",
            ));
        }
        if !self.http.addr.ip().is_loopback() {
            return Err(LoadConfigError::rule(
                "http.addr",
                "must be a loopback address (the local API has no authentication)",
            ));
        }
        for (key, value) in [
            (
                "hubs.membership_reread_secs",
                self.hubs.membership_reread_secs,
            ),
            ("hubs.approval_poll_secs", self.hubs.approval_poll_secs),
            ("groups.ping_secs", self.groups.ping_secs),
            ("groups.silence_secs", self.groups.silence_secs),
            ("groups.rejoin_delay_secs", self.groups.rejoin_delay_secs),
            (
                "groups.rejoin_backoff_secs",
                self.groups.rejoin_backoff_secs,
            ),
            (
                "groups.rejoin_backoff_max_secs",
                self.groups.rejoin_backoff_max_secs,
            ),
            ("hubs.payment_poll_secs", self.hubs.payment_poll_secs),
            (
                "groups.revocation_poll_secs",
                self.groups.revocation_poll_secs,
            ),
        ] {
            if !(1..=86_400).contains(&value) {
                return Err(LoadConfigError::rule(key, "must be 1–86400"));
            }
        }
        if self.groups.rejoin_backoff_max_secs < self.groups.rejoin_backoff_secs {
            return Err(LoadConfigError::rule(
                "groups.rejoin_backoff_max_secs",
                "must not be below groups.rejoin_backoff_secs",
            ));
        }
        if self.p2p.max_connections == 0 {
            return Err(LoadConfigError::rule(
                "p2p.max_connections",
                "must be at least 1",
            ));
        }
        let urls = self.hub_urls()?;
        if urls.len() > MAX_HUBS {
            return Err(LoadConfigError::rule(
                "hubs.urls",
                format!("at most {MAX_HUBS} hubs"),
            ));
        }
        for url in self.hubs.verification_tokens.keys() {
            HubUrl::parse(url).map_err(|e| LoadConfigError::rule("hubs.verification_tokens", e))?;
        }
        Ok(())
    }

    /// The verification token configured for a legacy hub.
    pub fn verification_token(&self, hub: &HubUrl) -> Option<&str> {
        self.hubs
            .verification_tokens
            .iter()
            .find(|(url, _)| HubUrl::parse(url).is_ok_and(|u| &u == hub))
            .map(|(_, token)| token.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(toml: Option<&str>, env: &[(&str, &str)]) -> Result<PeerConfig, LoadConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let file = toml.map(|text| {
            let path = dir.path().join("peer.toml");
            std::fs::write(&path, text).unwrap();
            path
        });
        let env = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        PeerConfig::load(&Sources { file, env })
    }

    #[test]
    fn defaults_load_when_nothing_is_configured() {
        let config = load(None, &[]).unwrap();
        assert_eq!(config.profile.label, "peer");
        assert_eq!(config.presence.heartbeat_secs, 5);
        assert_eq!(config.http.addr.port(), 7777);
        assert!(config.p2p.listen);
    }

    #[test]
    fn env_overrides_file_when_both_set_a_key() {
        let config = load(
            Some("[profile]\nlabel = \"file\"\n"),
            &[("PEER_PROFILE__LABEL", "env"), ("PEER_DATA_DIR", "/x")],
        )
        .unwrap();
        assert_eq!(config.profile.label, "env");
    }

    #[test]
    fn env_lists_are_comma_separated() {
        let config = load(
            None,
            &[
                ("PEER_HUBS__URLS", "http://a.example, http://b.example"),
                ("PEER_P2P__EXTERNAL_ADDRS", "/ip4/203.0.113.7/tcp/4001"),
            ],
        )
        .unwrap();
        assert_eq!(config.hubs.urls, ["http://a.example", "http://b.example"]);
        assert_eq!(config.p2p.external_addrs.len(), 1);
    }

    #[test]
    fn unknown_key_is_refused_naming_it() {
        let error = load(Some("[p2p]\nlisten_prot = 1\n"), &[]).unwrap_err();
        assert!(error.to_string().contains("listen_prot"), "{error}");
    }

    #[test]
    fn non_loopback_api_address_is_refused() {
        let error = load(None, &[("PEER_HTTP__ADDR", "0.0.0.0:7777")]).unwrap_err();
        assert!(error.to_string().contains("http.addr"), "{error}");
    }

    #[test]
    fn heartbeat_not_below_ttl_is_refused() {
        let error = load(
            Some("[presence]\nheartbeat_secs = 20\nttl_secs = 20\n"),
            &[],
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("presence.heartbeat_secs"),
            "{error}"
        );
    }

    #[test]
    fn hub_urls_are_normalised_and_deduplicated() {
        let config = load(
            Some("[hubs]\nurls = [\"HTTP://Hub.Example:80/\", \"http://hub.example\"]\n"),
            &[],
        )
        .unwrap();
        let urls = config.hub_urls().unwrap();
        assert_eq!(urls.len(), 1);
        assert_eq!(urls[0].as_str(), "http://hub.example");
    }

    #[test]
    fn hub_url_with_a_path_is_refused() {
        let error = load(
            Some("[hubs]\nurls = [\"https://h.example/community\"]\n"),
            &[],
        )
        .unwrap_err();
        assert!(error.to_string().contains("hubs.urls"), "{error}");
    }

    #[test]
    fn more_than_sixteen_hubs_are_refused() {
        let urls: Vec<String> = (0..17)
            .map(|i| format!("\"http://h{i}.example\""))
            .collect();
        let toml = format!("[hubs]\nurls = [{}]\n", urls.join(", "));
        assert!(load(Some(&toml), &[]).is_err());
    }

    #[test]
    fn group_timers_default_to_the_spec_and_refuse_zero_or_an_inverted_backoff() {
        let config = load(None, &[]).unwrap();
        assert_eq!(config.groups.ping_secs, 60);
        assert_eq!(config.groups.silence_secs, 150);
        assert_eq!(config.groups.auto_accept_invites, AutoAccept::Favorites);
        let all = load(None, &[("PEER_GROUPS__AUTO_ACCEPT_INVITES", "all")]).unwrap();
        assert_eq!(all.groups.auto_accept_invites, AutoAccept::All);
        assert!(load(None, &[("PEER_GROUPS__AUTO_ACCEPT_INVITES", "some")]).is_err());
        let error = load(None, &[("PEER_GROUPS__PING_SECS", "0")]).unwrap_err();
        assert!(error.to_string().contains("groups.ping_secs"), "{error}");
        let error = load(
            Some("[groups]\nrejoin_backoff_secs = 10\nrejoin_backoff_max_secs = 5\n"),
            &[],
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("rejoin_backoff_max_secs"),
            "{error}"
        );
    }

    #[test]
    fn membership_poll_periods_default_to_the_spec_and_refuse_zero() {
        let config = load(None, &[]).unwrap();
        assert_eq!(config.hubs.membership_reread_secs, 300);
        assert_eq!(config.hubs.approval_poll_secs, 30);
        let fast = load(None, &[("PEER_HUBS__MEMBERSHIP_REREAD_SECS", "2")]).unwrap();
        assert_eq!(fast.hubs.membership_reread_secs, 2);
        assert_eq!(config.groups.revocation_poll_secs, 600);
        assert_eq!(config.hubs.payment_poll_secs, 5);
        let error = load(None, &[("PEER_GROUPS__REVOCATION_POLL_SECS", "0")]).unwrap_err();
        assert!(
            error.to_string().contains("revocation_poll_secs"),
            "{error}"
        );
        for key in ["MEMBERSHIP_REREAD_SECS", "APPROVAL_POLL_SECS"] {
            let error = load(None, &[(&format!("PEER_HUBS__{key}"), "0")]).unwrap_err();
            assert!(error.to_string().contains(&key.to_lowercase()), "{error}");
        }
    }
}

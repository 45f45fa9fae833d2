//! The hub's configuration (hub.md §16): typed sections, layered by [`shared::config`], checked
//! once at load so the rest of the hub works with valid values only.

mod billing;
mod email;
mod membership;
mod network;
mod presence;
#[cfg(test)]
mod proptests;
mod superhubs;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;
use serde::{Deserialize, Serialize};
use shared::config::{HttpConfig, LoadConfigError, MetricsConfig, Overrides, Sources, comma_list};
use shared::db::DatabaseConfig;
use shared::ids::Slug;
use shared::telemetry::LogConfig;

pub use billing::{BillingConfig, Plan, PlanInterval, PlanKind};
pub use email::{EmailConfig, MailTransportKind};
pub use membership::{Faults, MembershipConfig, VouchersConfig};
pub use network::{
    AutonatConfig, JoinMode, Policy, RateLimit, RateLimits, RelayConfig, RendezvousConfig,
};
pub use presence::{AdminConfig, PresenceConfig};
pub use superhubs::SuperhubsConfig;

/// Environment prefix of every key.
pub const ENV_PREFIX: &str = "HUB_";
/// The environment variable naming the config file, like `--config`.
pub const CONFIG_VAR: &str = "HUB_CONFIG";

/// The whole hub configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[hub]`: identity and community description.
    pub hub: HubSection,
    /// `[http]`: the HTTP listener.
    pub http: HttpConfig,
    /// `[p2p]`: libp2p listeners and limits.
    pub p2p: P2pConfig,
    /// `[relay]`: circuit relay v2 limits and admission.
    pub relay: RelayConfig,
    /// `[rendezvous]`.
    pub rendezvous: RendezvousConfig,
    /// `[autonat]`.
    pub autonat: AutonatConfig,
    /// `[presence]`.
    pub presence: PresenceConfig,
    /// `[membership]`.
    pub membership: MembershipConfig,
    /// `[vouchers]`.
    pub vouchers: VouchersConfig,
    /// `[billing]`.
    pub billing: BillingConfig,
    /// `[[plans]]` (file only).
    pub plans: Vec<Plan>,
    /// `[email]`.
    pub email: EmailConfig,
    /// `[admin]`.
    pub admin: AdminConfig,
    /// `[superhubs]`.
    pub superhubs: SuperhubsConfig,
    /// `[rate_limits]`.
    pub rate_limits: RateLimits,
    /// `[database]`.
    pub database: DatabaseConfig,
    /// `[metrics]`.
    pub metrics: MetricsConfig,
    /// `[log]`.
    pub log: LogConfig,
    /// The wall clock of membership and billing: the system clock, which tests move forward to
    /// reach grace and comp ends without waiting. Not a config key.
    #[serde(skip)]
    pub clock: shared::clock::Clock,
}

/// `[hub]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubSection {
    /// Community name, 1–64 characters.
    pub name: String,
    /// Community slug; also the rendezvous namespace.
    pub slug: Slug,
    /// Up to 1000 characters.
    pub description: String,
    /// `""` or an http(s) URL of at most 512 bytes.
    pub icon_url: String,
    /// Up to 10 tags `^[a-z0-9][a-z0-9-]{0,31}$`.
    #[serde(deserialize_with = "comma_list")]
    pub tags: Vec<String>,
    /// Up to 5 BCP 47 tags of at most 16 characters.
    #[serde(deserialize_with = "comma_list")]
    pub languages: Vec<String>,
    /// `""` or a lower-case ISO 3166-1 alpha-2 code.
    pub region: String,
    /// `""` or an email address.
    pub contact_email: String,
    /// Data directory; made absolute at load.
    pub data_dir: PathBuf,
    /// Key file, relative to the data dir.
    pub key_file: PathBuf,
    /// Publish `member_count` in the info document.
    pub publish_member_count: bool,
}

/// `[p2p]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct P2pConfig {
    /// libp2p listen addresses.
    #[serde(deserialize_with = "comma_list")]
    pub listen_addrs: Vec<Multiaddr>,
    /// The only public addresses (hub.md §4.1).
    #[serde(deserialize_with = "comma_list")]
    pub external_addrs: Vec<Multiaddr>,
    /// Also listen on QUIC (cargo feature `quic`).
    pub quic: bool,
    /// Established connections in total.
    pub max_connections: u32,
    /// Established connections per peer.
    pub max_connections_per_peer: u32,
    /// Pending inbound connections.
    pub max_pending_incoming: u32,
    /// Established inbound connections per client IP (IPv6: per /64).
    pub max_connections_per_ip: u32,
    /// Inbound connections still in their handshake per client IP (IPv6: per /64).
    pub max_pending_per_ip: u32,
    /// New connections are refused while the process uses more memory than this.
    pub max_memory_mib: u64,
    /// Concurrent Yamux streams per connection; a peer that opens more loses the connection.
    pub max_streams_per_connection: u32,
    /// An inbound connection must finish its Noise and Yamux handshake within this.
    #[serde(rename = "handshake_timeout_secs", with = "shared::config::secs")]
    pub handshake_timeout: Duration,
    /// Idle connection timeout.
    #[serde(rename = "idle_timeout_secs", with = "shared::config::secs")]
    pub idle_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            hub: HubSection {
                name: "Goop² community".to_owned(),
                slug: Slug::parse("community").expect("invariant: valid default slug"),
                description: String::new(),
                icon_url: String::new(),
                tags: Vec::new(),
                languages: Vec::new(),
                region: String::new(),
                contact_email: String::new(),
                data_dir: PathBuf::from("data/hub"),
                key_file: PathBuf::from("hub.key"),
                publish_member_count: true,
            },
            http: HttpConfig::on_port(8787),
            p2p: P2pConfig {
                listen_addrs: vec!["/ip4/0.0.0.0/tcp/4001".parse().expect("invariant: valid")],
                external_addrs: Vec::new(),
                quic: false,
                max_connections: 4096,
                max_connections_per_peer: 8,
                max_pending_incoming: 256,
                max_connections_per_ip: 32,
                max_pending_per_ip: 8,
                max_memory_mib: 1024,
                max_streams_per_connection: 256,
                handshake_timeout: Duration::from_secs(10),
                idle_timeout: Duration::from_secs(60),
            },
            relay: RelayConfig::default(),
            rendezvous: RendezvousConfig::default(),
            autonat: AutonatConfig { enabled: true },
            presence: PresenceConfig::default(),
            membership: MembershipConfig::default(),
            vouchers: VouchersConfig::default(),
            billing: BillingConfig::default(),
            plans: Plan::defaults(),
            email: EmailConfig::default(),
            admin: AdminConfig::default(),
            superhubs: SuperhubsConfig::default(),
            rate_limits: RateLimits::default(),
            database: DatabaseConfig::with_url("sqlite://hub.db?mode=rwc"),
            metrics: MetricsConfig::on_loopback(9187),
            log: LogConfig::default(),
            clock: shared::clock::Clock::system(),
        }
    }
}

impl Config {
    /// Loads defaults → TOML file → `HUB_*` environment → CLI overrides, then checks every rule.
    /// Relative paths resolve: `data_dir` against the config file's directory (or the working
    /// directory without a file), the key file and SQLite database against `data_dir`.
    ///
    /// # Errors
    /// [`LoadConfigError`] naming the offending key or file.
    pub fn load(sources: &Sources, overrides: &Overrides) -> Result<Self, LoadConfigError> {
        let figment = shared::config::layered::<Self>(ENV_PREFIX, sources)?;
        shared::config::reject_secrets_in_file(
            &figment,
            &[
                "admin.token",
                "email.smtp_url",
                "billing.secret_key",
                "billing.webhook_secret",
            ],
        )?;
        let mut config: Self = shared::config::extract(&figment)?;
        config.email.transport_explicit = figment
            .find_metadata("email.transport")
            .is_some_and(|meta| meta.name != std::any::type_name::<Self>());
        overrides.apply(
            sources,
            &mut config.hub.data_dir,
            &mut config.http,
            &mut config.log,
        )?;
        if config.admin.token.is_none() && !config.admin.token_file.as_os_str().is_empty() {
            let path = shared::config::resolve(&config.hub.data_dir, &config.admin.token_file);
            config.admin.token = Some(shared::config::read_secret_file(&path)?.into());
        }
        if config.email.smtp_url.is_none() && !config.email.smtp_url_file.as_os_str().is_empty() {
            let path = shared::config::resolve(&config.hub.data_dir, &config.email.smtp_url_file);
            config.email.smtp_url = Some(shared::config::read_secret_file(&path)?.into());
        }
        config.billing.read_secret_files(&config.hub.data_dir)?;
        config.database.read_url_file(&config.hub.data_dir)?;
        config.superhubs.normalize();
        config.validate()?;
        Ok(config)
    }

    /// A config for tests: every listener on 127.0.0.1 port 0, the given data dir and database.
    pub fn for_tests(data_dir: &Path, database_url: &str) -> Self {
        let mut config = Self::default();
        config.hub.data_dir = data_dir.to_owned();
        config.http.bind = SocketAddr::from(([127, 0, 0, 1], 0));
        config.p2p.listen_addrs = vec!["/ip4/127.0.0.1/tcp/0".parse().expect("invariant: valid")];
        config.metrics.bind = SocketAddr::from(([127, 0, 0, 1], 0));
        config.database = DatabaseConfig::with_url(database_url);
        config.database.connect_timeout = Duration::from_secs(5);
        config
    }

    /// The key file, absolute.
    pub fn key_path(&self) -> PathBuf {
        shared::config::resolve(&self.hub.data_dir, &self.hub.key_file)
    }

    fn validate(&self) -> Result<(), LoadConfigError> {
        let hub = &self.hub;
        // The rules a super hub applies to the hub record (hub.md §11.3), checked here so the
        // hub never signs a record that would be refused.
        shared::record::check_profile(&shared::record::Profile {
            name: &hub.name,
            description: &hub.description,
            icon_url: &hub.icon_url,
            tags: &hub.tags,
            languages: &hub.languages,
            region: &hub.region,
            contact_email: &hub.contact_email,
        })
        .map_err(|e| LoadConfigError::rule(&format!("hub.{}", e.field), e.rule))?;
        self.http.validate()?;
        self.database.validate()?;
        self.relay.validate()?;
        self.rendezvous.validate()?;
        self.rate_limits.validate()?;
        self.presence.validate()?;
        self.email.validate()?;
        self.membership.validate()?;
        self.vouchers.validate()?;
        self.billing
            .validate(&self.plans, &self.http.external_url)?;
        self.superhubs
            .validate(&self.http.external_url, self.plans.len())?;
        if let Some(token) = &self.admin.token {
            use secrecy::ExposeSecret as _;
            if token.expose_secret().chars().count() < 32 {
                return Err(LoadConfigError::rule(
                    "admin.token",
                    "at least 32 characters (e.g. `openssl rand -base64 32`)",
                ));
            }
        }
        if self.p2p.listen_addrs.is_empty() {
            return Err(LoadConfigError::rule(
                "p2p.listen_addrs",
                "at least one address",
            ));
        }
        if self.p2p.external_addrs.len() > 8 {
            return Err(LoadConfigError::rule(
                "p2p.external_addrs",
                "at most 8 addresses",
            ));
        }
        if self.p2p.quic && !cfg!(feature = "quic") {
            return Err(LoadConfigError::rule(
                "p2p.quic",
                "this build lacks the `quic` cargo feature",
            ));
        }
        if self.p2p.max_connections == 0 {
            return Err(LoadConfigError::rule(
                "p2p.max_connections",
                "must be at least 1",
            ));
        }
        self.p2p.validate_limits()?;
        self.email.check_exposure(&self.http.external_url)
    }

    /// Checks `p2p.external_addrs` against the hub id and strips a trailing `/p2p/<id>`.
    ///
    /// # Errors
    /// [`LoadConfigError::Rule`] when an address names another peer.
    pub fn external_addrs_for(
        &self,
        id: &libp2p::PeerId,
    ) -> Result<Vec<Multiaddr>, LoadConfigError> {
        self.p2p
            .external_addrs
            .iter()
            .map(|addr| {
                let mut addr = addr.clone();
                match addr.iter().last() {
                    Some(Protocol::P2p(peer)) if peer == *id => {
                        addr.pop();
                        Ok(addr)
                    }
                    Some(Protocol::P2p(_)) => Err(LoadConfigError::rule(
                        "p2p.external_addrs",
                        format!("{addr} names another peer than this hub ({id})"),
                    )),
                    _ => Ok(addr),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(toml: Option<&str>, env: &[(&str, &str)]) -> Result<Config, LoadConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let file = toml.map(|text| {
            let path = dir.path().join("hub.toml");
            std::fs::write(&path, text).unwrap();
            path
        });
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load(&Sources { file, env }, &Overrides::default())
    }

    #[test]
    fn defaults_load_when_nothing_is_configured() {
        let config = load(None, &[]).unwrap();

        assert_eq!(config.http.bind.port(), 8787);
        assert_eq!(config.hub.slug.as_str(), "community");
        assert!(config.hub.data_dir.is_absolute());
        assert!(config.hub.data_dir.ends_with("data/hub"));
    }

    #[test]
    fn example_config_loads_to_defaults() {
        let example = include_str!("../../deploy/hub.example.toml");

        let config = load(Some(example), &[]).unwrap();

        assert_eq!(config.hub.name, Config::default().hub.name);
    }

    #[test]
    fn durations_read_whole_seconds_when_keys_end_in_secs() {
        let config = load(
            Some("[presence]\npeer_ttl_secs = 7\n[vouchers]\nttl_secs = 3600\n"),
            &[("HUB_EMAIL__RETRY_BASE_SECS", "2")],
        )
        .unwrap();
        let zero = load(Some("[membership]\nbind_code_ttl_secs = 0\n"), &[]).unwrap_err();

        assert_eq!(config.presence.peer_ttl, Duration::from_secs(7));
        assert_eq!(config.vouchers.ttl, Duration::from_secs(3600));
        assert_eq!(config.email.retry_base, Duration::from_secs(2));
        assert_eq!(config.p2p.idle_timeout, Duration::from_secs(60));
        assert!(
            zero.to_string().contains("membership.bind_code_ttl_secs"),
            "{zero}"
        );
    }

    #[test]
    fn data_dir_resolves_against_config_file_when_relative() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.toml");
        std::fs::write(&path, "[hub]\ndata_dir = \"state\"\n").unwrap();

        let config = Config::load(
            &Sources {
                file: Some(path),
                env: vec![],
            },
            &Overrides::default(),
        )
        .unwrap();

        assert_eq!(config.hub.data_dir, dir.path().join("state"));
        assert_eq!(config.key_path(), dir.path().join("state/hub.key"));
    }

    #[test]
    fn admin_token_is_refused_in_file_and_read_from_token_file() {
        use secrecy::ExposeSecret as _;
        const TOKEN: &str = "file-token-0123456789abcdefghijklmnop";
        const ENV_TOKEN: &str = "env-token-0123456789abcdefghijklmnop";
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("admin.token"), format!("{TOKEN}\n")).unwrap();
        let toml = format!(
            "[hub]\ndata_dir = \"{}\"\n[admin]\ntoken_file = \"admin.token\"\n",
            dir.path().display()
        );

        let in_file = load(Some("[admin]\ntoken = \"s3cret\"\n"), &[]).unwrap_err();
        let from_file = load(Some(&toml), &[]).unwrap();
        let from_env = load(None, &[("HUB_ADMIN__TOKEN", ENV_TOKEN)]).unwrap();
        let short = load(None, &[("HUB_ADMIN__TOKEN", "short")]).unwrap_err();

        assert!(in_file.to_string().contains("admin.token"), "{in_file}");
        assert_eq!(from_file.admin.token.unwrap().expose_secret(), TOKEN);
        assert_eq!(from_env.admin.token.unwrap().expose_secret(), ENV_TOKEN);
        assert!(short.to_string().contains("admin.token"), "{short}");
    }

    #[test]
    fn smtp_transport_needs_a_url_that_is_not_in_the_file() {
        let without_url = load(Some("[email]\ntransport = \"smtp\"\n"), &[]).unwrap_err();
        let in_file = load(Some("[email]\nsmtp_url = \"smtp://u:p@mail\"\n"), &[]).unwrap_err();
        let from_env = load(
            Some("[email]\ntransport = \"smtp\"\n"),
            &[("HUB_EMAIL__SMTP_URL", "smtps://u:p@mail.example.org:465")],
        );
        let bad_from = load(Some("[email]\nfrom = \"not a mailbox\"\n"), &[]).unwrap_err();

        assert!(
            without_url.to_string().contains("email.smtp_url"),
            "{without_url}"
        );
        assert!(in_file.to_string().contains("email.smtp_url"), "{in_file}");
        assert!(from_env.is_ok());
        assert!(bad_from.to_string().contains("email.from"), "{bad_from}");
    }

    #[test]
    fn cli_overrides_env_when_both_set_bind() {
        let overrides = Overrides {
            http_bind: Some("127.0.0.1:1".parse().unwrap()),
            ..Overrides::default()
        };
        let env = vec![("HUB_HTTP__BIND".to_owned(), "127.0.0.1:2".to_owned())];

        let config = Config::load(&Sources { file: None, env }, &overrides).unwrap();

        assert_eq!(config.http.bind.port(), 1);
    }

    #[test]
    fn env_list_of_multiaddrs_parses_when_comma_separated() {
        let config = load(
            None,
            &[(
                "HUB_P2P__LISTEN_ADDRS",
                "/ip4/127.0.0.1/tcp/1,/ip4/127.0.0.1/tcp/2",
            )],
        )
        .unwrap();

        assert_eq!(config.p2p.listen_addrs.len(), 2);
    }

    #[test]
    fn bad_values_are_refused_naming_their_key() {
        let cases: &[(&str, &str)] = &[
            ("[hub]\nslug = \"Bad Slug\"\n", "slug"),
            ("[hub]\nname = \"\"\n", "hub.name"),
            ("[hub]\nregion = \"NL\"\n", "hub.region"),
            ("[hub]\ntags = [\"-x\"]\n", "hub.tags"),
            (
                "[p2p]\nlisten_addrs = [\"not-a-multiaddr\"]\n",
                "listen_addrs",
            ),
            ("[database]\nurl = 5\n", "database.url"),
            ("[database]\nurl = \"mysql://x/y\"\n", "database.url"),
            ("[http]\nexternal_url = \"ftp://x\"\n", "http.external_url"),
            ("[nonsense]\nx = 1\n", "nonsense"),
        ];
        for (toml, key) in cases {
            let err = load(Some(toml), &[]).unwrap_err().to_string();
            assert!(
                err.contains(key),
                "{toml:?} gave {err:?}, expected it to name {key}"
            );
        }
    }

    #[test]
    fn external_addrs_refuse_another_peer_id_when_suffixed() {
        let mut config = Config::default();
        let me = libp2p::identity::Keypair::generate_ed25519()
            .public()
            .to_peer_id();
        let other = libp2p::identity::Keypair::generate_ed25519()
            .public()
            .to_peer_id();
        config.p2p.external_addrs = vec![
            format!("/dns4/hub.example.org/tcp/4001/p2p/{me}")
                .parse()
                .unwrap(),
        ];

        let mine = config.external_addrs_for(&me).unwrap();
        let theirs = config.external_addrs_for(&other);

        assert_eq!(mine[0].to_string(), "/dns4/hub.example.org/tcp/4001");
        assert!(theirs.is_err());
    }

    const PAID: &str = r#"
[http]
external_url = "https://hub.example.org"
[email]
transport = "log"
[billing]
enabled = true
[[plans]]
id = "yearly"
kind = "subscription"
name = "Member"
amount = 999
currency = "usd"
interval = "year"
stripe_price_id = "price_123"
[[plans]]
id = "tip"
kind = "donation"
name = "Tip jar"
currency = "usd"
"#;
    const SECRETS: [(&str, &str); 2] = [
        ("HUB_BILLING__SECRET_KEY", "sk_test_1"),
        ("HUB_BILLING__WEBHOOK_SECRET", " whsec_new , whsec_old ,"),
    ];

    #[test]
    fn plans_default_to_one_free_plan() {
        let config = load(None, &[]).unwrap();

        assert_eq!(config.plans.len(), 1);
        assert_eq!(config.plans[0].kind, PlanKind::Free);
        assert!(!config.billing.enabled);
    }

    #[test]
    fn paid_plans_load_when_billing_has_its_url_and_secrets() {
        let config = load(Some(PAID), &SECRETS).unwrap();

        let ids: Vec<&str> = config.plans.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["yearly", "tip"]);
        assert_eq!(
            config.plans[0].stripe_price_id.as_deref(),
            Some("price_123")
        );
        assert!(config.plans[1].is_custom_donation());
        assert_eq!(config.plans[1].amount_range(), 100..=100_000);
        assert_eq!(config.billing.webhook_secrets(), ["whsec_new", "whsec_old"]);
        assert_eq!(config.billing.grace(), Duration::from_secs(7 * 86_400));
    }

    #[test]
    fn billing_secrets_are_read_from_their_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sk"), "sk_test_file\n").unwrap();
        std::fs::write(dir.path().join("wh"), "whsec_file\n").unwrap();
        let env = [
            ("HUB_HUB__DATA_DIR", dir.path().to_str().unwrap()),
            ("HUB_BILLING__SECRET_KEY_FILE", "sk"),
            ("HUB_BILLING__WEBHOOK_SECRET_FILE", "wh"),
        ];

        let config = load(Some(PAID), &env).unwrap();

        use secrecy::ExposeSecret as _;
        let key = config.billing.secret_key.as_ref().unwrap();
        assert_eq!(key.expose_secret(), "sk_test_file");
        assert_eq!(config.billing.webhook_secrets(), ["whsec_file"]);
    }

    #[test]
    fn billing_refuses_to_load_when_incomplete_naming_the_key() {
        let without_url = PAID.replace("external_url = \"https://hub.example.org\"", "");
        let off = PAID.replace("enabled = true", "enabled = false");
        let secret_in_file = format!("{PAID}\n[billing]\nsecret_key = \"sk_live_x\"\n")
            .replace("[billing]\nenabled = true\n", "");
        let cases = [
            (without_url.as_str(), &SECRETS[..], "http.external_url"),
            (PAID, &SECRETS[1..], "billing.secret_key"),
            (PAID, &SECRETS[..1], "billing.webhook_secret"),
            (off.as_str(), &SECRETS[..], "plans"),
            (secret_in_file.as_str(), &SECRETS[1..], "billing.secret_key"),
        ];
        for (toml, env, key) in cases {
            let error = load(Some(toml), env).unwrap_err();
            assert!(error.to_string().contains(key), "{key}: {error}");
        }
    }

    #[test]
    fn bad_plans_are_refused_naming_the_plan() {
        let plan = |body: &str| format!("[[plans]]\n{body}\n");
        let cases = [
            plan("id = \"Bad Id\"\nkind = \"free\"\nname = \"x\""),
            plan("id = \"a\"\nkind = \"free\"\nname = \"\""),
            format!(
                "{}{}",
                plan("id = \"a\"\nkind = \"free\"\nname = \"x\""),
                plan("id = \"a\"\nkind = \"free\"\nname = \"y\"")
            ),
            plan("id = \"a\"\nkind = \"free\"\nname = \"x\"\namount = 5"),
            plan("id = \"a\"\nkind = \"donation\"\nname = \"x\""),
            plan("id = \"a\"\nkind = \"donation\"\nname = \"x\"\ncurrency = \"USD\""),
            plan(
                "id = \"a\"\nkind = \"donation\"\nname = \"x\"\ncurrency = \"usd\"\nmin_amount = 500\nmax_amount = 100",
            ),
            plan("id = \"a\"\nkind = \"donation\"\nname = \"x\"\ncurrency = \"usd\"\namount = 0"),
            plan(
                "id = \"a\"\nkind = \"donation\"\nname = \"x\"\ncurrency = \"usd\"\ninterval = \"month\"",
            ),
            plan("id = \"a\"\nkind = \"gift\"\nname = \"x\""),
        ];
        for toml in cases {
            let error = load(Some(&toml), &[]).unwrap_err();
            assert!(error.to_string().contains("plans"), "{toml}: {error}");
        }
        let no_price = PAID.replace("stripe_price_id = \"price_123\"", "");
        let error = load(Some(&no_price), &SECRETS).unwrap_err();
        assert!(error.to_string().contains("yearly"), "{error}");
    }
}

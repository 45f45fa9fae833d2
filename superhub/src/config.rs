//! The super hub's configuration (superhub.md §13): typed sections layered by
//! [`shared::config`], checked once at load.

mod directory;
mod federation;
#[cfg(test)]
mod proptests;
mod rate_limits;

pub use directory::{DirectoryConfig, ProbeConfig};
pub use federation::{FederationConfig, FederationPeer};
pub use rate_limits::RateLimits;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use shared::config::{
    HttpConfig, LoadConfigError, MetricsConfig, Overrides, Sources, looks_like_email,
};
use shared::db::DatabaseConfig;
use shared::telemetry::LogConfig;

/// Environment prefix of every key.
pub const ENV_PREFIX: &str = "SUPERHUB_";
/// The environment variable naming the config file, like `--config`.
pub const CONFIG_VAR: &str = "SUPERHUB_CONFIG";

/// The whole super hub configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[superhub]`: identity and description.
    pub superhub: SuperhubSection,
    /// `[http]`.
    pub http: HttpConfig,
    /// `[database]`.
    pub database: DatabaseConfig,
    /// `[metrics]`.
    pub metrics: MetricsConfig,
    /// `[log]`.
    pub log: LogConfig,
    /// `[directory]`: registration policy and retention.
    pub directory: DirectoryConfig,
    /// `[probe]`.
    pub probe: ProbeConfig,
    /// `[federation]`.
    pub federation: FederationConfig,
    /// `[rate_limits]`.
    pub rate_limits: RateLimits,
    /// The directory's wall clock: the system clock, which tests move forward to reach expiry
    /// and backoff deadlines without waiting.
    #[serde(skip)]
    pub clock: shared::clock::Clock,
}

/// `[superhub]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuperhubSection {
    /// Directory name, 1–64 characters.
    pub name: String,
    /// Up to 1000 characters.
    pub description: String,
    /// `""` or an email address.
    pub contact_email: String,
    /// Data directory; made absolute at load.
    pub data_dir: PathBuf,
    /// Key file, relative to the data dir.
    pub key_file: PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            superhub: SuperhubSection {
                name: "Goop² directory".to_owned(),
                description: String::new(),
                contact_email: String::new(),
                data_dir: PathBuf::from("data/superhub"),
                key_file: PathBuf::from("superhub.key"),
            },
            http: HttpConfig::on_port(8788),
            database: DatabaseConfig::with_url("sqlite://superhub.db?mode=rwc"),
            metrics: MetricsConfig::on_loopback(9188),
            log: LogConfig::default(),
            directory: DirectoryConfig::default(),
            probe: ProbeConfig::default(),
            federation: FederationConfig::default(),
            rate_limits: RateLimits::default(),
            clock: shared::clock::Clock::system(),
        }
    }
}

impl Config {
    /// Loads defaults → TOML file → `SUPERHUB_*` environment → CLI overrides, then checks every
    /// rule. `data_dir` resolves against the config file's directory (or the working directory).
    ///
    /// # Errors
    /// [`LoadConfigError`] naming the offending key or file.
    pub fn load(sources: &Sources, overrides: &Overrides) -> Result<Self, LoadConfigError> {
        let figment = shared::config::layered::<Self>(ENV_PREFIX, sources)?;
        let mut config: Self = shared::config::extract(&figment)?;
        overrides.apply(
            sources,
            &mut config.superhub.data_dir,
            &mut config.http,
            &mut config.log,
        )?;
        config.database.read_url_file(&config.superhub.data_dir)?;
        config.validate()?;
        Ok(config)
    }

    /// A config for tests: listeners on 127.0.0.1 port 0, the given data dir and database.
    pub fn for_tests(data_dir: &Path, database_url: &str) -> Self {
        let mut config = Self::default();
        config.superhub.data_dir = data_dir.to_owned();
        config.http.bind = SocketAddr::from(([127, 0, 0, 1], 0));
        config.metrics.bind = SocketAddr::from(([127, 0, 0, 1], 0));
        config.database = DatabaseConfig::with_url(database_url);
        config.database.connect_timeout = std::time::Duration::from_secs(5);
        config
    }

    /// The key file, absolute.
    pub fn key_path(&self) -> PathBuf {
        shared::config::resolve(&self.superhub.data_dir, &self.superhub.key_file)
    }

    fn validate(&self) -> Result<(), LoadConfigError> {
        let section = &self.superhub;
        if !(1..=64).contains(&section.name.chars().count()) {
            return Err(LoadConfigError::rule(
                "superhub.name",
                "must be 1–64 characters",
            ));
        }
        if section.description.chars().count() > 1000 {
            return Err(LoadConfigError::rule(
                "superhub.description",
                "at most 1000 characters",
            ));
        }
        if !section.contact_email.is_empty() && !looks_like_email(&section.contact_email) {
            return Err(LoadConfigError::rule(
                "superhub.contact_email",
                "\"\" or an email address",
            ));
        }
        self.http.validate()?;
        self.database.validate()?;
        self.directory.validate()?;
        self.probe.validate()?;
        self.federation.validate()?;
        self.rate_limits.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(toml: Option<&str>, env: &[(&str, &str)]) -> Result<Config, LoadConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let file = toml.map(|text| {
            let path = dir.path().join("superhub.toml");
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

        assert_eq!(config.http.bind.port(), 8788);
        assert_eq!(config.metrics.bind.port(), 9188);
        assert!(config.superhub.data_dir.ends_with("data/superhub"));
    }

    #[test]
    fn example_config_loads_to_defaults() {
        let config = load(Some(crate::init::EXAMPLE_CONFIG), &[]).unwrap();

        assert_eq!(config.superhub.name, "Goop² directory");
    }

    #[test]
    fn env_overrides_file_when_both_set_a_key() {
        let config = load(
            Some("[superhub]\nname = \"From file\"\n"),
            &[("SUPERHUB_SUPERHUB__NAME", "From env")],
        )
        .unwrap();

        assert_eq!(config.superhub.name, "From env");
    }

    #[test]
    fn bad_values_are_refused_naming_their_key() {
        let cases: &[(&str, &str)] = &[
            ("[superhub]\nname = \"\"\n", "superhub.name"),
            (
                "[superhub]\ncontact_email = \"nope\"\n",
                "superhub.contact_email",
            ),
            ("[http]\nbind = \"nowhere\"\n", "http.bind"),
            ("[database]\nwat = 1\n", "wat"),
            ("[probe]\ntick_millis = 5\n", "probe.tick_millis"),
        ];
        for (toml, key) in cases {
            let err = load(Some(toml), &[]).unwrap_err().to_string();
            assert!(
                err.contains(key),
                "{toml:?} gave {err:?}, expected it to name {key}"
            );
        }
    }
}

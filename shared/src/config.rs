//! Layered configuration: code defaults → TOML file → environment (`<PREFIX><SECTION>__<KEY>`) →
//! CLI flags (applied by each binary). Unknown keys are refused by the servers' `deny_unknown_fields`
//! structs; secrets may come only from the environment or a `*_file` key.

pub mod secs;

use std::fmt::Display;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use figment::providers::{Format as _, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

/// Why the configuration could not be loaded. The message names the key or file at fault.
#[derive(Debug, thiserror::Error)]
pub enum LoadConfigError {
    /// The config file given on the command line (or `*_CONFIG`) does not exist or is unreadable.
    #[error("config file {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A value is missing, unknown, or of the wrong type; figment's message names key and source.
    #[error("config: {0}")]
    Invalid(String),
    /// A secret was written into the config file.
    #[error(
        "config: `{key}` is a secret and must come from the environment or `{key}_file`, not the config file"
    )]
    SecretInFile {
        /// The dotted key.
        key: String,
    },
    /// A value parsed but breaks a rule of the spec.
    #[error("config: `{key}`: {reason}")]
    Rule {
        /// The dotted key.
        key: String,
        /// The rule that was broken.
        reason: String,
    },
}

impl LoadConfigError {
    /// Shorthand for [`LoadConfigError::Rule`].
    pub fn rule(key: &str, reason: impl Display) -> Self {
        Self::Rule {
            key: key.to_owned(),
            reason: reason.to_string(),
        }
    }
}

impl From<figment::Error> for LoadConfigError {
    fn from(error: figment::Error) -> Self {
        // figment's Display of a multi-error lists every failure; the first names the key and source.
        let first = error
            .into_iter()
            .next()
            .map(|e| e.to_string())
            .unwrap_or_default();
        Self::Invalid(first)
    }
}

/// `[http]` of every server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Listen address.
    pub bind: SocketAddr,
    /// Public base URL; empty means `http://<bind>` with an unspecified IP replaced by 127.0.0.1.
    pub external_url: String,
    /// Proxies whose `X-Forwarded-For` is believed (CIDRs).
    #[serde(deserialize_with = "comma_list")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Concurrent HTTP requests in flight (not TCP connections).
    pub max_connections: usize,
    /// Time a client has to send a request's header; then the connection is closed.
    #[serde(rename = "header_read_timeout_secs", with = "secs")]
    pub header_read_timeout: std::time::Duration,
    /// Largest request header in bytes (≥ 8192); beyond it 431.
    pub max_header_bytes: usize,
    /// Time a client has to send a request's body, counted from the request's start; then 408.
    #[serde(rename = "body_read_timeout_secs", with = "secs")]
    pub body_read_timeout: std::time::Duration,
    /// Open TCP connections; further ones are closed at accept.
    pub max_tcp_connections: usize,
    /// Open TCP connections per client address (IPv6 by /64); trusted proxies are exempt.
    pub max_tcp_connections_per_ip: usize,
    /// Time a write to a connection may make no progress (the client reads nothing); then the
    /// connection is closed.
    #[serde(rename = "write_timeout_secs", with = "secs")]
    pub write_timeout: std::time::Duration,
}

impl HttpConfig {
    /// Defaults with the given port on all interfaces.
    pub fn on_port(port: u16) -> Self {
        Self {
            bind: SocketAddr::from(([0, 0, 0, 0], port)),
            external_url: String::new(),
            trusted_proxies: Vec::new(),
            max_connections: 10_000,
            header_read_timeout: std::time::Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            body_read_timeout: std::time::Duration::from_secs(15),
            max_tcp_connections: 16_384,
            max_tcp_connections_per_ip: 256,
            write_timeout: std::time::Duration::from_secs(30),
        }
    }

    /// The public base URL without a trailing slash; computed from the bound address when
    /// `external_url` is empty.
    pub fn external_url(&self, bound: SocketAddr) -> String {
        if !self.external_url.is_empty() {
            return self.external_url.trim_end_matches('/').to_owned();
        }
        let ip = if bound.ip().is_unspecified() {
            IpAddr::from([127, 0, 0, 1])
        } else {
            bound.ip()
        };
        format!("http://{}", SocketAddr::new(ip, bound.port()))
    }

    /// The client of a request: the socket address, unless it is a trusted proxy; then the
    /// rightmost `X-Forwarded-For` entry that is not a trusted proxy (hub.md §13.2), reading the
    /// header's lines in order. A malformed entry falls back to the socket address.
    pub fn client_ip<'a>(
        &self,
        socket: IpAddr,
        forwarded_for: impl IntoIterator<Item = &'a str>,
    ) -> IpAddr {
        let trusted = |ip: &IpAddr| self.is_trusted_proxy(*ip);
        if !trusted(&socket) {
            return socket;
        }
        let mut hops = Vec::new();
        for part in forwarded_for.into_iter().flat_map(|line| line.split(',')) {
            match part.trim().parse::<IpAddr>() {
                Ok(ip) => hops.push(ip),
                Err(_) => return socket,
            }
        }
        hops.into_iter()
            .rev()
            .find(|ip| !trusted(ip))
            .unwrap_or(socket)
    }

    /// Whether `ip` lies in `http.trusted_proxies`.
    pub fn is_trusted_proxy(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }

    /// Checks the section's rules.
    ///
    /// # Errors
    /// [`LoadConfigError::Rule`] naming the key.
    pub fn validate(&self) -> Result<(), LoadConfigError> {
        if !self.external_url.is_empty() && !is_http_url(&self.external_url, 512) {
            return Err(LoadConfigError::rule(
                "http.external_url",
                "must be an http(s) URL",
            ));
        }
        let positive = [
            ("http.max_connections", self.max_connections as u64),
            (
                "http.header_read_timeout_secs",
                self.header_read_timeout.as_secs(),
            ),
            (
                "http.body_read_timeout_secs",
                self.body_read_timeout.as_secs(),
            ),
            ("http.max_tcp_connections", self.max_tcp_connections as u64),
            (
                "http.max_tcp_connections_per_ip",
                self.max_tcp_connections_per_ip as u64,
            ),
            ("http.write_timeout_secs", self.write_timeout.as_secs()),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(LoadConfigError::rule(key, "must be at least 1"));
        }
        // A semaphore holds at most 2^61 permits; far below that a bound stops being one.
        if self.max_connections > 1_000_000 {
            return Err(LoadConfigError::rule(
                "http.max_connections",
                "from 1 to 1000000",
            ));
        }
        // hyper's HTTP/1 read buffer cannot be smaller (it panics below 8192).
        if !(8192..=1024 * 1024).contains(&self.max_header_bytes) {
            return Err(LoadConfigError::rule(
                "http.max_header_bytes",
                "must be between 8192 and 1048576",
            ));
        }
        Ok(())
    }
}

/// `[metrics]` of every server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve `/metrics`.
    pub enabled: bool,
    /// Listen address of the metrics endpoint.
    pub bind: SocketAddr,
}

impl MetricsConfig {
    /// Enabled on 127.0.0.1 with the given port.
    pub fn on_loopback(port: u16) -> Self {
        Self {
            enabled: true,
            bind: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }
}

/// Whether `url` is an http(s) URL of at most `max_len` bytes without whitespace.
pub fn is_http_url(url: &str, max_len: usize) -> bool {
    url.len() <= max_len
        && ["http://", "https://"].iter().any(|scheme| {
            url.strip_prefix(scheme)
                .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace))
        })
}

/// A plausibility check for contact addresses in config (`local@domain.tld`, no whitespace).
pub fn looks_like_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.contains('@')
                && !email.contains(char::is_whitespace)
                && email.len() <= 254
        }
        None => false,
    }
}

/// Values given on the command line: the last layer, the same for every server.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--http-bind`.
    pub http_bind: Option<SocketAddr>,
    /// `--log-level`.
    pub log_level: Option<String>,
}

impl Overrides {
    /// Applies the flags to a loaded config, then makes `data_dir` absolute: against the config
    /// file's directory, or the working directory when no file was given.
    ///
    /// # Errors
    /// [`LoadConfigError::Rule`] when the working directory cannot be determined.
    pub fn apply(
        &self,
        sources: &Sources,
        data_dir: &mut PathBuf,
        http: &mut HttpConfig,
        log: &mut crate::telemetry::LogConfig,
    ) -> Result<(), LoadConfigError> {
        if let Some(dir) = &self.data_dir {
            data_dir.clone_from(dir);
        }
        if let Some(bind) = self.http_bind {
            http.bind = bind;
        }
        if let Some(level) = &self.log_level {
            log.level.clone_from(level);
        }
        let base = match sources.file.as_deref().and_then(Path::parent) {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let base = std::path::absolute(&base).map_err(|e| LoadConfigError::rule("data_dir", e))?;
        *data_dir = resolve(&base, data_dir);
        Ok(())
    }
}

/// The layers of one configuration load.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// The TOML file, if one was named.
    pub file: Option<PathBuf>,
    /// Environment variables (the process environment in production, a map in tests).
    pub env: Vec<(String, String)>,
}

impl Sources {
    /// Sources from the process environment and an optional file.
    pub fn from_process(file: Option<PathBuf>) -> Self {
        Self {
            file,
            env: std::env::vars().collect(),
        }
    }
}

/// Merges defaults, the TOML file and the environment variables of the form
/// `<env_prefix><SECTION>__<KEY>` (e.g. `HUB_HTTP__BIND`) into a figment, ready for [`extract`].
/// Other variables starting with `env_prefix` (`HUB_CONFIG`, `HUB_SERVICE_HOST`, …) are not keys
/// and are skipped.
///
/// # Errors
/// [`LoadConfigError::File`] when the named file is missing or unreadable.
pub fn layered<T: Serialize + Default>(
    env_prefix: &str,
    sources: &Sources,
) -> Result<Figment, LoadConfigError> {
    let mut figment = Figment::from(Serialized::defaults(T::default()));
    if let Some(path) = &sources.file {
        std::fs::metadata(path).map_err(|e| LoadConfigError::File {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        figment = figment.merge(Toml::file_exact(path));
    }
    Ok(figment.merge(EnvVars::new(env_prefix, &sources.env)))
}

/// Extracts the typed config. Strings from the environment are coerced to numbers and booleans
/// where the type asks for them.
///
/// # Errors
/// [`LoadConfigError::Invalid`] naming the key and the layer it came from.
pub fn extract<T: DeserializeOwned>(figment: &Figment) -> Result<T, LoadConfigError> {
    Ok(figment.extract_lossy()?)
}

/// Refuses secrets that were set in the TOML file (hub.md §16).
///
/// # Errors
/// [`LoadConfigError::SecretInFile`] for the first such key.
pub fn reject_secrets_in_file(figment: &Figment, keys: &[&str]) -> Result<(), LoadConfigError> {
    for key in keys {
        let from_file = figment.find_value(key).is_ok()
            && figment
                .find_metadata(key)
                .is_some_and(|meta| meta.name.contains("TOML"));
        if from_file {
            return Err(LoadConfigError::SecretInFile {
                key: (*key).to_owned(),
            });
        }
    }
    Ok(())
}

/// Resolves `path` against `base` unless it is absolute.
pub fn resolve(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_owned()
    } else {
        base.join(path)
    }
}

/// Reads a secret from a `*_file` key: the file content, trimmed.
///
/// # Errors
/// [`LoadConfigError::File`] when the file cannot be read.
pub fn read_secret_file(path: &Path) -> Result<String, LoadConfigError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|e| LoadConfigError::File {
            path: path.to_owned(),
            reason: e.to_string(),
        })
}

/// Names after the prefix that are read elsewhere, never as keys: `<PREFIX>CONFIG` (the file) and
/// `<PREFIX>DATA_DIR` (the peer's data directory, peer.md §1.2).
const RESERVED_NAMES: &[&str] = &["CONFIG", "DATA_DIR"];

/// Environment variables as a figment provider: `HUB_HTTP__BIND=…` becomes `http.bind`. Values stay
/// strings; [`extract`] coerces them.
///
/// Only `<PREFIX><SECTION>__<KEY>` (at least one `__`) is configuration. Any other variable with
/// the prefix belongs to someone else and is ignored: Kubernetes sets `HUB_SERVICE_HOST`,
/// `HUB_PORT` and `HUB_PORT_8787_TCP` for a Service named `hub`.
struct EnvVars {
    prefix: String,
    vars: Vec<(String, String)>,
}

impl EnvVars {
    fn new(prefix: &str, env: &[(String, String)]) -> Self {
        let vars = env
            .iter()
            .filter_map(|(name, value)| {
                let rest = name.strip_prefix(prefix)?;
                is_config_name(rest).then(|| (rest.to_ascii_lowercase(), value.clone()))
            })
            .collect();
        Self {
            prefix: prefix.to_owned(),
            vars,
        }
    }
}

/// Whether `rest`, a variable name after its prefix, names configuration (`<SECTION>__<KEY>`).
fn is_config_name(rest: &str) -> bool {
    !RESERVED_NAMES.contains(&rest) && rest.contains("__")
}

/// The variables of `env` that start with `prefix` but are neither configuration nor reserved
/// (`CONFIG`, `DATA_DIR`): what [`layered`] ignores, for a start-up log line once logging runs.
pub fn foreign_env_vars<'a>(prefix: &str, env: &'a [(String, String)]) -> Vec<&'a str> {
    env.iter()
        .map(|(name, _)| name.as_str())
        .filter(|name| {
            name.strip_prefix(prefix)
                .is_some_and(|rest| !RESERVED_NAMES.contains(&rest) && !is_config_name(rest))
        })
        .collect()
}

impl Provider for EnvVars {
    fn metadata(&self) -> Metadata {
        Metadata::named(format!("environment variable(s) {}*", self.prefix))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut root = Dict::new();
        for (key, value) in &self.vars {
            let path: Vec<&str> = key.split("__").collect();
            if path.iter().any(|part| part.is_empty()) {
                return Err(figment::Error::from(format!(
                    "environment variable {}{}: empty key segment",
                    self.prefix,
                    key.to_ascii_uppercase()
                )));
            }
            // Inline tables (`{ burst = 10, refill_secs = 1.0 }`) are parsed; every other value
            // stays a string, which `extract` coerces where a number or boolean is wanted.
            let value = if value.trim_start().starts_with('{') {
                value
                    .parse::<Value>()
                    .unwrap_or_else(|never| match never {})
            } else {
                Value::from(value.clone())
            };
            insert_nested(&mut root, &path, value);
        }
        Ok(Profile::Default.collect(root))
    }
}

fn insert_nested(dict: &mut Dict, path: &[&str], value: Value) {
    match path {
        [] => {}
        [last] => {
            dict.insert((*last).to_owned(), value);
        }
        [first, rest @ ..] => {
            let entry = dict
                .entry((*first).to_owned())
                .or_insert_with(|| Value::from(Dict::new()));
            if !matches!(entry, Value::Dict(..)) {
                *entry = Value::from(Dict::new());
            }
            if let Value::Dict(_, inner) = entry {
                insert_nested(inner, rest, value);
            }
        }
    }
}

/// Deserializes a list given either as a TOML array or as one comma-separated string (the
/// environment form, e.g. `HUB_SUPERHUBS__URLS=https://a,https://b`). Elements parse with `FromStr`.
///
/// # Errors
/// The first element that does not parse.
pub fn comma_list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: Display,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Items {
        Seq(Vec<String>),
        Text(String),
    }
    let items = match Items::deserialize(deserializer)? {
        Items::Seq(items) => items,
        Items::Text(text) if text.trim().is_empty() => Vec::new(),
        Items::Text(text) => text.split(',').map(|s| s.trim().to_owned()).collect(),
    };
    items
        .iter()
        .map(|item| {
            item.parse()
                .map_err(|e| serde::de::Error::custom(format!("{item:.64}: {e}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Sample {
        http: Http,
        site: Site,
    }

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Site {
        name: String,
    }

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Http {
        bind: std::net::SocketAddr,
        max_connections: u32,
        #[serde(deserialize_with = "comma_list")]
        proxies: Vec<std::net::IpAddr>,
        token: Option<String>,
    }

    impl Default for Sample {
        fn default() -> Self {
            Self {
                http: Http::default(),
                site: Site {
                    name: "default".into(),
                },
            }
        }
    }

    impl Default for Http {
        fn default() -> Self {
            Self {
                bind: "0.0.0.0:8787".parse().unwrap(),
                max_connections: 10,
                proxies: Vec::new(),
                token: None,
            }
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn load(toml: Option<&str>, vars: &[(&str, &str)]) -> Result<Sample, LoadConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let file = toml.map(|text| {
            let path = dir.path().join("test.toml");
            std::fs::write(&path, text).unwrap();
            path
        });
        let sources = Sources {
            file,
            env: env(vars),
        };
        extract(&layered::<Sample>("T_", &sources)?)
    }

    #[test]
    fn defaults_apply_when_no_layer_sets_a_key() {
        assert_eq!(load(None, &[]).unwrap(), Sample::default());
    }

    #[test]
    fn env_overrides_file_when_both_set_a_key() {
        let toml = "[site]\nname = \"file\"\n[http]\nmax_connections = 5\nbind = \"127.0.0.1:1\"\n";

        let config = load(
            Some(toml),
            &[("T_HTTP__BIND", "127.0.0.1:2"), ("T_SITE__NAME", "2024")],
        )
        .unwrap();

        assert_eq!(config.http.bind, "127.0.0.1:2".parse().unwrap());
        assert_eq!(config.http.max_connections, 5);
        assert_eq!(config.site.name, "2024");
    }

    #[test]
    fn env_numbers_and_lists_coerce_when_type_asks() {
        let config = load(
            None,
            &[
                ("T_HTTP__MAX_CONNECTIONS", "77"),
                ("T_HTTP__PROXIES", "10.0.0.1, ::1"),
            ],
        )
        .unwrap();

        assert_eq!(config.http.max_connections, 77);
        assert_eq!(config.http.proxies.len(), 2);
    }

    #[test]
    fn env_inline_table_parses_when_value_is_braced() {
        #[derive(Debug, Serialize, Deserialize, Default)]
        #[serde(deny_unknown_fields)]
        struct Limits {
            limits: Buckets,
        }
        #[derive(Debug, Serialize, Deserialize, Default)]
        #[serde(deny_unknown_fields)]
        struct Buckets {
            bucket: Bucket,
        }
        #[derive(Debug, Serialize, Deserialize, Default, PartialEq)]
        #[serde(deny_unknown_fields)]
        struct Bucket {
            burst: u32,
            refill_secs: f64,
        }
        let sources = Sources {
            file: None,
            env: env(&[("L_LIMITS__BUCKET", "{ burst = 7, refill_secs = 0.5 }")]),
        };

        let limits: Limits = extract(&layered::<Limits>("L_", &sources).unwrap()).unwrap();

        assert_eq!(
            limits.limits.bucket,
            Bucket {
                burst: 7,
                refill_secs: 0.5
            }
        );
    }

    #[test]
    fn unknown_key_is_refused_naming_it_when_in_file() {
        let err = load(Some("[http]\nbidn = \"x\"\n"), &[]).unwrap_err();

        assert!(err.to_string().contains("bidn"), "{err}");
    }

    #[test]
    fn unknown_key_is_refused_when_in_env() {
        let err = load(None, &[("T_HTTP__NOPE", "1")]).unwrap_err();

        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn prefixed_variable_is_ignored_when_not_section_and_key() {
        let config = load(
            None,
            &[
                ("T_SERVICE_HOST", "10.0.0.1"),
                ("T_PORT", "tcp://10.0.0.1:8787"),
                ("T_PORT_8787_TCP", "tcp://10.0.0.1:8787"),
                ("T_CONFIG", "/etc/t.toml"),
                ("T_DATA_DIR", "/var/lib/t"),
            ],
        )
        .unwrap();

        assert_eq!(config, Sample::default());
    }

    #[test]
    fn foreign_variables_are_listed_when_neither_config_nor_reserved() {
        let env: Vec<(String, String)> = [
            ("T_SERVICE_HOST", "10.0.0.1"),
            ("T_PORT", "tcp://10.0.0.1:8787"),
            ("T_CONFIG", "/etc/t.toml"),
            ("T_DATA_DIR", "/var/lib/t"),
            ("T_HTTP__BIND", "127.0.0.1:1"),
            ("OTHER_PORT", "1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();

        assert_eq!(foreign_env_vars("T_", &env), ["T_SERVICE_HOST", "T_PORT"]);
    }

    #[test]
    fn misspelt_key_is_refused_naming_it_when_of_section_and_key_shape() {
        let err = load(
            None,
            &[("T_SERVICE_HOST", "10.0.0.1"), ("T_HTTP__TYPO", "1")],
        )
        .unwrap_err();

        assert!(err.to_string().contains("typo"), "{err}");
    }

    #[test]
    fn empty_key_segment_is_refused_when_name_has_trailing_separator() {
        let err = load(None, &[("T_HTTP__", "1")]).unwrap_err();

        assert!(err.to_string().contains("T_HTTP__"), "{err}");
    }

    #[test]
    fn bad_address_is_refused_naming_key_when_malformed() {
        let err = load(None, &[("T_HTTP__BIND", "not-an-address")]).unwrap_err();

        assert!(err.to_string().contains("http.bind"), "{err}");
    }

    #[test]
    fn write_timeout_beyond_ten_years_is_refused_naming_key() {
        let err = load(None, &[("T_HTTP__WRITE_TIMEOUT_SECS", "315360001")]).unwrap_err();

        assert!(err.to_string().contains("write_timeout_secs"), "{err}");
    }

    #[test]
    fn external_url_replaces_unspecified_ip_when_empty() {
        let http = HttpConfig::on_port(8787);

        assert_eq!(
            http.external_url("0.0.0.0:8787".parse().unwrap()),
            "http://127.0.0.1:8787"
        );
        assert_eq!(
            http.external_url("[::]:1".parse().unwrap()),
            "http://127.0.0.1:1"
        );
    }

    #[test]
    fn http_validate_refuses_header_limits_hyper_cannot_take() {
        let mut http = HttpConfig::on_port(1);
        http.max_header_bytes = 4096;
        let small = http.validate();
        http.max_header_bytes = 16_384;
        http.max_tcp_connections_per_ip = 0;
        let zero = http.validate();
        http.max_tcp_connections_per_ip = 1;
        http.write_timeout = std::time::Duration::ZERO;
        let no_write_time = http.validate();

        assert!(
            matches!(small, Err(LoadConfigError::Rule { key, .. }) if key == "http.max_header_bytes")
        );
        assert!(
            matches!(zero, Err(LoadConfigError::Rule { key, .. }) if key == "http.max_tcp_connections_per_ip")
        );
        assert!(
            matches!(no_write_time, Err(LoadConfigError::Rule { key, .. }) if key == "http.write_timeout_secs")
        );
    }

    #[test]
    fn client_ip_walks_forwarded_for_only_behind_trusted_proxies() {
        let mut http = HttpConfig::on_port(1);
        http.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.1.1.1".parse().unwrap();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();

        assert_eq!(http.client_ip(stranger, ["198.51.100.1"]), stranger);
        assert_eq!(
            http.client_ip(proxy, ["198.51.100.1, 10.2.2.2"]),
            "198.51.100.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(http.client_ip(proxy, ["not-an-ip"]), proxy);
        assert_eq!(http.client_ip(proxy, []), proxy);
    }

    #[test]
    fn missing_file_is_refused_naming_it() {
        let sources = Sources {
            file: Some("/nonexistent/hub.toml".into()),
            env: vec![],
        };

        let err = layered::<Sample>("T_", &sources).unwrap_err();

        assert!(err.to_string().contains("/nonexistent/hub.toml"), "{err}");
    }

    #[test]
    fn secret_is_refused_when_written_in_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.toml");
        std::fs::write(&path, "[http]\ntoken = \"s3cret\"\n").unwrap();
        let from_file = layered::<Sample>(
            "T_",
            &Sources {
                file: Some(path),
                env: vec![],
            },
        )
        .unwrap();
        let from_env = layered::<Sample>(
            "T_",
            &Sources {
                file: None,
                env: env(&[("T_HTTP__TOKEN", "s3cret")]),
            },
        )
        .unwrap();

        assert!(matches!(
            reject_secrets_in_file(&from_file, &["http.token"]),
            Err(LoadConfigError::SecretInFile { .. })
        ));
        assert!(reject_secrets_in_file(&from_env, &["http.token"]).is_ok());
    }
}

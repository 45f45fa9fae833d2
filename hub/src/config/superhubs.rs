//! `[superhubs]` (hub.md §11.4, §16): the super hubs this hub announces itself to, how often, and
//! how long each signed record lives.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use shared::config::{LoadConfigError, comma_list, is_http_url};

/// Super hubs a hub announces itself to at most.
const MAX_SUPERHUBS: usize = 16;
/// The longest record lifetime a super hub accepts (superhub.md §3.1 row 9).
const MAX_RECORD_TTL: Duration = Duration::from_secs(7200);
/// The shortest record lifetime.
const MIN_RECORD_TTL: Duration = Duration::from_secs(60);

/// `[superhubs]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuperhubsConfig {
    /// Base URLs of the super hubs, http(s), normalized at load (no trailing `/`).
    #[serde(deserialize_with = "comma_list")]
    pub urls: Vec<String>,
    /// Period of the announcements (± 10 % jitter).
    #[serde(rename = "announce_interval_secs", with = "shared::config::secs")]
    pub announce_interval: Duration,
    /// Lifetime of a signed record (`expires_at − issued_at`), 60 s – 2 h.
    #[serde(rename = "record_ttl_secs", with = "shared::config::secs")]
    pub record_ttl: Duration,
    /// First wait after a failed announcement, doubling up to 900 s.
    #[serde(rename = "retry_base_secs", with = "shared::config::secs")]
    pub retry_base: Duration,
}

impl Default for SuperhubsConfig {
    fn default() -> Self {
        Self {
            urls: Vec::new(),
            announce_interval: Duration::from_secs(900),
            record_ttl: Duration::from_secs(3600),
            retry_base: Duration::from_secs(60),
        }
    }
}

impl SuperhubsConfig {
    /// The longest wait between two failed announcements (hub.md §11.4 rule 2).
    pub const MAX_RETRY: Duration = Duration::from_secs(900);

    /// Drops trailing `/` from every URL.
    pub(crate) fn normalize(&mut self) {
        for url in &mut self.urls {
            let trimmed = url.trim().trim_end_matches('/').to_owned();
            *url = trimmed;
        }
    }

    pub(crate) fn validate(
        &self,
        external_url: &str,
        plan_count: usize,
    ) -> Result<(), LoadConfigError> {
        if self.urls.len() > MAX_SUPERHUBS {
            return Err(LoadConfigError::rule(
                "superhubs.urls",
                format!("at most {MAX_SUPERHUBS} super hubs"),
            ));
        }
        for (i, url) in self.urls.iter().enumerate() {
            if !is_http_url(url, 512) || url.contains(['?', '#']) {
                return Err(LoadConfigError::rule(
                    "superhubs.urls",
                    format!("{url:.64} is not an http(s) URL without query or fragment"),
                ));
            }
            if self.urls[..i].contains(url) {
                return Err(LoadConfigError::rule(
                    "superhubs.urls",
                    format!("{url:.64} is listed twice"),
                ));
            }
        }
        if !(MIN_RECORD_TTL..=MAX_RECORD_TTL).contains(&self.record_ttl) {
            return Err(LoadConfigError::rule(
                "superhubs.record_ttl_secs",
                "between 60 and 7200 (a super hub refuses longer-lived records)",
            ));
        }
        if self.announce_interval.is_zero() || self.announce_interval >= self.record_ttl {
            return Err(LoadConfigError::rule(
                "superhubs.announce_interval_secs",
                "at least 1 and less than superhubs.record_ttl_secs, so a record is renewed before it expires",
            ));
        }
        if self.retry_base.is_zero() || self.retry_base > Self::MAX_RETRY {
            return Err(LoadConfigError::rule(
                "superhubs.retry_base_secs",
                "between 1 and 900",
            ));
        }
        if !self.urls.is_empty() && external_url.is_empty() {
            return Err(LoadConfigError::rule(
                "http.external_url",
                "required when superhubs.urls is set (super hubs probe and list it)",
            ));
        }
        if !self.urls.is_empty() && plan_count > shared::record::MAX_PLANS {
            return Err(LoadConfigError::rule(
                "plans",
                format!(
                    "at most {} plans when superhubs.urls is set (a hub record lists at most that many)",
                    shared::record::MAX_PLANS
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use shared::config::{Overrides, Sources};

    use crate::config::Config;

    const EXTERNAL: (&str, &str) = ("HUB_HTTP__EXTERNAL_URL", "https://hub.example.org");

    fn load(env: &[(&str, &str)]) -> Result<Config, shared::config::LoadConfigError> {
        let env = env
            .iter()
            .chain(&[("HUB_EMAIL__TRANSPORT", "log")])
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load(&Sources { file: None, env }, &Overrides::default())
    }

    #[test]
    fn urls_load_comma_separated_and_normalized_from_env() {
        let config = load(&[
            EXTERNAL,
            (
                "HUB_SUPERHUBS__URLS",
                "https://dir.example.net/, http://127.0.0.1:9",
            ),
        ])
        .unwrap();

        assert_eq!(
            config.superhubs.urls,
            ["https://dir.example.net", "http://127.0.0.1:9"]
        );
        assert_eq!(config.superhubs.record_ttl.as_secs(), 3600);
        assert_eq!(config.superhubs.announce_interval.as_secs(), 900);
    }

    #[test]
    fn bad_superhub_settings_are_refused_naming_the_key() {
        let url = ("HUB_SUPERHUBS__URLS", "https://dir.example.net");
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[EXTERNAL, ("HUB_SUPERHUBS__URLS", "ftp://dir")],
                "superhubs.urls",
            ),
            (
                &[EXTERNAL, ("HUB_SUPERHUBS__URLS", "dir.example.net")],
                "superhubs.urls",
            ),
            (
                &[EXTERNAL, ("HUB_SUPERHUBS__URLS", "https://d/?q=1")],
                "superhubs.urls",
            ),
            (
                &[EXTERNAL, ("HUB_SUPERHUBS__URLS", "https://d,https://d/")],
                "superhubs.urls",
            ),
            (&[url], "http.external_url"),
            (
                &[("HUB_SUPERHUBS__RECORD_TTL_SECS", "7201")],
                "superhubs.record_ttl_secs",
            ),
            (
                &[("HUB_SUPERHUBS__RECORD_TTL_SECS", "59")],
                "superhubs.record_ttl_secs",
            ),
            (
                &[("HUB_SUPERHUBS__ANNOUNCE_INTERVAL_SECS", "3600")],
                "superhubs.announce_interval_secs",
            ),
            (
                &[("HUB_SUPERHUBS__ANNOUNCE_INTERVAL_SECS", "0")],
                "superhubs.announce_interval_secs",
            ),
            (
                &[("HUB_SUPERHUBS__RETRY_BASE_SECS", "0")],
                "superhubs.retry_base_secs",
            ),
            (
                &[("HUB_SUPERHUBS__RETRY_BASE_SECS", "901")],
                "superhubs.retry_base_secs",
            ),
        ];
        for (env, key) in cases {
            let error = load(env).unwrap_err().to_string();
            assert!(
                error.contains(key),
                "{env:?} gave {error:?}, expected {key}"
            );
        }
    }
}

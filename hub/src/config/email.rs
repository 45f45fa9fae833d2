//! `[email]` (hub.md §6.8 rule 4, §16): the transport, and the rule that keeps sign-in links out
//! of the log of a public hub — the `log` transport is the zero-config default for development,
//! and a hub whose `http.external_url` is a public address refuses to start with it unless the
//! operator named it explicitly.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use shared::config::LoadConfigError;

/// How mail leaves the hub (hub.md §6.8 rule 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransportKind {
    /// lettre over SMTP (`email.smtp_url`).
    Smtp,
    /// One INFO log line per message (zero-config default).
    Log,
    /// One `.eml` file per message in `email.outbox_dir`.
    File,
}

/// `[email]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// `smtp`, `log` or `file`.
    pub transport: MailTransportKind,
    /// The sender, e.g. `Goop² hub <noreply@example.org>`.
    pub from: String,
    /// SMTP URL (`smtps://user:pass@host:465`); a secret: only from `HUB_EMAIL__SMTP_URL` or
    /// `smtp_url_file`.
    #[serde(default, skip_serializing)]
    pub smtp_url: Option<SecretString>,
    /// A file holding the SMTP URL; `""` for none.
    pub smtp_url_file: PathBuf,
    /// Directory of the `file` transport, relative to the data dir.
    pub outbox_dir: PathBuf,
    /// Lifetime of email tokens; unsent mail is given up after it.
    #[serde(rename = "token_ttl_secs", with = "shared::config::secs")]
    pub token_ttl: Duration,
    /// First retry delay of the outbox; doubles per attempt up to an hour.
    #[serde(rename = "retry_base_secs", with = "shared::config::secs")]
    pub retry_base: Duration,
    /// Whether a layer (file or environment) named `email.transport`, rather than the default
    /// giving it. Set by `Config::load`; not a key.
    #[serde(skip)]
    pub transport_explicit: bool,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            transport: MailTransportKind::Log,
            from: "Goop² hub <noreply@localhost>".to_owned(),
            smtp_url: None,
            smtp_url_file: PathBuf::new(),
            outbox_dir: PathBuf::from("outbox"),
            token_ttl: Duration::from_secs(86_400),
            retry_base: Duration::from_secs(30),
            transport_explicit: false,
        }
    }
}

impl EmailConfig {
    /// Refuses the defaulted `log` transport when `external_url` (`http.external_url`, `""` when
    /// derived from the bind address) is a public address: sign-in links would go to the log of
    /// a hub anyone can reach. Checked after every other key, so their errors come first.
    pub(crate) fn check_exposure(&self, external_url: &str) -> Result<(), LoadConfigError> {
        if self.transport == MailTransportKind::Log
            && !self.transport_explicit
            && is_public_url(external_url)
        {
            return Err(LoadConfigError::rule(
                "email.transport",
                "the default `log` transport writes sign-in links to the log, and http.external_url is a public \
                 address: configure `smtp` (or set transport = \"log\" explicitly to keep links in the log)",
            ));
        }
        Ok(())
    }

    pub(crate) fn validate(&self) -> Result<(), LoadConfigError> {
        if self.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(LoadConfigError::rule(
                "email.from",
                "not a mailbox such as `Hub <noreply@example.org>`",
            ));
        }
        if self.transport == MailTransportKind::Smtp && self.smtp_url.is_none() {
            return Err(LoadConfigError::rule(
                "email.smtp_url",
                "required with transport = \"smtp\" (HUB_EMAIL__SMTP_URL or email.smtp_url_file)",
            ));
        }
        if self.token_ttl.is_zero() || self.retry_base.is_zero() {
            return Err(LoadConfigError::rule(
                "email.retry_base_secs",
                "durations must be at least 1",
            ));
        }
        Ok(())
    }
}

/// Names that never resolve on the public internet (RFC 6761, RFC 6762, RFC 8375, common LAN use).
const LOCAL_SUFFIXES: [&str; 6] = [
    ".localhost",
    ".local",
    ".test",
    ".internal",
    ".lan",
    ".home.arpa",
];

/// Whether `url` names a host others can reach: not loopback, private, link-local or unique
/// local, and not a local-only name (a single label such as a compose service `hub`, `localhost`, or a
/// name under [`LOCAL_SUFFIXES`]). `""` (the URL derived from the bind address) and anything
/// that does not parse are not public.
pub(crate) fn is_public_url(url: &str) -> bool {
    let Some(host) = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
    else {
        return false;
    };
    let host = host.trim_end_matches('.');
    match host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        Ok(IpAddr::V4(ip)) => {
            let shared_cgnat = ip.octets()[0] == 100 && (ip.octets()[1] & 0xc0) == 64;
            !(ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || shared_cgnat)
        }
        Ok(IpAddr::V6(ip)) => {
            let first = ip.segments()[0];
            let mapped = ip.to_ipv4_mapped().map(IpAddr::V4);
            !(ip.is_loopback()
                || ip.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || mapped.is_some_and(|v4| !is_public_url(&format!("http://{v4}/"))))
        }
        // A single label (`localhost`, a compose service `hub`) never resolves on the internet.
        Err(_) => host.contains('.') && !LOCAL_SUFFIXES.iter().any(|s| host.ends_with(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_are_told_from_local_ones() {
        for public in [
            "https://hub.example.org",
            "https://HUB.Example.org./",
            "http://203.0.113.7:8787",
            "http://[2001:db8::1]:8787",
        ] {
            assert!(is_public_url(public), "{public}");
        }
        for local in [
            "",
            "not a url",
            "http://localhost:8787",
            "http://LOCALHOST.:8787",
            "http://hub:8787",
            "http://hub.localhost",
            "http://box.local",
            "http://hub.home.arpa",
            "http://127.0.0.1:8787",
            "http://10.1.2.3",
            "http://192.168.1.2",
            "http://172.16.0.1",
            "http://100.64.0.1",
            "http://169.254.1.1",
            "http://[::1]:8787",
            "http://[fd00::1]",
            "http://[fe80::1]",
            "http://[::ffff:127.0.0.1]",
        ] {
            assert!(!is_public_url(local), "{local}");
        }
    }

    #[test]
    fn default_log_transport_is_refused_only_on_a_public_hub() {
        let mut email = EmailConfig::default();

        assert!(email.check_exposure("").is_ok());
        assert!(email.check_exposure("http://127.0.0.1:8787").is_ok());
        let refused = email.check_exposure("https://hub.example.org").unwrap_err();
        assert!(refused.to_string().contains("email.transport"), "{refused}");
        email.transport_explicit = true;
        assert!(email.check_exposure("https://hub.example.org").is_ok());
    }
}

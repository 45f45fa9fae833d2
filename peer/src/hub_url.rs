//! [`HubUrl`]: a hub's normalised base URL, its identity in the peer (peer.md §3): lower-case
//! scheme and host, the port only when not the scheme's default, no trailing `/`, no path, query,
//! fragment or credentials. `http`/`https` only; the WebSocket URL maps `http` → `ws` and `https`
//! → `wss`.

use std::fmt;

use reqwest::Url;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest hub URL accepted.
const MAX_LEN: usize = 2048;

/// A normalised hub base URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HubUrl(String);

/// Why a string is not a hub base URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubUrlError {
    /// Not a URL at all, or too long.
    #[error("not a URL")]
    Malformed,
    /// Not `http` or `https`.
    #[error("only http and https hub URLs are accepted")]
    Scheme,
    /// A path, query, fragment or credentials: a hub lives at the root of its origin.
    #[error("a hub URL is an origin: no path, query, fragment or credentials")]
    NotOrigin,
}

impl HubUrl {
    /// Parses and normalises `raw`.
    ///
    /// # Errors
    /// [`HubUrlError`].
    pub fn parse(raw: &str) -> Result<Self, HubUrlError> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > MAX_LEN {
            return Err(HubUrlError::Malformed);
        }
        let url = Url::parse(raw).map_err(|_| HubUrlError::Malformed)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(HubUrlError::Scheme);
        }
        let Some(host) = url.host_str() else {
            return Err(HubUrlError::Malformed);
        };
        if !(url.path() == "/" || url.path().is_empty())
            || url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(HubUrlError::NotOrigin);
        }
        // `Url` already lower-cases scheme and host and drops a default port.
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        Ok(Self(format!("{}://{host}{port}", url.scheme())))
    }

    /// The URL as text, e.g. `https://hub.example.org`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `self` + `path_and_query` (which starts with `/`).
    pub fn join(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.0)
    }

    /// The WebSocket URL of `path_and_query`: `http` → `ws`, `https` → `wss`.
    pub fn ws(&self, path_and_query: &str) -> String {
        let rest = self.0.strip_prefix("http").unwrap_or(&self.0);
        format!("ws{rest}{path_and_query}")
    }

    /// The host (a name or an IP literal, IPv6 in brackets).
    pub fn host(&self) -> &str {
        let rest = self.0.split_once("://").map_or("", |(_, r)| r);
        match rest.strip_prefix('[') {
            Some(v6) => v6.split_once(']').map_or(rest, |(h, _)| h),
            None => rest.rsplit_once(':').map_or(rest, |(h, _)| h),
        }
    }

    /// Whether the host is a loopback name or address (peer.md §2.1: loopback addresses a
    /// loopback hub reports are used).
    pub fn is_loopback(&self) -> bool {
        let host = self.host();
        host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

impl fmt::Display for HubUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for HubUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for HubUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_default_port_and_trailing_slash() {
        let url = HubUrl::parse("HTTPS://Hub.Example.ORG:443/").unwrap();
        assert_eq!(url.as_str(), "https://hub.example.org");
        assert_eq!(url.ws("/ws?v=2"), "wss://hub.example.org/ws?v=2");
        assert_eq!(
            HubUrl::parse("http://h:8787").unwrap().ws("/ws"),
            "ws://h:8787/ws"
        );
    }

    #[test]
    fn keeps_explicit_non_default_port_and_ipv6_host() {
        let url = HubUrl::parse("http://[::1]:8787").unwrap();
        assert_eq!(url.as_str(), "http://[::1]:8787");
        assert_eq!(url.host(), "::1");
        assert!(url.is_loopback());
        assert!(HubUrl::parse("http://127.0.0.1:1").unwrap().is_loopback());
        assert!(!HubUrl::parse("https://hub.example").unwrap().is_loopback());
    }

    #[test]
    fn refuses_other_schemes_paths_queries_and_credentials() {
        assert_eq!(HubUrl::parse("ftp://h"), Err(HubUrlError::Scheme));
        assert_eq!(HubUrl::parse("http://h/x"), Err(HubUrlError::NotOrigin));
        assert_eq!(HubUrl::parse("http://h/?a=1"), Err(HubUrlError::NotOrigin));
        assert_eq!(HubUrl::parse("http://u:p@h"), Err(HubUrlError::NotOrigin));
        assert_eq!(HubUrl::parse(""), Err(HubUrlError::Malformed));
        assert_eq!(HubUrl::parse("not a url"), Err(HubUrlError::Malformed));
        assert_eq!(
            HubUrl::parse(&format!("http://{}", "a".repeat(3000))),
            Err(HubUrlError::Malformed)
        );
    }
}

//! The HTTP probe (superhub.md §4.2): `GET {http_url}/api/v1/info` to the checked addresses only,
//! no redirects, a bounded body, and a pass only when the document names the record's id.

use shared::http_client::ReadError;
use std::time::{Duration, Instant};

use reqwest::{StatusCode, Url, header};

use super::address::{AddressError, resolve_checked};
use super::outcome::{HttpOutcome, Measured};
use crate::config::ProbeConfig;

/// What every HTTP probe shares: timeouts, the body bound, the address policy, the User-Agent.
#[derive(Debug, Clone)]
pub(crate) struct HttpProbe {
    connect_timeout: Duration,
    total_timeout: Duration,
    max_body_bytes: usize,
    allow_private: bool,
    user_agent: String,
}

impl HttpProbe {
    /// The probe of `config`, announcing itself with `external_url`.
    pub(crate) fn new(config: &ProbeConfig, external_url: &str) -> Self {
        Self {
            connect_timeout: config.connect_timeout,
            total_timeout: config.http_timeout,
            max_body_bytes: config.max_body_bytes,
            allow_private: config.allow_private_addresses,
            user_agent: format!(
                "{}/{} (+{external_url})",
                shared::protocol::SUPERHUB_SOFTWARE,
                shared::VERSION
            ),
        }
    }

    /// Probes the hub `expected_id` at `http_url`.
    pub(crate) async fn probe(&self, http_url: &str, expected_id: &str) -> Measured<HttpOutcome> {
        match tokio::time::timeout(self.total_timeout, self.run(http_url, expected_id)).await {
            Ok(Ok(rtt)) => Measured {
                outcome: HttpOutcome::Ok,
                rtt_ms: Some(i64::try_from(rtt.as_millis()).unwrap_or(i64::MAX)),
            },
            Ok(Err(outcome)) => Measured::failed(outcome),
            Err(_) => Measured::failed(HttpOutcome::Timeout),
        }
    }

    async fn run(&self, http_url: &str, expected_id: &str) -> Result<Duration, HttpOutcome> {
        let url = info_url(http_url).ok_or(HttpOutcome::DnsError)?;
        let host = url.host_str().ok_or(HttpOutcome::DnsError)?.to_owned();
        let port = url.port_or_known_default().ok_or(HttpOutcome::DnsError)?;
        let addrs = resolve_checked(&host, port, self.allow_private)
            .await
            .map_err(|e| match e {
                AddressError::Dns => HttpOutcome::DnsError,
                AddressError::Blocked => HttpOutcome::BlockedAddress,
            })?;
        // The client connects only to the addresses checked above: no second resolution.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.connect_timeout)
            .timeout(self.total_timeout)
            .user_agent(&self.user_agent)
            .resolve_to_addrs(host.trim_start_matches('[').trim_end_matches(']'), &addrs)
            .no_proxy()
            .build()
            .map_err(|_| HttpOutcome::ConnectError)?;
        let started = Instant::now();
        let response = client
            .get(url)
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(HttpOutcome::Redirect);
        }
        if status != StatusCode::OK {
            return Err(HttpOutcome::HttpStatus);
        }
        if response
            .content_length()
            .is_some_and(|n| n > self.max_body_bytes as u64)
        {
            return Err(HttpOutcome::TooLarge);
        }
        let body = shared::http_client::read_limited(response, self.max_body_bytes)
            .await
            .map_err(|e| match e {
                ReadError::TooLarge(_) => HttpOutcome::TooLarge,
                ReadError::Transport(e) => classify(&e),
            })?;
        let rtt = started.elapsed();
        let document: serde_json::Value =
            serde_json::from_slice(&body).map_err(|_| HttpOutcome::InvalidJson)?;
        let object = document.as_object().ok_or(HttpOutcome::InvalidJson)?;
        if object.get("id").and_then(serde_json::Value::as_str) != Some(expected_id) {
            return Err(HttpOutcome::IdMismatch);
        }
        Ok(rtt)
    }
}

/// `{http_url}/api/v1/info`, for an `http` or `https` URL.
fn info_url(http_url: &str) -> Option<Url> {
    let url = Url::parse(&format!("{}/api/v1/info", http_url.trim_end_matches('/'))).ok()?;
    matches!(url.scheme(), "http" | "https").then_some(url)
}

/// A transport failure's outcome. TLS failures surface as an `InvalidData` I/O error (tokio-rustls
/// reports handshake errors that way), wrapped in further I/O errors whose `source` skips it, so
/// every I/O error's inner error is searched too.
fn classify(error: &reqwest::Error) -> HttpOutcome {
    if error.is_timeout() {
        return HttpOutcome::Timeout;
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let mut io = cause.downcast_ref::<std::io::Error>();
        while let Some(e) = io {
            match e.kind() {
                std::io::ErrorKind::InvalidData => return HttpOutcome::TlsError,
                std::io::ErrorKind::TimedOut => return HttpOutcome::Timeout,
                _ => {}
            }
            io = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<std::io::Error>());
        }
        source = cause.source();
    }
    HttpOutcome::ConnectError
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_url_appends_the_path_once_when_the_base_ends_in_a_slash() {
        let plain = info_url("https://hub.example.org").unwrap();
        let slash = info_url("https://hub.example.org/").unwrap();

        assert_eq!(plain.as_str(), "https://hub.example.org/api/v1/info");
        assert_eq!(slash, plain);
        assert!(info_url("ftp://hub.example.org").is_none());
        assert!(info_url("not a url").is_none());
    }
}

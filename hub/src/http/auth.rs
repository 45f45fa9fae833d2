//! Who is calling: the client IP behind trusted proxies, PeerSig signers, the admin token.

use std::net::{IpAddr, SocketAddr};

use axum::http::{HeaderMap, header};
use secrecy::ExposeSecret as _;

use crate::config::Config;

/// The client address of a request (hub.md §13.2).
pub(crate) fn client_ip(config: &Config, socket: SocketAddr, headers: &HeaderMap) -> IpAddr {
    let forwarded = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    config.http.client_ip(socket.ip(), forwarded)
}

/// What an `Authorization: Bearer` header says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Bearer {
    /// No bearer credential.
    Absent,
    /// The admin token.
    Admin,
    /// Some other bearer credential (a voucher, or a wrong token).
    Other,
}

/// The credential of an `Authorization: Bearer` header, if any.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Classifies the bearer credential; the admin token is compared in constant time.
pub(crate) fn bearer(config: &Config, headers: &HeaderMap) -> Bearer {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Bearer::Absent;
    };
    let Some(token) = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")) else {
        return Bearer::Other;
    };
    match &config.admin.token {
        Some(admin)
            if constant_time_eq(admin.expose_secret().as_bytes(), token.trim().as_bytes()) =>
        {
            Bearer::Admin
        }
        _ => Bearer::Other,
    }
}

/// Equality whose time depends only on the lengths, not on where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_whole_inputs() {
        assert!(constant_time_eq(b"token", b"token"));
        assert!(!constant_time_eq(b"token", b"tokem"));
        assert!(!constant_time_eq(b"token", b"token2"));
        assert!(!constant_time_eq(b"", b"x"));
    }

    #[test]
    fn bearer_recognises_only_the_admin_token() {
        let mut config = Config::default();
        config.admin.token = Some("s3cret".to_owned().into());
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            headers
        };

        assert_eq!(bearer(&config, &HeaderMap::new()), Bearer::Absent);
        assert_eq!(bearer(&config, &with("Bearer s3cret")), Bearer::Admin);
        assert_eq!(bearer(&config, &with("Bearer wrong")), Bearer::Other);
        assert_eq!(bearer(&config, &with("Basic s3cret")), Bearer::Other);
    }
}

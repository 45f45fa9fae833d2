//! The probe's address filter (superhub.md §4.2): a hub record names any URL its operator likes,
//! so before the super hub connects anywhere it resolves the host itself and refuses every
//! address that is not public, then connects to exactly the addresses it checked.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why a host yields no address to connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// The name did not resolve (or resolved to nothing).
    #[error("the host does not resolve")]
    Dns,
    /// At least one resolved address is not public.
    #[error("the host resolves to a non-public address")]
    Blocked,
}

/// Whether `ip` is outside the public internet: loopback, private (10/8, 172.16/12, 192.168/16,
/// fc00::/7), link-local (169.254/16, fe80::/10), CGNAT (100.64/10), unspecified, multicast,
/// broadcast, 0/8, 240/4, a documentation range (192.0.2/24, 198.51.100/24, 203.0.113/24,
/// 2001:db8::/32), or an IPv4-mapped or -compatible IPv6 form of any of these.
pub fn is_blocked(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_blocked_v4(v4),
        IpAddr::V6(v6) => is_blocked_v6(v6),
    }
}

fn is_blocked_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b))
        || (a, b, c) == (192, 0, 2)
        || (a, b, c) == (198, 51, 100)
        || (a, b, c) == (203, 0, 113)
}

fn is_blocked_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_blocked_v4(v4);
    }
    let segments = ip.segments();
    // The deprecated IPv4-compatible form ::a.b.c.d (but not :: and ::1, handled below).
    if segments[..6].iter().all(|s| *s == 0) && segments[6] != 0 {
        return is_blocked_v4(Ipv4Addr::from(
            (u32::from(segments[6]) << 16) | u32::from(segments[7]),
        ));
    }
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00
        || (segments[0] & 0xffc0) == 0xfe80
        || (segments[0], segments[1]) == (0x2001, 0x0db8)
}

/// Resolves `host` (a name or an IP literal, IPv6 with or without brackets) and returns every
/// address with `port`, refusing the whole host when any address is blocked, unless
/// `allow_private`.
///
/// # Errors
/// [`AddressError::Dns`] when nothing resolves, [`AddressError::Blocked`] for a non-public address.
pub async fn resolve_checked(
    host: &str,
    port: u16,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, AddressError> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|_| AddressError::Dns)?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(AddressError::Dns);
    }
    if !allow_private && addrs.iter().any(|a| is_blocked(a.ip())) {
        return Err(AddressError::Blocked);
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn every_non_public_range_is_blocked_when_checking_both_families() {
        let blocked = [
            "127.0.0.1",
            "127.255.255.254",
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "239.255.255.255",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.10",
            "198.51.100.10",
            "203.0.113.10",
            "::1",
            "::",
            "fc00::1",
            "fdff:ffff::1",
            "fe80::1",
            "febf::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "::ffff:192.168.0.1",
            "::127.0.0.1",
            "::10.0.0.1",
        ];
        for text in blocked {
            assert!(is_blocked(ip(text)), "{text} must be blocked");
        }
    }

    #[test]
    fn public_addresses_pass_including_neighbours_of_blocked_ranges() {
        let public = [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "169.253.0.1",
            "192.0.3.1",
            "198.51.101.1",
            "203.0.114.1",
            "223.255.255.255",
            "2606:4700::1111",
            "2a00:1450::1",
            "2001:db9::1",
            "fe00::1",
            "::ffff:1.1.1.1",
            "::8.8.8.8",
        ];
        for text in public {
            assert!(!is_blocked(ip(text)), "{text} must pass");
        }
    }

    #[tokio::test]
    async fn localhost_is_blocked_after_resolving_and_allowed_when_private_is_allowed() {
        let blocked = resolve_checked("localhost", 80, false).await;
        let allowed = resolve_checked("localhost", 80, true).await.unwrap();

        assert_eq!(blocked, Err(AddressError::Blocked));
        assert!(
            allowed
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 80)
        );
    }

    #[tokio::test]
    async fn ip_literals_are_checked_without_resolving() {
        assert_eq!(
            resolve_checked("[::1]", 443, false).await,
            Err(AddressError::Blocked)
        );
        assert_eq!(
            resolve_checked("1.1.1.1", 443, false).await,
            Ok(vec![SocketAddr::from(([1, 1, 1, 1], 443))])
        );
    }

    #[tokio::test]
    async fn an_unresolvable_name_is_a_dns_error() {
        let result = resolve_checked("no-such-host.invalid", 80, true).await;

        assert_eq!(result, Err(AddressError::Dns));
    }
}

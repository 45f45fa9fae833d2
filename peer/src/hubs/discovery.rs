//! What a hub is (peer.md §3): `GET /api/capabilities` decides the kind, `GET /api/v1/info` gives a
//! signed hub's id and relay admission, `GET /relay` its relay ([`RelayInfo`], filtered by §3.5
//! rule 1), `GET /api/v1/membership` our membership there.

use std::time::Duration;

use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::Value;
use shared::ids::Ed25519PeerId;

use super::client::{HTTP_TIMEOUT, HubCallError, HubClient};
use super::{Admission, HubKind, RelayInfo};

/// `/api/v1/info`, the fields the presence client uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// The hub id.
    pub id: Ed25519PeerId,
    /// `relay.reservations`.
    pub reservations: Admission,
    /// `relay.circuit_sources`.
    pub circuit_sources: Admission,
}

/// `GET /api/v1/membership` (hub.md §6.3).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Membership {
    /// Account state.
    pub state: String,
    /// Tier, when bound.
    #[serde(default)]
    pub tier: Option<String>,
    /// Rights the hub grants now.
    #[serde(default)]
    pub entitlements: Entitlements,
}

/// `entitlements` of a membership.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct Entitlements {
    /// May publish presence.
    #[serde(default)]
    pub presence: bool,
    /// May reserve at the relay.
    #[serde(default)]
    pub relay: bool,
    /// May get a voucher.
    #[serde(default)]
    pub voucher: bool,
}

/// The hub kind from `/api/capabilities`.
///
/// # Errors
/// Anything but 200 with a JSON object, or 404 (legacy), makes the hub failing.
pub async fn read_kind(client: &HubClient) -> Result<HubKind, HubCallError> {
    let answer = client
        .call(Method::GET, "/api/capabilities", None, HTTP_TIMEOUT)
        .await?;
    match answer.status {
        StatusCode::NOT_FOUND => Ok(HubKind::Legacy),
        StatusCode::OK => kind_of(&answer.body),
        _ => Err(answer.error()),
    }
}

/// The kind named by a capabilities document.
///
/// # Errors
/// [`HubCallError::Malformed`] when it is not a JSON object.
pub fn kind_of(body: &[u8]) -> Result<HubKind, HubCallError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) if map.get("signed_presence") == Some(&Value::Bool(true)) => {
            Ok(HubKind::Signed)
        }
        Ok(Value::Object(_)) => Ok(HubKind::Legacy),
        _ => Err(HubCallError::Malformed(
            "capabilities are not a JSON object".to_owned(),
        )),
    }
}

/// `/api/v1/info` of a signed hub.
///
/// # Errors
/// Unreachable, not 200, or an `id` that is not an Ed25519 PeerId.
pub async fn read_info(client: &HubClient) -> Result<Info, HubCallError> {
    let answer = client
        .call(Method::GET, "/api/v1/info", None, HTTP_TIMEOUT)
        .await?;
    if answer.status != StatusCode::OK {
        return Err(answer.error());
    }
    info_of(&answer.body)
}

/// Parses an info document.
///
/// # Errors
/// [`HubCallError::Malformed`].
pub fn info_of(body: &[u8]) -> Result<Info, HubCallError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| HubCallError::Malformed(e.to_string()))?;
    let id = value["id"]
        .as_str()
        .and_then(|id| id.parse::<Ed25519PeerId>().ok())
        .ok_or_else(|| HubCallError::Malformed("info id is not an Ed25519 PeerId".to_owned()))?;
    let admission = |key: &str| match value["relay"][key].as_str() {
        Some("any") => Admission::Any,
        _ => Admission::Members,
    };
    Ok(Info {
        id,
        reservations: admission("reservations"),
        circuit_sources: admission("circuit_sources"),
    })
}

/// `GET /api/v1/membership`, signed.
///
/// # Errors
/// [`HubCallError`].
pub async fn read_membership(client: &HubClient) -> Result<Membership, HubCallError> {
    let answer = client
        .signed(
            "membership",
            Method::GET,
            "/api/v1/membership",
            None,
            HTTP_TIMEOUT,
        )
        .await?;
    if answer.status != StatusCode::OK {
        return Err(answer.error());
    }
    answer.json()
}

/// `GET /relay`: `None` when the hub has no relay (404).
///
/// # Errors
/// [`HubCallError`] for other failures.
pub async fn read_relay(
    client: &HubClient,
    expected: Option<&PeerId>,
) -> Result<Option<RelayInfo>, HubCallError> {
    let answer = client
        .call(Method::GET, "/relay", None, HTTP_TIMEOUT)
        .await?;
    match answer.status {
        StatusCode::NOT_FOUND => Ok(None),
        StatusCode::OK => relay_of(&answer.body, client.url().is_loopback(), expected).map(Some),
        _ => Err(answer.error()),
    }
}

#[derive(Deserialize)]
struct RawRelay {
    peer_id: String,
    #[serde(default)]
    addrs: Vec<String>,
    #[serde(default)]
    cleanup_delay_sec: f64,
    #[serde(default)]
    poll_deadline_sec: f64,
    #[serde(default)]
    connect_timeout_sec: f64,
    #[serde(default)]
    refresh_interval_sec: f64,
    #[serde(default)]
    recovery_grace_sec: f64,
}

/// Parses `/relay` and filters its addresses (peer.md §3.5 rule 1). `expected`: the hub id a
/// signed hub's relay must have.
///
/// # Errors
/// [`HubCallError::Malformed`] for bad JSON, a bad `peer_id` or one other than `expected`.
pub fn relay_of(
    body: &[u8],
    hub_is_loopback: bool,
    expected: Option<&PeerId>,
) -> Result<RelayInfo, HubCallError> {
    let raw: RawRelay =
        serde_json::from_slice(body).map_err(|e| HubCallError::Malformed(e.to_string()))?;
    let peer_id: PeerId = raw
        .peer_id
        .parse()
        .map_err(|_| HubCallError::Malformed("relay peer_id".to_owned()))?;
    if expected.is_some_and(|id| id != &peer_id) {
        return Err(HubCallError::Malformed(
            "relay peer_id is not the hub id".to_owned(),
        ));
    }
    let secs = |value: f64, default: f64| {
        let value = if value.is_finite() && value > 0.0 {
            value.min(3600.0)
        } else {
            default
        };
        Duration::from_secs_f64(value)
    };
    Ok(RelayInfo {
        addrs: filter_addrs(&raw.addrs, &peer_id, hub_is_loopback),
        peer_id,
        cleanup_delay: secs(raw.cleanup_delay_sec, 0.5),
        poll_deadline: secs(raw.poll_deadline_sec, 5.0),
        connect_timeout: secs(raw.connect_timeout_sec, 5.0),
        refresh_interval: secs(raw.refresh_interval_sec, 90.0),
        recovery_grace: secs(raw.recovery_grace_sec, 2.0),
    })
}

/// Relay addresses kept (at most this many).
const MAX_RELAY_ADDRS: usize = 20;

/// §3.5 rule 1: drop loopback unless the hub is on loopback, drop link-local and unparsable
/// entries and those naming another PeerId, append `/p2p/<relay>` where missing, private LAN
/// before public.
pub fn filter_addrs(raw: &[String], relay: &PeerId, hub_is_loopback: bool) -> Vec<Multiaddr> {
    let mut private = Vec::new();
    let mut public = Vec::new();
    for text in raw.iter().take(64) {
        let Ok(mut addr) = text.parse::<Multiaddr>() else {
            continue;
        };
        let ids: Vec<PeerId> = addr
            .iter()
            .filter_map(|p| match p {
                Protocol::P2p(id) => Some(id),
                _ => None,
            })
            .collect();
        if ids.iter().any(|id| id != relay) {
            continue;
        }
        let list = match addr.iter().next() {
            Some(Protocol::Ip4(ip)) if ip.is_loopback() && !hub_is_loopback => continue,
            Some(Protocol::Ip6(ip)) if ip.is_loopback() && !hub_is_loopback => continue,
            Some(Protocol::Ip4(ip)) if ip.is_link_local() || ip.is_unspecified() => continue,
            Some(Protocol::Ip6(ip)) if ip.is_unicast_link_local() || ip.is_unspecified() => {
                continue;
            }
            Some(Protocol::Ip4(ip)) if ip.is_private() || ip.is_loopback() => &mut private,
            Some(Protocol::Ip6(ip)) if ip.is_unique_local() || ip.is_loopback() => &mut private,
            Some(
                Protocol::Ip4(_)
                | Protocol::Ip6(_)
                | Protocol::Dns(_)
                | Protocol::Dns4(_)
                | Protocol::Dns6(_)
                | Protocol::Dnsaddr(_),
            ) => &mut public,
            _ => continue,
        };
        if ids.is_empty() {
            addr.push(Protocol::P2p(*relay));
        }
        if !list.contains(&addr) {
            list.push(addr);
        }
    }
    private.extend(public);
    private.truncate(MAX_RELAY_ADDRS);
    private
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn capabilities_decide_the_kind() {
        assert_eq!(kind_of(br#"{"signed_presence":true}"#), Ok(HubKind::Signed));
        assert_eq!(
            kind_of(br#"{"signed_presence":"true"}"#),
            Ok(HubKind::Legacy)
        );
        assert_eq!(kind_of(br#"{"relay":true}"#), Ok(HubKind::Legacy));
        assert!(kind_of(b"[]").is_err());
        assert!(kind_of(b"<html>").is_err());
    }

    #[test]
    fn info_needs_an_ed25519_id() {
        let id = Ed25519PeerId::from(libp2p::identity::ed25519::Keypair::generate().public());
        let body = format!(r#"{{"id":"{id}","relay":{{"reservations":"any"}}}}"#);
        let info = info_of(body.as_bytes()).unwrap();
        assert_eq!(info.id, id);
        assert_eq!(info.reservations, Admission::Any);
        assert_eq!(info.circuit_sources, Admission::Members);
        assert!(info_of(br#"{"id":"QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"}"#).is_err());
        assert!(info_of(b"{}").is_err());
    }

    #[test]
    fn relay_addresses_are_filtered_and_ordered() {
        let relay = PeerId::random();
        let other = PeerId::random();
        let raw: Vec<String> = vec![
            "/ip4/203.0.113.5/tcp/4001".into(),
            format!("/ip4/192.168.1.2/tcp/4001/p2p/{relay}"),
            "/ip4/127.0.0.1/tcp/4001".into(),
            "/ip4/169.254.0.1/tcp/4001".into(),
            format!("/ip4/10.0.0.1/tcp/4001/p2p/{other}"),
            "garbage".into(),
        ];
        let kept = filter_addrs(&raw, &relay, false);
        assert_eq!(
            kept,
            vec![
                format!("/ip4/192.168.1.2/tcp/4001/p2p/{relay}")
                    .parse::<Multiaddr>()
                    .unwrap(),
                format!("/ip4/203.0.113.5/tcp/4001/p2p/{relay}")
                    .parse()
                    .unwrap(),
            ]
        );
        assert_eq!(filter_addrs(&raw, &relay, true).len(), 3);
    }

    #[test]
    fn relay_zero_values_take_defaults_and_the_id_must_match() {
        let relay = PeerId::random();
        let body = format!(r#"{{"peer_id":"{relay}","addrs":[],"cleanup_delay_sec":0}}"#);
        let info = relay_of(body.as_bytes(), false, Some(&relay)).unwrap();
        assert_eq!(info.cleanup_delay, Duration::from_millis(500));
        assert_eq!(info.refresh_interval, Duration::from_secs(90));
        assert!(relay_of(body.as_bytes(), false, Some(&PeerId::random())).is_err());
        assert!(relay_of(b"{\"peer_id\":1}", false, None).is_err());
    }

    proptest! {
        #[test]
        fn hostile_documents_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = kind_of(&body);
            let _ = info_of(&body);
            let _ = relay_of(&body, false, None);
        }
    }
}

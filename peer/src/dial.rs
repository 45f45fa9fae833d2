//! Reaching a peer X (peer.md §2.1), used by every client protocol: an existing connection, else
//! X's direct addresses (3 s, all at once), else circuit addresses through the relays of the hubs
//! that report X plus the circuit addresses X published (5 s).
//!
//! Direct loopback and link-local addresses are dialled only when a hub that reports X is itself
//! on loopback (a LAN or test setup); gossip alone never makes them dialable. A hub relay that
//! admits only members as circuit sources is used only while our membership there grants `relay`
//! or it accepted one of our vouchers (§3.5 rule 8, presented here before the circuit dial).

use std::time::Duration;

use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};

use crate::hubs::{HubView, PulseOutcome};
use crate::node::Node;
use crate::p2p::NetError;

/// Deadline of a direct dial (peer.md §13).
pub const DIRECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Deadline of a dial through relay circuits (peer.md §13).
pub const CIRCUIT_TIMEOUT: Duration = Duration::from_secs(5);
/// Wait between a pulse answer and the retry through that hub (peer.md §2.1 step 4).
const PULSE_SETTLE: Duration = Duration::from_secs(1);
/// Most addresses tried per step.
const MAX_ADDRS: usize = 32;

/// Why a peer could not be reached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialError {
    /// No path to the peer worked.
    #[error("peer unreachable: {0}")]
    Unreachable(String),
    /// The peer is shutting down.
    #[error("the peer is shutting down")]
    Stopped,
}

/// Makes sure a connection to `peer` exists (peer.md §2.1).
///
/// # Errors
/// [`DialError`].
pub async fn connect(node: &Node, peer: PeerId) -> Result<(), DialError> {
    if node
        .net
        .is_connected(peer)
        .await
        .map_err(|_| DialError::Stopped)?
    {
        return Ok(());
    }
    let hubs: Vec<HubView> = node
        .peers
        .hubs_seeing(&peer)
        .iter()
        .filter_map(|url| node.hubs.get(url))
        .collect();
    let loopback_ok = hubs.iter().any(|h| h.url.is_loopback());
    let known = node.peers.addrs(&peer);
    let mut failures = Vec::new();

    let direct = direct_addrs(&known, loopback_ok);
    if !direct.is_empty() {
        match node.net.dial(peer, direct, DIRECT_TIMEOUT).await {
            Ok(()) => return Ok(()),
            Err(NetError::Stopped) => return Err(DialError::Stopped),
            Err(error) => failures.push(format!("direct: {error}")),
        }
    }

    present_vouchers(node, &hubs, &known).await;
    let usable = |hub: &HubView| usable_relay(node, hub);
    let circuits = circuit_addrs(&known, peer, &hubs, usable, |relay| {
        node.hubs.by_relay(relay)
    });
    if !circuits.is_empty() {
        connect_relays(node, &hubs).await;
        match node.net.dial(peer, circuits.clone(), CIRCUIT_TIMEOUT).await {
            Ok(()) => return Ok(()),
            Err(NetError::Stopped) => return Err(DialError::Stopped),
            Err(error) => {
                // A refused circuit may mean our voucher is no longer accepted: present again.
                for relay in circuits.iter().filter_map(relay_of) {
                    node.circuit_vouchers.forget(&relay);
                }
                failures.push(format!("circuit: {error}"));
            }
        }
    }

    // Step 4: a hub whose relay we may use and that reports X asks X to refresh its
    // reservation; then its circuits are tried once more.
    for hub in hubs
        .iter()
        .filter(|h| h.relay.is_some() && usable_relay(node, h))
    {
        match node.hubs.pulse(&hub.url, &peer).await {
            Ok(PulseOutcome::Answered(answer)) => {
                tracing::debug!(%peer, hub = %hub.url, %answer, "pulse answered");
                tokio::time::sleep(PULSE_SETTLE).await;
                let retry = circuit_addrs(&[], peer, std::slice::from_ref(hub), |_| true, |_| None);
                match node.net.dial(peer, retry, CIRCUIT_TIMEOUT).await {
                    Ok(()) => return Ok(()),
                    Err(NetError::Stopped) => return Err(DialError::Stopped),
                    Err(error) => failures.push(format!("after pulse at {}: {error}", hub.url)),
                }
            }
            Ok(PulseOutcome::Skip(code)) => failures.push(format!("pulse at {}: {code}", hub.url)),
            Err(error) => failures.push(format!("pulse at {}: {error}", hub.url)),
        }
    }

    if failures.is_empty() {
        failures.push("no known address".to_owned());
    }
    tracing::debug!(%peer, reasons = ?failures, "peer unreachable");
    Err(DialError::Unreachable(failures.join("; ")))
}

/// Presents our vouchers to the relays that need one before we may open circuits through them
/// (§3.5 rule 8): those of the hubs reporting X and of the hubs behind X's published circuits.
async fn present_vouchers(node: &Node, hubs: &[HubView], known: &[Multiaddr]) {
    let mut relays: Vec<HubView> = hubs.to_vec();
    for hub in known
        .iter()
        .filter_map(relay_of)
        .filter_map(|r| node.hubs.by_relay(&r))
    {
        if !relays.iter().any(|h| h.url == hub.url) {
            relays.push(hub);
        }
    }
    for hub in relays
        .iter()
        .filter(|h| crate::relay::voucher::needs_voucher(h))
    {
        crate::relay::voucher::ensure(node, hub).await;
    }
}

/// Connects to the relays of `hubs` first: the relay client gives up on a circuit whose relay
/// connection it has to dial while another dial to that relay (a reservation) is in flight.
async fn connect_relays(node: &Node, hubs: &[HubView]) {
    let dials = hubs.iter().filter_map(|hub| {
        let relay = hub.relay.as_ref()?;
        Some(
            node.net
                .dial(relay.peer_id, relay.addrs.clone(), relay.connect_timeout),
        )
    });
    for result in futures::future::join_all(dials).await {
        if let Err(error) = result {
            tracing::debug!(%error, "relay not reachable before a circuit dial");
        }
    }
}

/// Step 2: X's addresses without circuits, loopback and link-local only when `loopback_ok`.
fn direct_addrs(known: &[Multiaddr], loopback_ok: bool) -> Vec<Multiaddr> {
    let mut addrs: Vec<Multiaddr> = Vec::new();
    for addr in known {
        if is_circuit(addr) || (!loopback_ok && is_local(addr)) || addrs.contains(addr) {
            continue;
        }
        addrs.push(addr.clone());
    }
    addrs.truncate(MAX_ADDRS);
    addrs
}

/// Step 3: `<relay addr>/p2p-circuit/p2p/X` for the relay of every hub reporting X, then the
/// circuit addresses X published; only relays `usable` admits us at (rule 8) are used.
/// `hub_of_relay` finds the hub behind a published circuit's relay.
fn circuit_addrs(
    known: &[Multiaddr],
    peer: PeerId,
    hubs: &[HubView],
    usable: impl Fn(&HubView) -> bool,
    hub_of_relay: impl Fn(&PeerId) -> Option<HubView>,
) -> Vec<Multiaddr> {
    let mut addrs: Vec<Multiaddr> = Vec::new();
    let mut push = |addr: Multiaddr| {
        if !addrs.contains(&addr) {
            addrs.push(addr);
        }
    };
    for hub in hubs.iter().filter(|h| usable(h)) {
        let Some(relay) = &hub.relay else { continue };
        for addr in &relay.addrs {
            push(
                addr.clone()
                    .with(Protocol::P2pCircuit)
                    .with(Protocol::P2p(peer)),
            );
        }
    }
    for addr in known.iter().filter(|a| is_circuit(a)) {
        let Some(addr) = ending_in(addr, peer) else {
            continue;
        };
        // The relay client needs the relay's PeerId right before `/p2p-circuit`.
        let Some(relay) = relay_of(&addr) else {
            continue;
        };
        if hub_of_relay(&relay).is_some_and(|hub| !usable(&hub)) {
            continue;
        }
        push(addr);
    }
    addrs.truncate(MAX_ADDRS);
    addrs
}

/// Whether we may open circuits through the relay of `hub` as source (§3.5 rule 8): it admits
/// any source, our membership grants `relay`, or it accepted one of our vouchers.
fn usable_relay(node: &Node, hub: &HubView) -> bool {
    hub.circuit_source_allowed()
        || hub.relay.as_ref().is_some_and(|r| {
            node.circuit_vouchers
                .accepted(&r.peer_id, node.clock.now_ms())
        })
}

fn is_circuit(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| matches!(p, Protocol::P2pCircuit))
}

/// `addr` ending in `/p2p/<peer>` (appended when missing); `None` when it names another peer.
fn ending_in(addr: &Multiaddr, peer: PeerId) -> Option<Multiaddr> {
    match addr.iter().last() {
        Some(Protocol::P2p(id)) if id == peer => Some(addr.clone()),
        Some(Protocol::P2p(_)) => None,
        _ => Some(addr.clone().with(Protocol::P2p(peer))),
    }
}

/// The relay of a circuit address: the `/p2p/` just before `/p2p-circuit`.
pub(crate) fn relay_of(addr: &Multiaddr) -> Option<PeerId> {
    let mut previous = None;
    for protocol in addr.iter() {
        if matches!(protocol, Protocol::P2pCircuit) {
            return previous;
        }
        previous = match protocol {
            Protocol::P2p(id) => Some(id),
            _ => None,
        };
    }
    None
}

/// Loopback or link-local IP.
fn is_local(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| match p {
        Protocol::Ip4(ip) => ip.is_loopback() || ip.is_link_local(),
        Protocol::Ip6(ip) => ip.is_loopback() || ip.is_unicast_link_local(),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::hub_url::HubUrl;
    use crate::hubs::{Admission, RelayInfo};
    use crate::store::HubSource;

    fn addr(text: &str) -> Multiaddr {
        text.parse().unwrap()
    }

    fn hub_with_relay(relay: PeerId, sources: Admission, entitled: bool) -> HubView {
        let mut view = HubView::new(HubUrl::parse("http://hub.example").unwrap(), HubSource::Api);
        view.circuit_sources = sources;
        view.relay_entitled = entitled;
        view.relay = Some(RelayInfo {
            peer_id: relay,
            addrs: vec![addr("/ip4/203.0.113.1/tcp/4001").with(Protocol::P2p(relay))],
            cleanup_delay: Duration::from_millis(500),
            poll_deadline: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            refresh_interval: Duration::from_secs(90),
            recovery_grace: Duration::from_secs(2),
        });
        view
    }

    #[test]
    fn direct_addresses_skip_circuits_and_local_ones_unless_a_hub_is_on_loopback() {
        let known = [
            addr("/ip4/127.0.0.1/tcp/1"),
            addr("/ip4/169.254.1.1/tcp/2"),
            addr("/ip6/fe80::1/tcp/3"),
            addr("/ip4/192.168.1.5/tcp/4"),
            addr("/ip4/192.168.1.5/tcp/4"),
            addr("/ip4/203.0.113.9/tcp/5/p2p-circuit"),
        ];

        assert_eq!(direct_addrs(&known, false), [known[3].clone()]);
        assert_eq!(direct_addrs(&known, true), known[..4].to_vec());
    }

    #[test]
    fn circuit_addresses_go_through_hub_relays_then_published_ones() {
        let (peer, relay, other_relay) = (PeerId::random(), PeerId::random(), PeerId::random());
        let hub = hub_with_relay(relay, Admission::Any, false);
        let published = addr("/ip4/198.51.100.7/tcp/4001")
            .with(Protocol::P2p(other_relay))
            .with(Protocol::P2pCircuit);
        let foreign = published.clone().with(Protocol::P2p(PeerId::random()));

        let addrs = circuit_addrs(
            &[published.clone(), foreign],
            peer,
            &[hub],
            entitled,
            |_| None,
        );

        let via_hub = addr("/ip4/203.0.113.1/tcp/4001")
            .with(Protocol::P2p(relay))
            .with(Protocol::P2pCircuit)
            .with(Protocol::P2p(peer));
        assert_eq!(addrs, [via_hub, published.with(Protocol::P2p(peer))]);
    }

    #[test]
    fn members_only_relays_are_skipped_without_our_entitlement_there() {
        let (peer, relay) = (PeerId::random(), PeerId::random());
        let hub = hub_with_relay(relay, Admission::Members, false);
        let published = addr("/ip4/203.0.113.1/tcp/4001")
            .with(Protocol::P2p(relay))
            .with(Protocol::P2pCircuit)
            .with(Protocol::P2p(peer));
        let lookup = |r: &PeerId| (*r == relay).then(|| hub.clone());

        let one = std::slice::from_ref(&published);
        assert!(circuit_addrs(one, peer, std::slice::from_ref(&hub), entitled, lookup).is_empty());
        let voucher_accepted =
            circuit_addrs(one, peer, std::slice::from_ref(&hub), |_| true, lookup);
        assert_eq!(
            voucher_accepted.len(),
            1,
            "a relay that accepted our voucher is used"
        );
        let reserving_anyone = HubView {
            relay_allowed: true,
            ..hub.clone()
        };
        let open_reservations = circuit_addrs(
            one,
            peer,
            std::slice::from_ref(&reserving_anyone),
            entitled,
            |_| Some(reserving_anyone.clone()),
        );
        assert!(
            open_reservations.is_empty(),
            "a relay open to anyone's reservation still admits only members as sources"
        );
        let member = HubView {
            relay_entitled: true,
            ..hub.clone()
        };
        let addrs = circuit_addrs(one, peer, std::slice::from_ref(&member), entitled, |_| {
            Some(member.clone())
        });
        assert_eq!(addrs, [published]);
    }

    #[test]
    fn the_relay_of_a_circuit_address_is_the_peer_before_p2p_circuit() {
        let relay = PeerId::random();
        let circuit = addr("/dns4/hub.example/tcp/4001")
            .with(Protocol::P2p(relay))
            .with(Protocol::P2pCircuit)
            .with(Protocol::P2p(PeerId::random()));
        assert_eq!(relay_of(&circuit), Some(relay));
        assert_eq!(relay_of(&addr("/ip4/1.2.3.4/tcp/1/p2p-circuit")), None);
        assert_eq!(relay_of(&addr("/ip4/1.2.3.4/tcp/1")), None);
    }

    /// The rule-8 test without vouchers: any source, or our entitlement.
    fn entitled(hub: &HubView) -> bool {
        hub.circuit_source_allowed()
    }

    /// A multiaddr from bytes (empty when they do not parse) or a TCP address, maybe a circuit.
    fn any_addr() -> impl proptest::strategy::Strategy<Value = Multiaddr> {
        use proptest::prelude::*;
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..64)
                .prop_map(|b| Multiaddr::try_from(b).unwrap_or_else(|_| Multiaddr::empty())),
            (any::<[u8; 4]>(), any::<u16>(), any::<bool>()).prop_map(|(ip, port, circuit)| {
                let addr = Multiaddr::empty()
                    .with(Protocol::Ip4(ip.into()))
                    .with(Protocol::Tcp(port))
                    .with(Protocol::P2p(PeerId::random()));
                if circuit {
                    addr.with(Protocol::P2pCircuit)
                } else {
                    addr
                }
            }),
        ]
    }

    proptest::proptest! {
        #[test]
        fn hostile_addresses_never_panic_and_circuits_always_end_in_the_target(
            known in proptest::collection::vec(any_addr(), 0..80),
            loopback_ok: bool,
        ) {
            let peer = PeerId::random();
            let hub = hub_with_relay(PeerId::random(), Admission::Any, false);
            let direct = direct_addrs(&known, loopback_ok);
            let circuits = circuit_addrs(&known, peer, &[hub], entitled, |_| None);

            proptest::prop_assert!(direct.len() <= MAX_ADDRS && circuits.len() <= MAX_ADDRS);
            proptest::prop_assert!(direct.iter().all(|a| !is_circuit(a)));
            proptest::prop_assert!(circuits
                .iter()
                .all(|a| is_circuit(a) && a.iter().last() == Some(Protocol::P2p(peer))));
        }
    }
}

//! The composed libp2p behaviour of the hub: connection limits (total, per peer, per IP and by
//! memory), identify, ping, the circuit relay
//! v2 server behind the entitlement gate, the hub's own rendezvous server, and an AutoNAT v1
//! server that never confirms addresses for the hub itself.

use std::collections::HashSet;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use libp2p::identity::Keypair;
use libp2p::swarm::NetworkBehaviour;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::{
    PeerId, autonat, connection_limits, identify, memory_connection_limits, ping, relay,
    request_response,
};
use serde::{Deserialize, Serialize};
use shared::protocol;

use super::per_ip::PerIp;
use super::rendezvous;
use crate::config::{Config, Policy, RateLimit};
use crate::entitlements::Entitlements;

/// Peers the gate refused since the event loop last looked; lets metrics tell a membership refusal
/// from a limit (hub.md §15 `hub_relay_denied_total`).
pub(crate) type Refusals = Arc<Mutex<HashSet<PeerId>>>;

const VOUCHER_REQUEST_MAX: u64 = 4 * 1024;
const VOUCHER_RESPONSE_MAX: u64 = 1024;
const VOUCHER_TIMEOUT: Duration = Duration::from_secs(10);

/// A presented voucher.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct VoucherRequest {
    pub(crate) voucher: String,
}

/// The answer to a presented voucher.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct VoucherResponse {
    pub(crate) ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) expires_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

/// Everything the hub speaks over libp2p.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub(crate) limits: connection_limits::Behaviour,
    pub(crate) per_ip: PerIp,
    pub(crate) memory: memory_connection_limits::Behaviour,
    pub(crate) identify: identify::Behaviour,
    pub(crate) ping: ping::Behaviour,
    pub(crate) relay: Toggle<relay::Behaviour>,
    pub(crate) rendezvous: Toggle<rendezvous::Server>,
    pub(crate) autonat: Toggle<autonat::Behaviour>,
    pub(crate) voucher: request_response::json::Behaviour<VoucherRequest, VoucherResponse>,
    /// Outbound raw streams: `/goop/relay-refresh/1.0.0` for `POST /api/pulse`.
    pub(crate) stream: libp2p_stream::Behaviour,
}

impl Behaviour {
    pub(crate) fn new(
        key: &Keypair,
        config: &Config,
        entitlements: &Entitlements,
        refusals: &Refusals,
    ) -> Self {
        let p2p = &config.p2p;
        let limits = connection_limits::ConnectionLimits::default()
            .with_max_established(Some(p2p.max_connections))
            .with_max_established_per_peer(Some(p2p.max_connections_per_peer))
            .with_max_pending_incoming(Some(p2p.max_pending_incoming));
        let identify = identify::Behaviour::new(
            identify::Config::new(protocol::IDENTIFY_PROTOCOL_VERSION.to_owned(), key.public())
                .with_agent_version(protocol::agent_version(protocol::HUB_SOFTWARE)),
        );
        let local = key.public().to_peer_id();
        let relay = config.relay.enabled.then(|| {
            let mut relay =
                relay::Behaviour::new(local, relay_config(config, entitlements, refusals));
            // rust-libp2p advertises HOP only once an external address is confirmed (hub.md §4.1 rule 3).
            relay.set_status(Some(relay::Status::Enable));
            relay
        });
        let rendezvous = config.rendezvous.enabled.then(|| {
            let rv = &config.rendezvous;
            let entitlements = entitlements.clone();
            rendezvous::Server::new(
                rendezvous::Settings {
                    namespace: config.hub.slug.to_string(),
                    min_ttl: rv.min_ttl_secs,
                    max_ttl: rv.max_ttl_secs,
                    max_registrations: rv.max_registrations,
                },
                Arc::new(move |peer: &PeerId| entitlements.rights(peer).presence),
            )
        });
        let autonat = config.autonat.enabled.then(|| {
            // Server side only: the client never probes (no servers, not even connected peers), so
            // the hub's own addresses are never confirmed by remotes (hub.md §4.1 rule 2).
            autonat::Behaviour::new(
                local,
                autonat::Config {
                    use_connected: false,
                    boot_delay: Duration::from_secs(365 * 24 * 3600),
                    only_global_ips: false,
                    ..autonat::Config::default()
                },
            )
        });
        let voucher = request_response::Behaviour::with_codec(
            request_response::json::codec::Codec::default()
                .set_request_size_maximum(VOUCHER_REQUEST_MAX)
                .set_response_size_maximum(VOUCHER_RESPONSE_MAX),
            [(
                protocol::VOUCHER,
                request_response::ProtocolSupport::Inbound,
            )],
            request_response::Config::default().with_request_timeout(VOUCHER_TIMEOUT),
        );
        Self {
            limits: connection_limits::Behaviour::new(limits),
            per_ip: PerIp::new(
                p2p.max_pending_per_ip as usize,
                p2p.max_connections_per_ip as usize,
            ),
            memory: memory_connection_limits::Behaviour::with_max_bytes(
                (p2p.max_memory_mib << 20) as usize,
            ),
            identify,
            ping: ping::Behaviour::default(),
            relay: relay.into(),
            rendezvous: rendezvous.into(),
            autonat: autonat.into(),
            voucher,
            stream: libp2p_stream::Behaviour::new(),
        }
    }
}

/// The relay's limits (hub.md §4.2) with the entitlement gate first in both limiter chains
/// (hub.md §4.3 rule 1), followed by the per-peer and per-IP token buckets.
fn relay_config(
    config: &Config,
    entitlements: &Entitlements,
    refusals: &Refusals,
) -> relay::Config {
    let relay = &config.relay;
    let gate = |policy: Policy, circuits: bool| -> Box<dyn relay::RateLimiter> {
        let entitlements = entitlements.clone();
        let refusals = refusals.clone();
        Box::new(move |peer: PeerId, _: &libp2p::Multiaddr, _| {
            let admitted = if circuits {
                entitlements.admits_circuit_source(&peer, policy, unix_secs())
            } else {
                entitlements.admits(&peer, policy)
            };
            if !admitted {
                refusals
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(peer);
            }
            admitted
        })
    };
    let limits = &config.rate_limits;
    let (reserve_peer, reserve_ip) = (
        bucket(limits.relay_reserve_peer),
        bucket(limits.relay_reserve_ip),
    );
    let (circuit_peer, circuit_ip) = (
        bucket(limits.relay_circuit_peer),
        bucket(limits.relay_circuit_ip),
    );
    relay::Config {
        max_reservations: relay.max_reservations,
        max_reservations_per_peer: relay.max_reservations_per_peer,
        reservation_duration: relay.reservation_ttl,
        reservation_rate_limiters: vec![gate(relay.reservations, false)],
        max_circuits: relay.max_circuits,
        max_circuits_per_peer: relay.max_circuits_per_peer,
        max_circuit_duration: relay.circuit_max_duration,
        // The library counts both directions against one budget; goop2 allowed this much per
        // direction (hub.md §4.2 rule 1).
        max_circuit_bytes: relay.circuit_max_bytes.saturating_mul(2),
        circuit_src_rate_limiters: vec![gate(relay.circuit_sources, true)],
    }
    .reservation_rate_per_peer(reserve_peer.0, reserve_peer.1)
    .reservation_rate_per_ip(reserve_ip.0, reserve_ip.1)
    .circuit_src_per_peer(circuit_peer.0, circuit_peer.1)
    .circuit_src_per_ip(circuit_ip.0, circuit_ip.1)
}

fn bucket(limit: RateLimit) -> (NonZeroU32, Duration) {
    (
        NonZeroU32::new(limit.burst).unwrap_or(NonZeroU32::MIN),
        limit.refill(),
    )
}

/// The wall clock in unix seconds (voucher expiry is in seconds).
pub(crate) fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

//! The hub's libp2p node: a [`NetworkHandle`] that HTTP handlers and the server use, and an
//! [`EventLoop`] that owns the `Swarm`. Every request to the swarm is a [`Command`] carrying a
//! oneshot reply.

mod behaviour;
mod counting;
mod event_loop;
mod per_ip;
mod rendezvous;

use std::collections::HashMap;
use std::time::Duration;

use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::Boxed;
use libp2p::core::transport::ListenerId;
use libp2p::core::upgrade;
use libp2p::identity::{Keypair, ed25519};
use libp2p::multiaddr::Protocol;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm, Transport as _, noise, tcp, yamux};
use prometheus_client::registry::Registry;
use tokio::sync::{mpsc, oneshot};

pub(crate) use behaviour::{Behaviour, BehaviourEvent};
pub(crate) use event_loop::EventLoop;

use crate::config::{Config, P2pConfig};
use crate::entitlements::Entitlements;
use crate::metrics::{Metrics, TierLabel};

/// Capacity of the command channel from handles to the event loop.
const COMMAND_CAPACITY: usize = 256;
/// How long start-up waits for every listener to report its address.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);

/// A request to the event loop.
#[derive(Debug)]
pub(crate) enum Command {
    /// Report the listeners.
    Status {
        reply: oneshot::Sender<NetworkStatus>,
    },
    /// Whether a peer has an established connection.
    IsConnected {
        peer: PeerId,
        reply: oneshot::Sender<bool>,
    },
    /// Close every connection of a peer whose entitlement ended (hub.md §4.3 rule 2).
    Disconnect {
        peer: PeerId,
        reason: &'static str,
        reply: oneshot::Sender<bool>,
    },
}

/// What the swarm looks like right now.
#[derive(Debug, Clone)]
pub(crate) struct NetworkStatus {
    pub(crate) listen_addrs: Vec<Multiaddr>,
}

/// Clonable handle to the event loop, plus a stream control for outbound raw streams.
#[derive(Clone)]
pub(crate) struct NetworkHandle {
    command_tx: mpsc::Sender<Command>,
    streams: libp2p_stream::Control,
}

impl std::fmt::Debug for NetworkHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkHandle").finish_non_exhaustive()
    }
}

impl NetworkHandle {
    /// Asks the event loop for its status; `None` when it has stopped.
    pub(crate) async fn status(&self) -> Option<NetworkStatus> {
        let (reply, rx) = oneshot::channel();
        self.command_tx.send(Command::Status { reply }).await.ok()?;
        rx.await.ok()
    }

    /// Whether `peer` is connected; `None` when the event loop has stopped.
    pub(crate) async fn is_connected(&self, peer: PeerId) -> Option<bool> {
        let (reply, rx) = oneshot::channel();
        self.command_tx
            .send(Command::IsConnected { peer, reply })
            .await
            .ok()?;
        rx.await.ok()
    }

    /// Opens `protocol` to a connected peer over its existing connection.
    pub(crate) async fn open_stream(
        &self,
        peer: PeerId,
        protocol: libp2p::StreamProtocol,
    ) -> Result<libp2p::Stream, libp2p_stream::OpenStreamError> {
        self.streams.clone().open_stream(peer, protocol).await
    }

    /// Closes every connection to `peer`; answers whether it was connected. `None` when the event
    /// loop has stopped.
    pub(crate) async fn disconnect(&self, peer: PeerId, reason: &'static str) -> Option<bool> {
        let (reply, rx) = oneshot::channel();
        self.command_tx
            .send(Command::Disconnect {
                peer,
                reason,
                reply,
            })
            .await
            .ok()?;
        rx.await.ok()
    }
}

/// Why the libp2p node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartNetworkError {
    /// The transport stack could not be built.
    #[error("libp2p transport: {0}")]
    Transport(String),
    /// A listen address could not be bound.
    #[error("libp2p listen address {addr}: {reason}")]
    Listen {
        /// The configured address.
        addr: Multiaddr,
        /// Why.
        reason: String,
    },
}

/// A started node: its handle, its loop (to be spawned), and the addresses it advertises.
pub(crate) struct Network {
    pub(crate) handle: NetworkHandle,
    pub(crate) event_loop: EventLoop,
    /// `p2p.external_addrs`, or the bound listen addresses when none are configured.
    pub(crate) external_addrs: Vec<Multiaddr>,
}

/// Builds the swarm, binds every listen address and waits until each reports its address.
pub(crate) async fn spawn_network(
    config: &Config,
    key: &ed25519::Keypair,
    registry: &mut Registry,
    entitlements: &Entitlements,
    metrics: &Metrics,
) -> Result<Network, StartNetworkError> {
    let refusals = behaviour::Refusals::default();
    let mut swarm = build_swarm(config, key, registry, entitlements, metrics, &refusals)?;
    let listen_addrs = listen(&mut swarm, config).await?;
    let configured = config
        .external_addrs_for(swarm.local_peer_id())
        .map_err(|e| StartNetworkError::Transport(e.to_string()))?;
    // Without configured external addresses the bound listen addresses stand in (development
    // only, hub.md §4.1 rule 4); relay reservations need at least one address to hand out.
    let external = if configured.is_empty() {
        listen_addrs.clone()
    } else {
        configured
    };
    for addr in &external {
        swarm.add_external_address(addr.clone());
    }
    let (command_tx, command_rx) = mpsc::channel(COMMAND_CAPACITY);
    let streams = swarm.behaviour().stream.new_control();
    let event_loop = EventLoop {
        swarm,
        command_rx,
        libp2p_metrics: libp2p::metrics::Metrics::new(registry),
        metrics: metrics.clone(),
        entitlements: entitlements.clone(),
        refusals,
        reservations: Default::default(),
        external: external.iter().cloned().collect(),
        voucher_issuers: voucher_issuers(key, config),
    };
    Ok(Network {
        handle: NetworkHandle {
            command_tx,
            streams,
        },
        event_loop,
        external_addrs: external,
    })
}

fn build_swarm(
    config: &Config,
    key: &ed25519::Keypair,
    registry: &mut Registry,
    entitlements: &Entitlements,
    metrics: &Metrics,
    refusals: &behaviour::Refusals,
) -> Result<Swarm<Behaviour>, StartNetworkError> {
    let transport_err = |e: &dyn std::fmt::Display| StartNetworkError::Transport(e.to_string());
    let tcp = |key: &Keypair| tcp_transport(key, &config.p2p, entitlements, metrics);
    let builder =
        libp2p::SwarmBuilder::with_existing_identity(Keypair::from(key.clone())).with_tokio();
    #[cfg(feature = "quic")]
    let builder = builder.with_quic();
    let builder = builder
        .with_other_transport(tcp)
        .map_err(|e| transport_err(&e))?;
    let idle = config.p2p.idle_timeout;
    let swarm = builder
        .with_bandwidth_metrics(registry)
        .with_behaviour(|key| Behaviour::new(key, config, entitlements, refusals))
        .map_err(|e| transport_err(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(idle))
        .build();
    Ok(swarm)
}

/// TCP (nodelay) + Noise + Yamux with at most `p2p.max_streams_per_connection` streams, the
/// handshake bounded by `p2p.handshake_timeout_secs`, and every connection's bytes counted under
/// the tier its peer had when it connected (`hub_relay_bytes_total`).
fn tcp_transport(
    key: &Keypair,
    p2p: &P2pConfig,
    entitlements: &Entitlements,
    metrics: &Metrics,
) -> Result<Boxed<(PeerId, StreamMuxerBox)>, Box<dyn std::error::Error + Send + Sync>> {
    let entitlements = entitlements.clone();
    let bytes = metrics.relay_bytes.clone();
    let mut muxer = yamux::Config::default();
    muxer.set_max_num_streams(p2p.max_streams_per_connection as usize);
    Ok(
        tcp::tokio::Transport::new(tcp::Config::default().nodelay(true))
            .upgrade(upgrade::Version::V1Lazy)
            .authenticate(noise::Config::new(key)?)
            .multiplex(muxer)
            .timeout(p2p.handshake_timeout)
            .map(move |(peer, muxer), _| {
                let tier = TierLabel {
                    tier: entitlements.relay_tier(&peer),
                };
                let counter = bytes.get_or_create(&tier).clone();
                (
                    peer,
                    StreamMuxerBox::new(counting::Counting::new(muxer, counter)),
                )
            })
            .boxed(),
    )
}

async fn listen(
    swarm: &mut Swarm<Behaviour>,
    config: &Config,
) -> Result<Vec<Multiaddr>, StartNetworkError> {
    let mut pending: HashMap<ListenerId, Multiaddr> = HashMap::new();
    for addr in listen_addrs(config) {
        let id = swarm
            .listen_on(addr.clone())
            .map_err(|e| StartNetworkError::Listen {
                addr: addr.clone(),
                reason: e.to_string(),
            })?;
        pending.insert(id, addr);
    }
    let mut bound = Vec::new();
    let wait = async {
        use futures::StreamExt as _;
        while !pending.is_empty() {
            match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr {
                    listener_id,
                    address,
                } => {
                    if let Some(configured) = pending.remove(&listener_id) {
                        bound.push(advertised(&configured, &address));
                    }
                }
                SwarmEvent::ListenerClosed {
                    listener_id,
                    reason,
                    ..
                } => {
                    if let Some(addr) = pending.remove(&listener_id) {
                        let reason = match reason {
                            Ok(()) => "closed".to_owned(),
                            Err(e) => e.to_string(),
                        };
                        return Err(StartNetworkError::Listen { addr, reason });
                    }
                }
                SwarmEvent::ListenerError { listener_id, error } => {
                    if let Some(addr) = pending.remove(&listener_id) {
                        return Err(StartNetworkError::Listen {
                            addr,
                            reason: error.to_string(),
                        });
                    }
                }
                _ => {}
            }
        }
        Ok(())
    };
    match tokio::time::timeout(LISTEN_TIMEOUT, wait).await {
        Ok(result) => result?,
        Err(_) => {
            return Err(StartNetworkError::Transport(
                "listeners did not report an address in time".to_owned(),
            ));
        }
    }
    Ok(bound)
}

/// Issuers whose vouchers this hub accepts: itself and `relay.trusted_voucher_issuers`.
fn voucher_issuers(key: &ed25519::Keypair, config: &Config) -> Vec<shared::ids::Ed25519PeerId> {
    let mut issuers = vec![shared::ids::Ed25519PeerId::from(key.public())];
    issuers.extend(config.relay.trusted_voucher_issuers.iter().copied());
    issuers
}

/// The configured listen addresses, plus a QUIC twin of each TCP one when enabled.
fn listen_addrs(config: &Config) -> Vec<Multiaddr> {
    let mut addrs = config.p2p.listen_addrs.clone();
    if config.p2p.quic {
        let quic = addrs.iter().filter_map(|addr| {
            let mut out = Multiaddr::empty();
            for proto in addr {
                match proto {
                    Protocol::Tcp(port) => {
                        out.push(Protocol::Udp(port));
                        out.push(Protocol::QuicV1);
                    }
                    other => out.push(other),
                }
            }
            (out != *addr).then_some(out)
        });
        addrs.extend(quic.collect::<Vec<_>>());
    }
    addrs
}

/// The address to advertise for a listener while no external address is configured
/// (hub.md §4.1 rule 4): the bound address with an unspecified IP replaced by loopback.
fn advertised(configured: &Multiaddr, bound: &Multiaddr) -> Multiaddr {
    let unspecified = configured.iter().any(|p| match p {
        Protocol::Ip4(ip) => ip.is_unspecified(),
        Protocol::Ip6(ip) => ip.is_unspecified(),
        _ => false,
    });
    bound
        .iter()
        .map(|p| match p {
            Protocol::Ip4(_) if unspecified => Protocol::Ip4([127, 0, 0, 1].into()),
            Protocol::Ip6(_) if unspecified => Protocol::Ip6(std::net::Ipv6Addr::LOCALHOST),
            other => other,
        })
        .collect()
}

/// `addr/p2p/<id>`.
pub(crate) fn with_peer_id(addr: &Multiaddr, id: PeerId) -> Multiaddr {
    addr.clone().with(Protocol::P2p(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advertised_address_uses_loopback_when_bound_to_unspecified() {
        let configured: Multiaddr = "/ip4/0.0.0.0/tcp/0".parse().unwrap();
        let bound: Multiaddr = "/ip4/10.1.2.3/tcp/4001".parse().unwrap();

        assert_eq!(
            advertised(&configured, &bound).to_string(),
            "/ip4/127.0.0.1/tcp/4001"
        );
    }

    #[test]
    fn advertised_address_is_bound_address_when_specific() {
        let configured: Multiaddr = "/ip4/127.0.0.1/tcp/0".parse().unwrap();
        let bound: Multiaddr = "/ip4/127.0.0.1/tcp/4242".parse().unwrap();

        assert_eq!(advertised(&configured, &bound), bound);
    }

    #[test]
    fn quic_listeners_mirror_tcp_ports_when_enabled() {
        let mut config = Config::default();
        config.p2p.quic = true;

        let addrs: Vec<String> = listen_addrs(&config)
            .iter()
            .map(ToString::to_string)
            .collect();

        assert_eq!(
            addrs,
            ["/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"]
        );
    }
}

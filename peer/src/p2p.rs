//! The peer's libp2p node (peer.md §2): [`Net`], a clonable handle every subsystem uses, and the
//! event loop that owns the `Swarm`. Requests to the swarm are [`Command`]s with a oneshot reply;
//! what happens in the swarm is broadcast as [`NetEvent`]s. Stream protocols open and accept raw
//! streams through [`Net::streams`] without going through the loop.

mod behaviour;
mod event_loop;
mod inbound;

use std::sync::Arc;
use std::time::Duration;

use libp2p::core::transport::ListenerId;
use libp2p::identity::{Keypair, ed25519};
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId, StreamProtocol, noise, tcp, yamux};
use tokio::sync::{broadcast, mpsc, oneshot};

pub use behaviour::PRESENCE_TOPIC;
pub(crate) use event_loop::EventLoop;
pub use inbound::{AlreadyAccepted, Inbound, Incoming};

use crate::config::P2pConfig;

/// Capacity of the command channel.
const COMMAND_CAPACITY: usize = 256;
/// Capacity of the event broadcast; a subscriber that falls further behind loses events.
const EVENT_CAPACITY: usize = 1024;
/// How long start waits for each listener to report its address.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections with no stream open close after this (peer.md §2).
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Something that happened in the swarm.
#[derive(Debug, Clone)]
pub enum NetEvent {
    /// A connection to `peer` is up.
    ConnectionEstablished {
        /// The remote.
        peer: PeerId,
        /// Its address (a `/p2p-circuit` address when relayed).
        addr: Multiaddr,
        /// Whether it runs through a relay circuit.
        relayed: bool,
    },
    /// A connection to `peer` closed; `remaining` others are still up.
    ConnectionClosed {
        /// The remote.
        peer: PeerId,
        /// Connections to it still established.
        remaining: u32,
    },
    /// A listener reported a new address (for a relay listener: the circuit address).
    NewListenAddr {
        /// The listener.
        listener: ListenerId,
        /// The address.
        addr: Multiaddr,
    },
    /// A listener's address went away.
    ExpiredListenAddr {
        /// The listener.
        listener: ListenerId,
        /// The address.
        addr: Multiaddr,
    },
    /// A listener closed (a relay listener whose reservation failed or whose relay went away).
    ListenerClosed {
        /// The listener.
        listener: ListenerId,
        /// Why, when it failed.
        error: Option<String>,
    },
    /// A relay accepted (or renewed) our reservation.
    ReservationAccepted {
        /// The relay.
        relay: PeerId,
        /// Whether it renewed an existing one.
        renewal: bool,
    },
    /// Identify told us about a remote.
    Identified {
        /// The remote.
        peer: PeerId,
        /// Its agent version (`goop-peer/…`, `goop-hub/…`, goop2's …).
        agent: String,
        /// The protocols it supports.
        protocols: Vec<StreamProtocol>,
        /// The addresses it listens on.
        listen_addrs: Vec<Multiaddr>,
    },
    /// A gossip message on a subscribed topic passed signature validation.
    Gossip {
        /// The signed source (checked by GossipSub's strict validation).
        source: PeerId,
        /// The topic.
        topic: String,
        /// The payload.
        data: Arc<Vec<u8>>,
    },
    /// AutoNAT's view of our reachability changed.
    Reachability(Reachability),
}

/// Our reachability as AutoNAT sees it (peer.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Reachability {
    /// Dial-backs reached us.
    Public,
    /// They did not.
    Private,
    /// Not known yet.
    Unknown,
}

/// A request to the event loop.
#[derive(Debug)]
pub(crate) enum Command {
    Dial {
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        reply: oneshot::Sender<Result<(), String>>,
    },
    IsConnected {
        peer: PeerId,
        reply: oneshot::Sender<bool>,
    },
    Disconnect {
        peer: PeerId,
        reply: oneshot::Sender<bool>,
    },
    ListenOn {
        addr: Multiaddr,
        reply: oneshot::Sender<Result<ListenerId, String>>,
    },
    RemoveListener {
        listener: ListenerId,
        reply: oneshot::Sender<bool>,
    },
    Publish {
        topic: String,
        data: Vec<u8>,
        reply: oneshot::Sender<Result<(), String>>,
    },
    AddExternalAddress {
        addr: Multiaddr,
    },
    Status {
        reply: oneshot::Sender<NetStatus>,
    },
    CloseRelayed {
        peer: PeerId,
        reply: oneshot::Sender<usize>,
    },
}

/// The node's addresses right now.
#[derive(Debug, Clone, Default)]
pub struct NetStatus {
    /// Every listen address (direct and circuit).
    pub listen_addrs: Vec<Multiaddr>,
    /// Confirmed external addresses (configured, AutoNAT-confirmed, circuit).
    pub external_addrs: Vec<Multiaddr>,
    /// AutoNAT's view.
    pub reachability: Option<Reachability>,
}

/// Why a [`Net`] request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    /// The event loop has stopped (the peer is shutting down).
    #[error("the libp2p node has stopped")]
    Stopped,
    /// The swarm refused or failed the request.
    #[error("{0}")]
    Failed(String),
    /// It took longer than the deadline.
    #[error("timed out")]
    Timeout,
}

/// Clonable handle to the libp2p node.
#[derive(Clone)]
pub struct Net {
    peer_id: PeerId,
    commands: mpsc::Sender<Command>,
    events: broadcast::Sender<NetEvent>,
    streams: libp2p_stream::Control,
    inbound: Inbound,
}

impl std::fmt::Debug for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Net")
            .field("peer_id", &self.peer_id)
            .finish_non_exhaustive()
    }
}

impl Net {
    /// Our PeerId.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// A stream control: open `/goop/*` streams to connected peers. The peer's own protocols
    /// accept inbound streams through [`Net::inbound`], which queues them.
    pub fn streams(&self) -> libp2p_stream::Control {
        self.streams.clone()
    }

    /// The acceptors of inbound `/goop/*` streams.
    pub fn inbound(&self) -> Inbound {
        self.inbound.clone()
    }

    /// A receiver of every later [`NetEvent`].
    pub fn subscribe(&self) -> broadcast::Receiver<NetEvent> {
        self.events.subscribe()
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, NetError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(make(reply))
            .await
            .map_err(|_| NetError::Stopped)?;
        rx.await.map_err(|_| NetError::Stopped)
    }

    /// Connects to `peer` over `addrs` (or any known address when empty) within `deadline`;
    /// returns at once when a connection is already up.
    ///
    /// # Errors
    /// [`NetError::Timeout`], [`NetError::Failed`] with the dial error, [`NetError::Stopped`].
    pub async fn dial(
        &self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        deadline: Duration,
    ) -> Result<(), NetError> {
        let answer = self.ask(|reply| Command::Dial { peer, addrs, reply });
        match tokio::time::timeout(deadline, answer).await {
            Ok(result) => result?.map_err(NetError::Failed),
            Err(_) => Err(NetError::Timeout),
        }
    }

    /// Whether a connection to `peer` is established.
    ///
    /// # Errors
    /// [`NetError::Stopped`].
    pub async fn is_connected(&self, peer: PeerId) -> Result<bool, NetError> {
        self.ask(|reply| Command::IsConnected { peer, reply }).await
    }

    /// Closes every connection to `peer`; answers whether there was one.
    ///
    /// # Errors
    /// [`NetError::Stopped`].
    pub async fn disconnect(&self, peer: PeerId) -> Result<bool, NetError> {
        self.ask(|reply| Command::Disconnect { peer, reply }).await
    }

    /// Starts listening on `addr` (e.g. `<relay>/p2p-circuit`).
    ///
    /// # Errors
    /// [`NetError::Failed`] when the swarm refuses the address, [`NetError::Stopped`].
    pub async fn listen_on(&self, addr: Multiaddr) -> Result<ListenerId, NetError> {
        self.ask(|reply| Command::ListenOn { addr, reply })
            .await?
            .map_err(NetError::Failed)
    }

    /// Closes a listener; answers whether it existed.
    ///
    /// # Errors
    /// [`NetError::Stopped`].
    pub async fn remove_listener(&self, listener: ListenerId) -> Result<bool, NetError> {
        self.ask(|reply| Command::RemoveListener { listener, reply })
            .await
    }

    /// Publishes `data` on a gossip topic.
    ///
    /// # Errors
    /// [`NetError::Failed`] (e.g. no peer subscribed yet), [`NetError::Stopped`].
    pub async fn publish(&self, topic: &str, data: Vec<u8>) -> Result<(), NetError> {
        let topic = topic.to_owned();
        self.ask(|reply| Command::Publish { topic, data, reply })
            .await?
            .map_err(NetError::Failed)
    }

    /// Adds a confirmed external address.
    ///
    /// # Errors
    /// [`NetError::Stopped`].
    pub async fn add_external_address(&self, addr: Multiaddr) -> Result<(), NetError> {
        self.commands
            .send(Command::AddExternalAddress { addr })
            .await
            .map_err(|_| NetError::Stopped)
    }

    /// Closes the relayed connections to `peer` when a direct one is up (after a DCUtR upgrade,
    /// peer.md §2.1); answers how many were closed.
    ///
    /// # Errors
    /// [`NetError::Stopped`].
    pub async fn close_relayed(&self, peer: PeerId) -> Result<usize, NetError> {
        self.ask(|reply| Command::CloseRelayed { peer, reply })
            .await
    }

    /// The node's addresses.
    ///
    /// # Errors
    /// [`NetError::Stopped`].
    pub async fn status(&self) -> Result<NetStatus, NetError> {
        self.ask(|reply| Command::Status { reply }).await
    }
}

/// Why the node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartNetError {
    /// The transport or behaviour could not be built.
    #[error("libp2p: {0}")]
    Build(String),
    /// A listen address could not be bound.
    #[error("libp2p listen address {addr}: {reason}")]
    Listen {
        /// The address.
        addr: Multiaddr,
        /// Why.
        reason: String,
    },
}

/// Builds the swarm, binds the listeners of `config` and returns the handle, the loop to spawn,
/// and the bound listen addresses.
///
/// # Errors
/// [`StartNetError`].
pub(crate) async fn start(
    key: &ed25519::Keypair,
    config: &P2pConfig,
    gossip: bool,
) -> Result<(Net, EventLoop, Vec<Multiaddr>), StartNetError> {
    let keypair = Keypair::from(key.clone());
    let peer_id = keypair.public().to_peer_id();
    let inbound = Inbound::default();
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| StartNetError::Build(e.to_string()))?
        .with_dns()
        .map_err(|e| StartNetError::Build(e.to_string()))?
        .with_relay_client(noise::Config::new, yamux::Config::default)
        .map_err(|e| StartNetError::Build(e.to_string()))?
        .with_behaviour(|key, relay| behaviour::Behaviour::new(key, relay, config, inbound.clone()))
        .map_err(|e| StartNetError::Build(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_TIMEOUT))
        .build();
    if gossip {
        let topic = libp2p::gossipsub::IdentTopic::new(PRESENCE_TOPIC);
        swarm
            .behaviour_mut()
            .gossipsub
            .subscribe(&topic)
            .map_err(|e| StartNetError::Build(e.to_string()))?;
    }
    for addr in &config.external_addrs {
        swarm.add_external_address(addr.clone());
    }
    let mut listen_addrs = Vec::new();
    if config.listen {
        let hosts: Vec<Protocol<'static>> = if config.loopback_only {
            vec![Protocol::Ip4([127, 0, 0, 1].into())]
        } else {
            vec![
                Protocol::Ip4([0, 0, 0, 0].into()),
                Protocol::Ip6(std::net::Ipv6Addr::UNSPECIFIED),
            ]
        };
        for host in hosts {
            let addr = Multiaddr::empty()
                .with(host)
                .with(Protocol::Tcp(config.listen_port));
            let listener = swarm
                .listen_on(addr.clone())
                .map_err(|e| StartNetError::Listen {
                    addr: addr.clone(),
                    reason: e.to_string(),
                })?;
            let bound = event_loop::await_listen_addr(&mut swarm, listener, LISTEN_TIMEOUT)
                .await
                .map_err(|reason| StartNetError::Listen { addr, reason })?;
            listen_addrs.extend(bound);
        }
    }
    let (commands, command_rx) = mpsc::channel(COMMAND_CAPACITY);
    let (events, _) = broadcast::channel(EVENT_CAPACITY);
    let streams = swarm.behaviour().stream.new_control();
    let net = Net {
        peer_id,
        commands,
        events: events.clone(),
        streams,
        inbound,
    };
    Ok((net, EventLoop::new(swarm, command_rx, events), listen_addrs))
}

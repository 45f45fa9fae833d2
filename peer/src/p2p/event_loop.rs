//! [`EventLoop`]: owns the `Swarm`, answers [`Command`]s and broadcasts [`NetEvent`]s until the
//! shutdown token fires.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use libp2p::core::ConnectedPoint;
use libp2p::core::transport::ListenerId;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, DialError, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, autonat, gossipsub, identify, relay};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::behaviour::{Behaviour, BehaviourEvent};
use super::{Command, NetEvent, NetStatus, Reachability};

/// After cancellation the loop serves until no command came for this long…
const DRAIN_IDLE: Duration = Duration::from_millis(300);
/// …and at most this long.
const DRAIN_MAX: Duration = Duration::from_secs(1);
/// Dial waiters kept per peer at most; more callers get an error rather than grow the map.
const MAX_WAITERS_PER_PEER: usize = 64;

/// The dials in flight to one peer: who waits for them and which addresses they try.
#[derive(Default)]
struct Dialing {
    waiters: Vec<oneshot::Sender<Result<(), String>>>,
    addrs: Vec<Multiaddr>,
}

/// The loop that drives the swarm.
pub(crate) struct EventLoop {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    events: broadcast::Sender<NetEvent>,
    dialing: HashMap<PeerId, Dialing>,
    reachability: Option<Reachability>,
    /// Established connections per peer and whether each is relayed (bounded by the limits).
    connections: HashMap<PeerId, Vec<(ConnectionId, bool)>>,
}

impl std::fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLoop").finish_non_exhaustive()
    }
}

impl EventLoop {
    pub(super) fn new(
        swarm: Swarm<Behaviour>,
        commands: mpsc::Receiver<Command>,
        events: broadcast::Sender<NetEvent>,
    ) -> Self {
        Self {
            swarm,
            commands,
            events,
            dialing: HashMap::new(),
            reachability: None,
            connections: HashMap::new(),
        }
    }

    /// Runs until `token` is cancelled or every handle is dropped, then drains.
    pub(crate) async fn run(mut self, token: CancellationToken) {
        loop {
            tokio::select! {
                () = token.cancelled() => break,
                command = self.commands.recv() => match command {
                    Some(command) => self.on_command(command),
                    None => return,
                },
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
            }
        }
        self.drain().await;
    }

    /// After cancellation, keeps serving until no command came for [`DRAIN_IDLE`] (at most
    /// [`DRAIN_MAX`]), so farewells sent at shutdown (the gossip `offline`, peer.md §6) reach
    /// the wire.
    async fn drain(&mut self) {
        let end = tokio::time::Instant::now() + DRAIN_MAX;
        let mut idle = tokio::time::Instant::now() + DRAIN_IDLE;
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(idle.min(end)) => return,
                command = self.commands.recv() => match command {
                    Some(command) => {
                        self.on_command(command);
                        idle = tokio::time::Instant::now() + DRAIN_IDLE;
                    }
                    None => return,
                },
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
            }
        }
    }

    fn emit(&self, event: NetEvent) {
        // No subscriber is fine.
        let _ = self.events.send(event);
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Dial { peer, addrs, reply } => self.dial(peer, addrs, reply),
            Command::IsConnected { peer, reply } => {
                let _ = reply.send(self.swarm.is_connected(&peer));
            }
            Command::Disconnect { peer, reply } => {
                let _ = reply.send(self.swarm.disconnect_peer_id(peer).is_ok());
            }
            Command::ListenOn { addr, reply } => {
                let _ = reply.send(self.swarm.listen_on(addr).map_err(|e| e.to_string()));
            }
            Command::RemoveListener { listener, reply } => {
                let _ = reply.send(self.swarm.remove_listener(listener));
            }
            Command::Publish { topic, data, reply } => {
                let topic = gossipsub::IdentTopic::new(topic);
                let result = self
                    .swarm
                    .behaviour_mut()
                    .gossipsub
                    .publish(topic, data)
                    .map(|_| ())
                    .map_err(|e| e.to_string());
                let _ = reply.send(result);
            }
            Command::AddExternalAddress { addr } => self.swarm.add_external_address(addr),
            Command::CloseRelayed { peer, reply } => {
                let _ = reply.send(self.close_relayed(peer));
            }
            Command::Status { reply } => {
                let _ = reply.send(NetStatus {
                    listen_addrs: self.swarm.listeners().cloned().collect(),
                    external_addrs: self.swarm.external_addresses().cloned().collect(),
                    reachability: self.reachability,
                });
            }
        }
    }

    fn dial(
        &mut self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        reply: oneshot::Sender<Result<(), String>>,
    ) {
        if self.swarm.is_connected(&peer) {
            let _ = reply.send(Ok(()));
            return;
        }
        let dialing = self.dialing.entry(peer).or_default();
        dialing.waiters.retain(|w| !w.is_closed());
        if dialing.waiters.len() >= MAX_WAITERS_PER_PEER {
            let _ = reply.send(Err("too many dials to this peer at once".to_owned()));
            return;
        }
        dialing.waiters.push(reply);
        // Addresses already being dialled are joined, not dialled twice: two circuits through
        // one relay to one peer would both be opened.
        let fresh: Vec<Multiaddr> = addrs
            .into_iter()
            .filter(|a| !dialing.addrs.contains(a))
            .collect();
        if fresh.is_empty() && !dialing.addrs.is_empty() {
            return;
        }
        dialing.addrs.extend(fresh.iter().cloned());
        let opts = DialOpts::peer_id(peer)
            .addresses(fresh)
            .condition(PeerCondition::Always)
            .build();
        if let Err(error) = self.swarm.dial(opts) {
            self.finish_dial(peer, Err(error.to_string()));
        }
    }

    /// Closes the relayed connections to `peer` if a direct one exists.
    fn close_relayed(&mut self, peer: PeerId) -> usize {
        let connections = self.connections.get(&peer).cloned().unwrap_or_default();
        if !connections.iter().any(|(_, relayed)| !relayed) {
            return 0;
        }
        connections
            .into_iter()
            .filter(|(id, relayed)| *relayed && self.swarm.close_connection(*id))
            .count()
    }

    fn finish_dial(&mut self, peer: PeerId, result: Result<(), String>) {
        for waiter in self.dialing.remove(&peer).unwrap_or_default().waiters {
            let _ = waiter.send(result.clone());
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            } => {
                self.finish_dial(peer_id, Ok(()));
                self.connections
                    .entry(peer_id)
                    .or_default()
                    .push((connection_id, endpoint.is_relayed()));
                let addr = match &endpoint {
                    ConnectedPoint::Dialer { address, .. } => address.clone(),
                    ConnectedPoint::Listener { send_back_addr, .. } => send_back_addr.clone(),
                };
                let relayed = endpoint.is_relayed();
                self.emit(NetEvent::ConnectionEstablished {
                    peer: peer_id,
                    addr,
                    relayed,
                });
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                num_established,
                ..
            } => {
                if let Some(list) = self.connections.get_mut(&peer_id) {
                    list.retain(|(id, _)| *id != connection_id);
                    if list.is_empty() {
                        self.connections.remove(&peer_id);
                    }
                }
                self.emit(NetEvent::ConnectionClosed {
                    peer: peer_id,
                    remaining: num_established,
                });
            }
            // A failed attempt among several concurrent ones is not the end of the dial.
            SwarmEvent::OutgoingConnectionError {
                peer_id: Some(peer),
                error,
                ..
            } if !self.swarm.is_connected(&peer)
                && !matches!(error, DialError::DialPeerConditionFalse(_)) =>
            {
                self.finish_dial(peer, Err(error.to_string()));
            }
            SwarmEvent::NewListenAddr {
                listener_id,
                address,
            } => self.emit(NetEvent::NewListenAddr {
                listener: listener_id,
                addr: address,
            }),
            SwarmEvent::ExpiredListenAddr {
                listener_id,
                address,
            } => self.emit(NetEvent::ExpiredListenAddr {
                listener: listener_id,
                addr: address,
            }),
            SwarmEvent::ListenerClosed {
                listener_id,
                reason,
                ..
            } => self.emit(NetEvent::ListenerClosed {
                listener: listener_id,
                error: reason.err().map(|e| error_chain(&e)),
            }),
            SwarmEvent::ListenerError { listener_id, error } => {
                tracing::debug!(?listener_id, %error, "listener error");
            }
            SwarmEvent::Behaviour(event) => self.on_behaviour_event(event),
            _ => {}
        }
    }

    fn on_behaviour_event(&mut self, event: BehaviourEvent) {
        match event {
            BehaviourEvent::Relay(relay::client::Event::ReservationReqAccepted {
                relay_peer_id,
                renewal,
                ..
            }) => self.emit(NetEvent::ReservationAccepted {
                relay: relay_peer_id,
                renewal,
            }),
            BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. }) => {
                self.emit(NetEvent::Identified {
                    peer: peer_id,
                    agent: info.agent_version,
                    protocols: info.protocols,
                    listen_addrs: info.listen_addrs,
                });
            }
            BehaviourEvent::Gossipsub(gossipsub::Event::Message { message, .. }) => {
                // Strict validation guarantees a signed source.
                if let Some(source) = message.source {
                    self.emit(NetEvent::Gossip {
                        source,
                        topic: message.topic.into_string(),
                        data: Arc::new(message.data),
                    });
                }
            }
            BehaviourEvent::Autonat(autonat::Event::StatusChanged { new, .. }) => {
                let reachability = match new {
                    autonat::NatStatus::Public(_) => Reachability::Public,
                    autonat::NatStatus::Private => Reachability::Private,
                    autonat::NatStatus::Unknown => Reachability::Unknown,
                };
                self.reachability = Some(reachability);
                self.emit(NetEvent::Reachability(reachability));
            }
            BehaviourEvent::Dcutr(event) => {
                // `Unsupported` against peers without DCUtR (js nodes) is expected (peer.md §2).
                tracing::debug!(?event, "dcutr");
            }
            _ => {}
        }
    }
}

/// Polls `swarm` until `listener` reports its addresses (all of them for an unspecified IP).
///
/// # Errors
/// The listener's error, or a timeout.
pub(super) async fn await_listen_addr(
    swarm: &mut Swarm<Behaviour>,
    listener: ListenerId,
    timeout: Duration,
) -> Result<Vec<Multiaddr>, String> {
    let wait = async {
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr {
                    listener_id,
                    address,
                } if listener_id == listener => {
                    // An unspecified address reports one address per interface; the first is
                    // enough to know the port, the swarm keeps all of them.
                    let mut addrs = vec![address];
                    addrs.extend(
                        swarm
                            .listeners()
                            .filter(|a| !addrs.contains(a) && is_tcp(a))
                            .cloned()
                            .collect::<Vec<_>>(),
                    );
                    return Ok(addrs);
                }
                SwarmEvent::ListenerClosed {
                    listener_id,
                    reason,
                    ..
                } if listener_id == listener => {
                    return Err(reason.err().map_or("closed".to_owned(), |e| e.to_string()));
                }
                SwarmEvent::ListenerError { listener_id, error } if listener_id == listener => {
                    return Err(error.to_string());
                }
                _ => {}
            }
        }
    };
    tokio::time::timeout(timeout, wait)
        .await
        .map_err(|_| "no listen address within the deadline".to_owned())?
}

/// `error` and its sources, joined with `: ` (a relay listener's reason is in the source).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn is_tcp(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| matches!(p, Protocol::Tcp(_)))
}

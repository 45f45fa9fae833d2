//! The probe's swarm: TCP + Noise + Yamux, identify (agent `goop-superhub/<version>`) and ping,
//! outbound only. It dials one probe's addresses one after another and answers each probe once,
//! then closes the connection.

use std::collections::HashMap;
use std::num::NonZeroU8;
use std::time::Duration;

use futures::StreamExt as _;
use libp2p::identity::Keypair;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, DialError, NetworkBehaviour, SwarmEvent};
use libp2p::{PeerId, Swarm, identify, noise, ping, tcp, yamux};
use shared::protocol;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Command;
use crate::config::ProbeConfig;
use crate::probe::outcome::{Measured, P2pOutcome};

/// The hub's identify agent starts with this.
const HUB_AGENT_PREFIX: &str = "goop-hub/";

/// The libp2p probe's swarm could not be built.
#[derive(Debug, thiserror::Error)]
#[error("the libp2p probe's transport could not be built: {0}")]
pub struct BuildSwarmError(String);

#[derive(NetworkBehaviour)]
struct Behaviour {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
}

/// A probe waiting for its verdict.
struct Pending {
    reply: tokio::sync::oneshot::Sender<Measured<P2pOutcome>>,
    deadline: Instant,
    connection: Option<ConnectionId>,
    agent_ok: bool,
    rtt: Option<Duration>,
}

/// The swarm and the probes in flight on it.
pub(super) struct EventLoop {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    pending: HashMap<PeerId, Pending>,
    timeout: Duration,
}

impl EventLoop {
    pub(super) fn new(
        key: &libp2p::identity::ed25519::Keypair,
        config: &ProbeConfig,
        commands: mpsc::Receiver<Command>,
    ) -> Result<Self, BuildSwarmError> {
        let error = |e: &dyn std::fmt::Display| BuildSwarmError(e.to_string());
        let swarm = libp2p::SwarmBuilder::with_existing_identity(Keypair::from(key.clone()))
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )
            .map_err(|e| error(&e))?
            .with_behaviour(|key| Behaviour {
                identify: identify::Behaviour::new(
                    identify::Config::new(
                        protocol::IDENTIFY_PROTOCOL_VERSION.to_owned(),
                        key.public(),
                    )
                    .with_agent_version(protocol::agent_version(protocol::SUPERHUB_SOFTWARE)),
                ),
                ping: ping::Behaviour::default(),
            })
            .map_err(|e| error(&e))?
            .with_swarm_config(|c| {
                c.with_dial_concurrency_factor(NonZeroU8::MIN)
                    .with_idle_connection_timeout(Duration::from_secs(1))
            })
            .build();
        Ok(Self {
            swarm,
            commands,
            pending: HashMap::new(),
            timeout: config.p2p_timeout,
        })
    }

    /// Serves probes until `token` is cancelled; probes in flight are abandoned.
    pub(super) async fn run(mut self, token: CancellationToken) {
        loop {
            let next_deadline = self.pending.values().map(|p| p.deadline).min();
            tokio::select! {
                () = token.cancelled() => return,
                command = self.commands.recv() => match command {
                    Some(command) => self.start(command),
                    None => return,
                },
                event = self.swarm.select_next_some() => self.handle(event),
                () = sleep_until(next_deadline) => self.expire(),
            }
        }
    }

    fn start(&mut self, command: Command) {
        let Command { peer, addrs, reply } = command;
        if self.pending.contains_key(&peer) {
            self.finish(peer, Measured::failed(P2pOutcome::Timeout));
        }
        let opts = DialOpts::peer_id(peer)
            .addresses(addrs)
            .condition(PeerCondition::Always)
            .build();
        if self.swarm.dial(opts).is_err() {
            let _ = reply.send(Measured::failed(P2pOutcome::DialFailed));
            return;
        }
        self.pending.insert(
            peer,
            Pending {
                reply,
                deadline: Instant::now() + self.timeout,
                connection: None,
                agent_ok: false,
                rtt: None,
            },
        );
    }

    fn handle(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                ..
            } => {
                if let Some(p) = self.pending.get_mut(&peer_id) {
                    p.connection.get_or_insert(connection_id);
                }
            }
            SwarmEvent::OutgoingConnectionError {
                peer_id: Some(peer),
                error,
                ..
            } if self
                .pending
                .get(&peer)
                .is_some_and(|p| p.connection.is_none()) =>
            {
                let outcome = match error {
                    DialError::WrongPeerId { .. } => P2pOutcome::WrongPeer,
                    _ => P2pOutcome::DialFailed,
                };
                self.finish(peer, Measured::failed(outcome));
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                ..
            } if self
                .pending
                .get(&peer_id)
                .is_some_and(|p| p.connection == Some(connection_id)) =>
            {
                self.finish(peer_id, Measured::failed(P2pOutcome::DialFailed));
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                if !self.pending.contains_key(&peer_id) {
                    return;
                }
                if !info.agent_version.starts_with(HUB_AGENT_PREFIX) {
                    self.finish(peer_id, Measured::failed(P2pOutcome::WrongAgent));
                    return;
                }
                if let Some(p) = self.pending.get_mut(&peer_id) {
                    p.agent_ok = true;
                }
                self.check_done(peer_id);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event {
                peer,
                result: Ok(rtt),
                ..
            })) => {
                if let Some(p) = self.pending.get_mut(&peer) {
                    p.rtt.get_or_insert(rtt);
                }
                self.check_done(peer);
            }
            _ => {}
        }
    }

    fn check_done(&mut self, peer: PeerId) {
        let rtt = match self.pending.get(&peer) {
            Some(Pending {
                agent_ok: true,
                rtt: Some(rtt),
                ..
            }) => *rtt,
            _ => return,
        };
        self.finish(
            peer,
            Measured {
                outcome: P2pOutcome::Ok,
                rtt_ms: Some(i64::try_from(rtt.as_millis()).unwrap_or(i64::MAX)),
            },
        );
    }

    fn expire(&mut self) {
        let now = Instant::now();
        let late: Vec<PeerId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(peer, _)| *peer)
            .collect();
        for peer in late {
            self.finish(peer, Measured::failed(P2pOutcome::Timeout));
        }
    }

    /// Answers the probe of `peer` and closes its connections.
    fn finish(&mut self, peer: PeerId, result: Measured<P2pOutcome>) {
        if let Some(p) = self.pending.remove(&peer) {
            let _ = p.reply.send(result);
        }
        let _ = self.swarm.disconnect_peer_id(peer);
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

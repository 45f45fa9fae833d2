//! The event loop: the only owner of the `Swarm`. It answers [`Command`]s and records metrics
//! until cancelled.

use futures::StreamExt as _;
use libp2p::Swarm;
use libp2p::metrics::{Metrics, Recorder as _};
use libp2p::swarm::SwarmEvent;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Behaviour, BehaviourEvent, Command, NetworkStatus};

/// Owns the swarm; run it with [`EventLoop::run`].
pub(crate) struct EventLoop {
    swarm: Swarm<Behaviour>,
    command_rx: mpsc::Receiver<Command>,
    metrics: Metrics,
}

impl std::fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLoop")
            .field("peer_id", self.swarm.local_peer_id())
            .finish_non_exhaustive()
    }
}

impl EventLoop {
    pub(super) fn new(
        swarm: Swarm<Behaviour>,
        command_rx: mpsc::Receiver<Command>,
        metrics: Metrics,
    ) -> Self {
        Self {
            swarm,
            command_rx,
            metrics,
        }
    }

    /// Runs until `token` is cancelled or every handle is gone.
    pub(crate) async fn run(mut self, token: CancellationToken) {
        loop {
            tokio::select! {
                () = token.cancelled() => break,
                event = self.swarm.select_next_some() => self.handle_event(event),
                command = self.command_rx.recv() => match command {
                    Some(command) => self.handle_command(command),
                    None => break,
                },
            }
        }
        tracing::debug!("libp2p event loop stopped");
    }

    fn handle_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        self.metrics.record(&event);
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Identify(event)) => self.metrics.record(&event),
            SwarmEvent::Behaviour(BehaviourEvent::Ping(event)) => self.metrics.record(&event),
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::debug!(%address, "libp2p listening");
            }
            SwarmEvent::ListenerError { error, .. } => {
                tracing::warn!(%error, "libp2p listener error");
            }
            _ => {}
        }
    }

    fn handle_command(&mut self, command: Command) {
        match command {
            Command::Status { reply } => {
                let status = NetworkStatus {
                    listen_addrs: self.swarm.listeners().cloned().collect(),
                };
                let _ = reply.send(status);
            }
        }
    }
}

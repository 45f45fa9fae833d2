//! The libp2p probe (superhub.md §4.3): dial a hub's multiaddrs one after another, each address
//! through the same filter as the HTTP probe, and pass when Noise authenticated the record's id,
//! identify named a `goop-hub/` agent and a ping answered. One outbound-only swarm serves every
//! probe ([`event_loop`]); this handle prepares the addresses and waits for the verdict.

mod event_loop;

use std::time::Duration;

use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use shared::server::Tasks;
use tokio::sync::{mpsc, oneshot};

use super::address::resolve_checked;
use super::outcome::{Measured, P2pOutcome};
use crate::config::ProbeConfig;
pub use event_loop::BuildSwarmError;

/// Addresses of one record dialled at most.
const MAX_ADDRS: usize = 16;

/// A probe request to the event loop.
#[derive(Debug)]
struct Command {
    peer: PeerId,
    addrs: Vec<Multiaddr>,
    reply: oneshot::Sender<Measured<P2pOutcome>>,
}

/// The handle of the libp2p probe. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct P2pProbe {
    commands: mpsc::Sender<Command>,
    timeout: Duration,
    allow_private: bool,
}

impl P2pProbe {
    /// Builds the swarm with the super hub's `key` and spawns its event loop on `tasks`.
    ///
    /// # Errors
    /// [`BuildSwarmError`] when the transport cannot be built.
    pub(crate) fn start(
        config: &ProbeConfig,
        key: &libp2p::identity::ed25519::Keypair,
        tasks: &Tasks,
    ) -> Result<Self, BuildSwarmError> {
        let (commands, rx) = mpsc::channel(config.concurrency);
        let event_loop = event_loop::EventLoop::new(key, config, rx)?;
        let token = tasks.token().child_token();
        tasks.spawn_infallible("probe-p2p", event_loop.run(token));
        Ok(Self {
            commands,
            timeout: config.p2p_timeout,
            allow_private: config.allow_private_addresses,
        })
    }

    /// Probes the hub `expected_id` at its `multiaddrs` (the JSON text stored with the record).
    pub(crate) async fn probe(&self, expected_id: &str, multiaddrs: &str) -> Measured<P2pOutcome> {
        let run = async {
            let Ok(peer) = expected_id.parse::<PeerId>() else {
                return Measured::failed(P2pOutcome::DialFailed);
            };
            let addrs = self.dialable(multiaddrs).await;
            if addrs.is_empty() {
                return Measured::failed(P2pOutcome::DialFailed);
            }
            let (reply, answer) = oneshot::channel();
            let command = Command { peer, addrs, reply };
            if self.commands.send(command).await.is_err() {
                return Measured::failed(P2pOutcome::DialFailed);
            }
            answer
                .await
                .unwrap_or(Measured::failed(P2pOutcome::DialFailed))
        };
        tokio::time::timeout(self.timeout, run)
            .await
            .unwrap_or(Measured::failed(P2pOutcome::Timeout))
    }

    /// The record's TCP addresses with every host resolved and checked, without their `/p2p/`
    /// suffix (the dial names the expected peer itself).
    async fn dialable(&self, multiaddrs: &str) -> Vec<Multiaddr> {
        let texts: Vec<String> = serde_json::from_str(multiaddrs).unwrap_or_default();
        let mut out = Vec::new();
        for text in texts.iter().take(MAX_ADDRS) {
            let Ok(addr) = text.parse::<Multiaddr>() else {
                continue;
            };
            let mut parts = addr.iter();
            // The host, and which address families it may resolve to.
            let (host, v4, v6) = match parts.next() {
                Some(Protocol::Ip4(ip)) => (ip.to_string(), true, false),
                Some(Protocol::Ip6(ip)) => (ip.to_string(), false, true),
                Some(Protocol::Dns(h)) => (h.to_string(), true, true),
                Some(Protocol::Dns4(h)) => (h.to_string(), true, false),
                Some(Protocol::Dns6(h)) => (h.to_string(), false, true),
                _ => continue,
            };
            let Some(Protocol::Tcp(port)) = parts.next() else {
                continue;
            };
            if !matches!(parts.next(), None | Some(Protocol::P2p(_))) {
                continue;
            }
            let Ok(resolved) = resolve_checked(&host, port, self.allow_private).await else {
                continue;
            };
            for socket in resolved {
                let ip = match socket.ip() {
                    std::net::IpAddr::V4(ip) if v4 => Protocol::Ip4(ip),
                    std::net::IpAddr::V6(ip) if v6 => Protocol::Ip6(ip),
                    _ => continue,
                };
                let checked = Multiaddr::empty().with(ip).with(Protocol::Tcp(port));
                if !out.contains(&checked) {
                    out.push(checked);
                }
            }
        }
        out.truncate(MAX_ADDRS);
        out
    }
}

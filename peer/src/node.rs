//! [`Peer`]: the library handle (peer.md §1.1). `start` loads the identity, opens the database,
//! binds libp2p (and later the local API) and spawns every subsystem; `shutdown` stops them within
//! [`SHUTDOWN_TIMEOUT`]. [`Node`] is what every subsystem shares.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use libp2p::identity::ed25519;
use libp2p::{Multiaddr, PeerId};
use shared::clock::Clock;
use shared::server::{OpenIdentityError, Tasks, open_identity};
use tokio::net::TcpListener;
use tokio::sync::broadcast;

use crate::config::PeerConfig;
use crate::event::{Events, Numbered};
use crate::hubs::Hubs;
use crate::p2p::{self, Net, StartNetError};
use crate::peers::PeerTable;
use crate::store::{OpenStoreError, Store};

/// Everything must have stopped within this after `shutdown` (peer.md §1.1).
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the peer could not start. Nothing keeps running after an error.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory could not be created, or `identity.key` is unreadable or corrupt (it is
    /// never replaced).
    #[error(transparent)]
    Identity(#[from] OpenIdentityError),
    /// `peer.db` could not be opened or migrated.
    #[error(transparent)]
    Database(#[from] OpenStoreError),
    /// A configuration value is unusable.
    #[error(transparent)]
    Config(#[from] shared::config::LoadConfigError),
    /// libp2p could not start or bind.
    #[error(transparent)]
    Network(#[from] StartNetError),
    /// A local API listener could not be bound.
    #[error("local API {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// What every subsystem shares: configuration, identity, storage, the network, the peer table
/// and the event bus.
#[derive(Debug)]
pub struct Node {
    /// The configuration as loaded.
    pub config: PeerConfig,
    /// The identity key.
    pub key: ed25519::Keypair,
    /// Our PeerId.
    pub peer_id: PeerId,
    /// The database.
    pub store: Store,
    /// The event bus.
    pub events: Events,
    /// The libp2p node.
    pub net: Net,
    /// The merged peer table.
    pub peers: PeerTable,
    /// The hubs and their states.
    pub hubs: Hubs,
    /// The clock of every timestamp.
    pub clock: Clock,
    /// The message bus state (sequence, duplicates, admission, inbox).
    pub mq: crate::mq::Mq,
    /// The joins running in the background (peer.md §3.6).
    pub memberships: crate::membership::Memberships,
    /// Hosted and joined groups (peer.md §8).
    pub groups: crate::groups::Groups,
    /// The checker of other peers' vouchers and the revocation polls (peer.md §3.7).
    pub vouchers: crate::vouchers::Checker,
    /// Our vouchers' standing at hub relays as circuit source (peer.md §3.5 rule 8).
    pub circuit_vouchers: crate::relay::voucher::Presented,
}

/// A running peer. Dropping it without [`Peer::shutdown`] cancels every task.
#[derive(Debug)]
pub struct Peer {
    node: Arc<Node>,
    listen_addrs: Vec<Multiaddr>,
    http_addr: Option<SocketAddr>,
    tasks: Tasks,
}

impl Peer {
    /// Starts the peer with everything bound before returning.
    ///
    /// # Errors
    /// [`StartError`] naming what failed.
    pub async fn start(config: PeerConfig) -> Result<Self, StartError> {
        config.validate()?;
        let dir = &config.data_dir;
        let (key, _) = open_identity(dir, &dir.join(crate::IDENTITY_FILE))?;
        let store = Store::open(dir).await?;
        let tasks = Tasks::default();
        let (net, event_loop, listen_addrs) =
            match p2p::start(&key, &config.p2p, config.presence.gossip).await {
                Ok(started) => started,
                Err(error) => {
                    store.close().await;
                    return Err(error.into());
                }
            };
        let peer_id = net.peer_id();
        tasks.spawn_infallible("libp2p", event_loop.run(tasks.token().child_token()));
        let events = Events::default();
        let node = Arc::new(Node {
            clock: config.clock.clone(),
            vouchers: crate::vouchers::Checker::new(
                config.clock.clone(),
                config.groups.revocation_poll(),
            ),
            config,
            key,
            peer_id,
            store,
            peers: PeerTable::new(events.clone()),
            hubs: Hubs::new(events.clone()),
            events,
            net,
            mq: crate::mq::Mq::default(),
            memberships: crate::membership::Memberships::default(),
            groups: crate::groups::Groups::default(),
            circuit_vouchers: crate::relay::voucher::Presented::default(),
        });
        // Subsystems: each module's `spawn(&node, &tasks)` starts its tasks, one line each.
        crate::hubs::spawn(&node, &tasks);
        crate::peers::spawn(&node, &tasks);
        crate::gossip::spawn(&node, &tasks);
        crate::content::spawn(&node, &tasks);
        crate::mq::spawn(&node, &tasks);
        crate::relay::spawn(&node, &tasks);
        crate::membership::spawn(&node, &tasks);
        crate::vouchers::spawn(&node, &tasks);
        crate::groups::start(&node, &tasks).await;
        crate::hubs::start_configured(&node).await;

        let http_addr = if node.config.http.enabled {
            let addr = node.config.http.addr;
            let listener = match TcpListener::bind(addr).await {
                Ok(listener) => listener,
                Err(source) => {
                    tasks.shutdown(SHUTDOWN_TIMEOUT).await;
                    node.store.close().await;
                    return Err(StartError::Bind { addr, source });
                }
            };
            let bound = listener
                .local_addr()
                .map_err(|source| StartError::Bind { addr, source })?;
            tasks.spawn(
                "local API",
                crate::http::serve(listener, node.clone(), tasks.token().child_token()),
            );
            Some(bound)
        } else {
            None
        };
        tracing::info!(%peer_id, addrs = ?listen_addrs, http = ?http_addr, "peer started");
        Ok(Self {
            node,
            listen_addrs,
            http_addr,
            tasks,
        })
    }

    /// Our PeerId.
    pub fn peer_id(&self) -> PeerId {
        self.node.peer_id
    }

    /// The bound direct listen addresses (empty with `p2p.listen = false`).
    pub fn listen_addrs(&self) -> &[Multiaddr] {
        &self.listen_addrs
    }

    /// The local API address, when enabled.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// A receiver of every later event (the SSE stream's events).
    pub fn events(&self) -> broadcast::Receiver<Arc<Numbered>> {
        self.node.events.subscribe()
    }

    /// The shared context, for the local API and tests.
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// Resolves when a task ends on its own (a failure); the daemon then shuts down.
    pub async fn stopped(&mut self) -> shared::server::TaskError {
        self.tasks.join().await
    }

    /// Stops every task within [`SHUTDOWN_TIMEOUT`] and closes the database.
    pub async fn shutdown(self) {
        crate::groups::shutdown(&self.node).await;
        if !self.tasks.shutdown(SHUTDOWN_TIMEOUT).await {
            tracing::warn!("some tasks did not stop within the shutdown deadline");
        }
        self.node.store.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn two_peers_connect_and_identify_each_other_over_loopback() {
        let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let a = Peer::start(PeerConfig::for_tests(dir_a.path()))
            .await
            .unwrap();
        let b = Peer::start(PeerConfig::for_tests(dir_b.path()))
            .await
            .unwrap();
        assert!(!b.listen_addrs().is_empty());
        let mut events = a.node().net.subscribe();

        crate::content::tests::connect(&a, &b).await;

        let agent = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if let Ok(p2p::NetEvent::Identified { peer, agent, .. }) = events.recv().await
                    && peer == b.peer_id()
                {
                    return agent;
                }
            }
        })
        .await
        .unwrap();
        assert!(agent.starts_with("goop-peer/"), "{agent}");
        assert!(a.node().net.is_connected(b.peer_id()).await.unwrap());
        a.shutdown().await;
        b.shutdown().await;
    }

    #[tokio::test]
    async fn corrupt_identity_aborts_start_and_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(crate::IDENTITY_FILE), b"junk").unwrap();

        let error = Peer::start(PeerConfig::for_tests(dir.path()))
            .await
            .unwrap_err();

        assert!(matches!(error, StartError::Identity(_)), "{error}");
        assert_eq!(
            std::fs::read(dir.path().join(crate::IDENTITY_FILE)).unwrap(),
            b"junk"
        );
    }

    #[tokio::test]
    async fn listening_off_binds_no_direct_address() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = PeerConfig::for_tests(dir.path());
        config.p2p.listen = false;
        let peer = Peer::start(config).await.unwrap();
        assert!(peer.listen_addrs().is_empty());
        peer.shutdown().await;
    }
}

//! Inbound streams of the `/goop/*` protocols, queued.
//!
//! `libp2p_stream` hands each inbound stream to its acceptor over a channel without a buffer and
//! drops (resets) a stream that arrives while the previous one has not been taken yet
//! (rust-libp2p#5651): two messages sent at once lose one. This behaviour serves the protocols
//! registered with [`Inbound::accept`] and queues up to [`QUEUE`] negotiated streams per
//! protocol; beyond that a stream is reset, which the sender sees at once. Outbound streams stay
//! with `libp2p_stream::Control::open_stream`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use libp2p::core::upgrade::{DeniedUpgrade, InboundUpgrade, UpgradeInfo};
use libp2p::core::{Endpoint, transport::PortUse};
use libp2p::swarm::handler::{ConnectionEvent, FullyNegotiatedInbound};
use libp2p::swarm::{
    ConnectionDenied, ConnectionHandler, ConnectionHandlerEvent, ConnectionId, FromSwarm,
    NetworkBehaviour, SubstreamProtocol, THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId, Stream, StreamProtocol};
use tokio::sync::mpsc;

/// Negotiated streams waiting for their acceptor, per protocol.
pub(crate) const QUEUE: usize = 64;

/// A second acceptor for a protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the protocol already has an acceptor")]
pub struct AlreadyAccepted;

/// The acceptors by protocol, shared by the behaviour, its connection handlers and [`Inbound`].
type Acceptors = Arc<Mutex<HashMap<StreamProtocol, mpsc::Sender<(PeerId, Stream)>>>>;

/// Registers acceptors; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Inbound {
    acceptors: Acceptors,
}

/// The inbound streams of one protocol, in arrival order, with their remote peer. Dropping it
/// stops serving the protocol.
pub type Incoming = tokio_stream::wrappers::ReceiverStream<(PeerId, Stream)>;

impl Inbound {
    /// Serves `protocol` from now on; its streams arrive on the returned [`Incoming`].
    ///
    /// # Errors
    /// [`AlreadyAccepted`] while an earlier [`Incoming`] of `protocol` is alive.
    pub fn accept(&self, protocol: StreamProtocol) -> Result<Incoming, AlreadyAccepted> {
        let mut acceptors = lock(&self.acceptors);
        acceptors.retain(|_, sender| !sender.is_closed());
        if acceptors.contains_key(&protocol) {
            return Err(AlreadyAccepted);
        }
        let (sender, receiver) = mpsc::channel(QUEUE);
        acceptors.insert(protocol, sender);
        Ok(Incoming::new(receiver))
    }
}

fn lock(
    acceptors: &Acceptors,
) -> std::sync::MutexGuard<'_, HashMap<StreamProtocol, mpsc::Sender<(PeerId, Stream)>>> {
    acceptors.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The behaviour: one [`Handler`] per connection.
#[derive(Debug)]
pub(crate) struct Behaviour {
    inbound: Inbound,
}

impl Behaviour {
    /// A behaviour serving what `inbound` registers.
    pub(crate) fn new(inbound: Inbound) -> Self {
        Self { inbound }
    }

    fn handler(&self, peer: PeerId) -> Handler {
        Handler {
            peer,
            acceptors: self.inbound.acceptors.clone(),
        }
    }
}

impl NetworkBehaviour for Behaviour {
    type ConnectionHandler = Handler;
    type ToSwarm = Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<Handler, ConnectionDenied> {
        Ok(self.handler(peer))
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<Handler, ConnectionDenied> {
        Ok(self.handler(peer))
    }

    fn on_swarm_event(&mut self, _: FromSwarm) {}

    fn on_connection_handler_event(
        &mut self,
        _: PeerId,
        _: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Infallible, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}

/// One connection: offers the registered protocols and queues what the remote opens.
#[derive(Debug)]
pub(crate) struct Handler {
    peer: PeerId,
    acceptors: Acceptors,
}

impl ConnectionHandler for Handler {
    type FromBehaviour = Infallible;
    type ToBehaviour = Infallible;
    type InboundProtocol = Protocols;
    type OutboundProtocol = DeniedUpgrade;
    type InboundOpenInfo = ();
    type OutboundOpenInfo = ();

    fn listen_protocol(&self) -> SubstreamProtocol<Protocols> {
        let protocols = lock(&self.acceptors)
            .iter()
            .filter(|(_, sender)| !sender.is_closed())
            .map(|(protocol, _)| protocol.clone())
            .collect();
        SubstreamProtocol::new(Protocols(protocols), ())
    }

    fn poll(
        &mut self,
        _: &mut Context<'_>,
    ) -> Poll<ConnectionHandlerEvent<DeniedUpgrade, (), Infallible>> {
        Poll::Pending
    }

    fn on_behaviour_event(&mut self, event: Infallible) {
        match event {}
    }

    fn on_connection_event(&mut self, event: ConnectionEvent<Protocols, DeniedUpgrade, (), ()>) {
        if let ConnectionEvent::FullyNegotiatedInbound(FullyNegotiatedInbound {
            protocol: (stream, protocol),
            ..
        }) = event
        {
            let sender = lock(&self.acceptors).get(&protocol).cloned();
            let Some(sender) = sender else {
                tracing::debug!(peer = %self.peer, %protocol, "inbound stream without an acceptor reset");
                return;
            };
            if let Err(error) = sender.try_send((self.peer, stream)) {
                let why = match error {
                    mpsc::error::TrySendError::Full(_) => "queue full",
                    mpsc::error::TrySendError::Closed(_) => "acceptor gone",
                };
                tracing::debug!(peer = %self.peer, %protocol, why, "inbound stream reset");
            }
        }
    }
}

/// The protocols a connection offers; the negotiated stream comes with its protocol.
#[derive(Debug, Clone)]
pub(crate) struct Protocols(Vec<StreamProtocol>);

impl UpgradeInfo for Protocols {
    type Info = StreamProtocol;
    type InfoIter = std::vec::IntoIter<StreamProtocol>;

    fn protocol_info(&self) -> Self::InfoIter {
        self.0.clone().into_iter()
    }
}

impl InboundUpgrade<Stream> for Protocols {
    type Output = (Stream, StreamProtocol);
    type Error = Infallible;
    type Future = Ready<Result<(Stream, StreamProtocol), Infallible>>;

    fn upgrade_inbound(self, stream: Stream, protocol: StreamProtocol) -> Self::Future {
        ready(Ok((stream, protocol)))
    }
}

#[cfg(test)]
mod tests {
    use futures::{AsyncReadExt as _, AsyncWriteExt as _, StreamExt as _};

    use super::*;
    use crate::{Peer, PeerConfig};

    const TEST: StreamProtocol = StreamProtocol::new("/goop/test-inbound/1.0.0");

    async fn start(dir: &std::path::Path) -> Peer {
        let mut config = PeerConfig::for_tests(dir);
        config.http.enabled = false;
        config.presence.gossip = false;
        Peer::start(config).await.unwrap()
    }

    /// Opens `count` streams from `a` to `b` at once, writing one byte on each; returns them
    /// once every one is negotiated (the remote handler has queued or reset it by then).
    async fn open_many(a: &Peer, b: &Peer, count: usize) -> Vec<Stream> {
        crate::content::tests::connect(a, b).await;
        let opens = (0..count).map(|_| async {
            let mut stream = a
                .node()
                .net
                .streams()
                .open_stream(b.peer_id(), TEST)
                .await
                .unwrap();
            // A stream the remote reset at once (beyond its queue) fails here: fine.
            let _ = stream.write_all(b"x").await;
            let _ = stream.flush().await;
            stream
        });
        futures::future::join_all(opens).await
    }

    /// Whether the remote reset `stream` (or ended it) instead of answering one byte.
    async fn answered(stream: &mut Stream) -> bool {
        let mut byte = [0u8; 1];
        matches!(
            tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut byte)).await,
            Ok(Ok(1))
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn streams_opened_at_once_wait_for_an_acceptor_that_was_busy() {
        let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (a, b) = (start(dir_a.path()).await, start(dir_b.path()).await);
        let mut incoming = b.node().net.inbound().accept(TEST).unwrap();

        // Nobody takes streams while they arrive, as when the acceptor is busy.
        let mut opened = open_many(&a, &b, 16).await;
        for _ in 0..16 {
            let (from, mut stream) = incoming.next().await.unwrap();
            assert_eq!(from, a.peer_id());
            let mut byte = [0u8; 1];
            stream.read_exact(&mut byte).await.unwrap();
            stream.write_all(b"y").await.unwrap();
            stream.close().await.unwrap();
        }

        for stream in &mut opened {
            assert!(answered(stream).await, "every queued stream is served");
        }
        a.shutdown().await;
        b.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn streams_beyond_the_queue_are_reset_and_a_second_acceptor_is_refused() {
        let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (a, b) = (start(dir_a.path()).await, start(dir_b.path()).await);
        let mut incoming = b.node().net.inbound().accept(TEST).unwrap();
        assert_eq!(
            b.node().net.inbound().accept(TEST).unwrap_err(),
            AlreadyAccepted
        );

        let mut opened = open_many(&a, &b, QUEUE + 4).await;
        let mut queued = Vec::new();
        while let Ok(Some((_, stream))) =
            tokio::time::timeout(std::time::Duration::from_millis(200), incoming.next()).await
        {
            queued.push(stream);
        }
        for mut stream in queued.drain(..) {
            stream.write_all(b"y").await.unwrap();
            stream.close().await.unwrap();
        }
        let mut served = 0;
        for stream in &mut opened {
            served += usize::from(answered(stream).await);
        }

        assert_eq!(served, QUEUE);
        a.shutdown().await;
        b.shutdown().await;
    }
}

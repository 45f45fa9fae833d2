//! A behaviour wrapper that serves its inner protocol only on connections whose remote peer passes
//! a check made when the connection is established. Other connections get a dummy handler, so the
//! protocol is simply unsupported there. rust-libp2p's rendezvous server has no authorization hook;
//! this is it (hub.md §4.4 rule 2).

use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Context, Poll};

use either::Either;
use libp2p::core::Endpoint;
use libp2p::core::transport::PortUse;
use libp2p::swarm::behaviour::ConnectionEstablished;
use libp2p::swarm::{
    ConnectionClosed, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler,
    THandlerInEvent, THandlerOutEvent, ToSwarm, dummy,
};
use libp2p::{Multiaddr, PeerId};

/// Decides, per established connection, whether the remote peer may use the inner protocol.
pub(crate) type Admit = Arc<dyn Fn(&PeerId) -> bool + Send + Sync>;

/// `inner`, reachable only by admitted peers.
pub(crate) struct Gated<B> {
    inner: B,
    admit: Admit,
    /// The connections the inner behaviour has a handler on, with their peer.
    admitted: HashMap<ConnectionId, PeerId>,
}

impl<B> Gated<B> {
    pub(crate) fn new(inner: B, admit: Admit) -> Self {
        Self {
            inner,
            admit,
            admitted: HashMap::new(),
        }
    }
}

impl<B: NetworkBehaviour> Gated<B> {
    /// Admitted connections of `peer`.
    fn admitted_of(&self, peer: &PeerId) -> usize {
        self.admitted.values().filter(|p| *p == peer).count()
    }

    fn handler(
        &mut self,
        id: ConnectionId,
        peer: &PeerId,
        make: impl FnOnce(&mut B) -> Result<THandler<B>, ConnectionDenied>,
    ) -> Result<Either<THandler<B>, dummy::ConnectionHandler>, ConnectionDenied> {
        if (self.admit)(peer) {
            let handler = make(&mut self.inner)?;
            self.admitted.insert(id, *peer);
            Ok(Either::Left(handler))
        } else {
            Ok(Either::Right(dummy::ConnectionHandler))
        }
    }
}

impl<B: NetworkBehaviour> NetworkBehaviour for Gated<B> {
    type ConnectionHandler = Either<THandler<B>, dummy::ConnectionHandler>;
    type ToSwarm = B::ToSwarm;

    fn handle_pending_inbound_connection(
        &mut self,
        id: ConnectionId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        self.inner
            .handle_pending_inbound_connection(id, local_addr, remote_addr)
    }

    fn handle_established_inbound_connection(
        &mut self,
        id: ConnectionId,
        peer: PeerId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.handler(id, &peer, |inner| {
            inner.handle_established_inbound_connection(id, peer, local_addr, remote_addr)
        })
    }

    fn handle_pending_outbound_connection(
        &mut self,
        id: ConnectionId,
        maybe_peer: Option<PeerId>,
        addresses: &[Multiaddr],
        effective_role: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        self.inner
            .handle_pending_outbound_connection(id, maybe_peer, addresses, effective_role)
    }

    fn handle_established_outbound_connection(
        &mut self,
        id: ConnectionId,
        peer: PeerId,
        addr: &Multiaddr,
        role_override: Endpoint,
        port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.handler(id, &peer, |inner| {
            inner.handle_established_outbound_connection(id, peer, addr, role_override, port_use)
        })
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        // The inner behaviour must only hear about connections it made a handler for, and its
        // counts of a peer's other connections must be of those alone: request-response panics
        // on the close of a connection it never saw established, or when the swarm's count of a
        // peer's remaining connections includes ones it never saw (a peer may hold an admitted
        // and an unadmitted connection at once).
        match event {
            FromSwarm::ConnectionEstablished(e) => {
                if self.admitted.contains_key(&e.connection_id) {
                    let other_established = self.admitted_of(&e.peer_id) - 1;
                    self.inner.on_swarm_event(FromSwarm::ConnectionEstablished(
                        ConnectionEstablished {
                            other_established,
                            ..e
                        },
                    ));
                }
            }
            FromSwarm::ConnectionClosed(e) => {
                if self.admitted.remove(&e.connection_id).is_some() {
                    let remaining_established = self.admitted_of(&e.peer_id);
                    self.inner
                        .on_swarm_event(FromSwarm::ConnectionClosed(ConnectionClosed {
                            remaining_established,
                            ..e
                        }));
                }
            }
            FromSwarm::AddressChange(e) => {
                if self.admitted.contains_key(&e.connection_id) {
                    self.inner.on_swarm_event(event);
                }
            }
            other => self.inner.on_swarm_event(other),
        }
    }

    fn on_connection_handler_event(
        &mut self,
        peer: PeerId,
        id: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {
            Either::Left(event) => self.inner.on_connection_handler_event(peer, id, event),
            Either::Right(never) => match never {},
        }
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        loop {
            let event = match self.inner.poll(cx) {
                Poll::Ready(event) => event,
                Poll::Pending => return Poll::Pending,
            };
            // The inner behaviour only ever talks to connections it was given a handler for; a
            // notification for any other connection cannot be delivered and is dropped.
            if let ToSwarm::NotifyHandler {
                handler: libp2p::swarm::NotifyHandler::One(id),
                ..
            } = &event
                && !self.admitted.contains_key(id)
            {
                continue;
            }
            return Poll::Ready(event.map_in(Either::Left));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::Mutex;

    use libp2p::core::ConnectedPoint;

    use super::*;

    /// An inner behaviour that records the peer counts it is told.
    #[derive(Default)]
    struct Recorder {
        told: Arc<Mutex<Vec<(&'static str, usize)>>>,
    }

    impl NetworkBehaviour for Recorder {
        type ConnectionHandler = dummy::ConnectionHandler;
        type ToSwarm = Infallible;

        fn handle_established_inbound_connection(
            &mut self,
            _: ConnectionId,
            _: PeerId,
            _: &Multiaddr,
            _: &Multiaddr,
        ) -> Result<THandler<Self>, ConnectionDenied> {
            Ok(dummy::ConnectionHandler)
        }

        fn handle_established_outbound_connection(
            &mut self,
            _: ConnectionId,
            _: PeerId,
            _: &Multiaddr,
            _: Endpoint,
            _: PortUse,
        ) -> Result<THandler<Self>, ConnectionDenied> {
            Ok(dummy::ConnectionHandler)
        }

        fn on_swarm_event(&mut self, event: FromSwarm) {
            let mut told = self.told.lock().unwrap();
            match event {
                FromSwarm::ConnectionEstablished(e) => {
                    told.push(("established", e.other_established))
                }
                FromSwarm::ConnectionClosed(e) => told.push(("closed", e.remaining_established)),
                _ => {}
            }
        }

        fn on_connection_handler_event(&mut self, _: PeerId, _: ConnectionId, never: Infallible) {
            match never {}
        }

        fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Infallible, Infallible>> {
            Poll::Pending
        }
    }

    #[test]
    fn inner_counts_only_admitted_connections_of_a_peer() {
        let recorder = Recorder::default();
        let told = recorder.told.clone();
        let admit = Arc::new(Mutex::new(false));
        let gate = admit.clone();
        let mut gated = Gated::new(recorder, Arc::new(move |_: &PeerId| *gate.lock().unwrap()));
        let peer = PeerId::random();
        let addr: Multiaddr = "/ip4/127.0.0.1/tcp/1".parse().unwrap();
        let endpoint = ConnectedPoint::Listener {
            local_addr: addr.clone(),
            send_back_addr: addr.clone(),
        };
        let (unadmitted, admitted) = (
            ConnectionId::new_unchecked(1),
            ConnectionId::new_unchecked(2),
        );
        let open = |gated: &mut Gated<Recorder>, id: ConnectionId, others: usize| {
            let _ = gated.handle_established_inbound_connection(id, peer, &addr, &addr);
            gated.on_swarm_event(FromSwarm::ConnectionEstablished(ConnectionEstablished {
                peer_id: peer,
                connection_id: id,
                endpoint: &endpoint,
                failed_addresses: &[],
                other_established: others,
            }));
        };

        open(&mut gated, unadmitted, 0);
        *admit.lock().unwrap() = true;
        open(&mut gated, admitted, 1);
        for (id, remaining) in [(admitted, 1), (unadmitted, 0)] {
            gated.on_swarm_event(FromSwarm::ConnectionClosed(ConnectionClosed {
                peer_id: peer,
                connection_id: id,
                endpoint: &endpoint,
                cause: None,
                remaining_established: remaining,
            }));
        }

        // The swarm counted the unadmitted connection; the inner behaviour never saw it.
        assert_eq!(*told.lock().unwrap(), [("established", 0), ("closed", 0)]);
    }
}

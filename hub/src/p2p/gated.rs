//! A behaviour wrapper that serves its inner protocol only on connections whose remote peer passes
//! a check made when the connection is established. Other connections get a dummy handler, so the
//! protocol is simply unsupported there. rust-libp2p's rendezvous server has no authorization hook;
//! this is it (hub.md §4.4 rule 2).

use std::collections::HashSet;
use std::sync::Arc;
use std::task::{Context, Poll};

use either::Either;
use libp2p::core::Endpoint;
use libp2p::core::transport::PortUse;
use libp2p::swarm::{
    ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent,
    THandlerOutEvent, ToSwarm, dummy,
};
use libp2p::{Multiaddr, PeerId};

/// Decides, per established connection, whether the remote peer may use the inner protocol.
pub(crate) type Admit = Arc<dyn Fn(&PeerId) -> bool + Send + Sync>;

/// `inner`, reachable only by admitted peers.
pub(crate) struct Gated<B> {
    inner: B,
    admit: Admit,
    admitted: HashSet<ConnectionId>,
}

impl<B> Gated<B> {
    pub(crate) fn new(inner: B, admit: Admit) -> Self {
        Self {
            inner,
            admit,
            admitted: HashSet::new(),
        }
    }
}

impl<B: NetworkBehaviour> Gated<B> {
    fn handler(
        &mut self,
        id: ConnectionId,
        peer: &PeerId,
        make: impl FnOnce(&mut B) -> Result<THandler<B>, ConnectionDenied>,
    ) -> Result<Either<THandler<B>, dummy::ConnectionHandler>, ConnectionDenied> {
        if (self.admit)(peer) {
            let handler = make(&mut self.inner)?;
            self.admitted.insert(id);
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
        // The inner behaviour must only hear about connections it made a handler for: e.g.
        // request-response panics on a close of a connection it never saw established.
        let known = match &event {
            FromSwarm::ConnectionEstablished(e) => self.admitted.contains(&e.connection_id),
            FromSwarm::AddressChange(e) => self.admitted.contains(&e.connection_id),
            FromSwarm::ConnectionClosed(e) => self.admitted.remove(&e.connection_id),
            _ => true,
        };
        if known {
            self.inner.on_swarm_event(event);
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
                && !self.admitted.contains(id)
            {
                continue;
            }
            return Poll::Ready(event.map_in(Either::Left));
        }
    }
}

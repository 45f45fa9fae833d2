//! The hub's rendezvous server, `/rendezvous/1.0.0` (hub.md §4.4). rust-libp2p's server has no
//! authorization or namespace hook, so the hub carries its own: every REGISTER and DISCOVER is
//! checked against the presence right when it arrives (`E_NOT_AUTHORIZED` otherwise), only the
//! hub's slug is a namespace (`E_INVALID_NAMESPACE` otherwise), and a revoked peer's registration
//! is dropped at once ([`Server::drop_peer`]).

mod codec;
mod store;

use std::convert::Infallible;
use std::iter;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use libp2p::core::transport::PortUse;
use libp2p::core::{Endpoint, PeerRecord, SignedEnvelope};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::{
    ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent,
    THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId, StreamProtocol};

use codec::{Codec, Registered, Request, Response, Status};
use store::Registrations;

const PROTOCOL: StreamProtocol = StreamProtocol::new("/rendezvous/1.0.0");
/// The TTL of a REGISTER that names none (the protocol's default, 2 h).
const DEFAULT_TTL: u64 = 7200;
/// Registrations per DISCOVER when the request names no (or a larger) limit.
const MAX_DISCOVER: usize = 1000;
/// Record bytes per DISCOVER response, well under a client's message limit.
const MAX_DISCOVER_BYTES: usize = 512 * 1024;
/// A request must arrive, and its answer leave, within this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Decides, per request, whether the remote peer may register and discover.
pub(crate) type Admit = Arc<dyn Fn(&PeerId) -> bool + Send + Sync>;

/// What the server accepts.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The only namespace: the hub's slug.
    pub(crate) namespace: String,
    pub(crate) min_ttl: u64,
    pub(crate) max_ttl: u64,
    pub(crate) max_registrations: usize,
}

/// The rendezvous server behaviour.
pub(crate) struct Server {
    inner: request_response::Behaviour<Codec>,
    settings: Settings,
    admit: Admit,
    registrations: Registrations,
}

impl Server {
    pub(crate) fn new(settings: Settings, admit: Admit) -> Self {
        Self {
            inner: request_response::Behaviour::with_codec(
                Codec,
                iter::once((PROTOCOL, ProtocolSupport::Inbound)),
                request_response::Config::default().with_request_timeout(REQUEST_TIMEOUT),
            ),
            registrations: Registrations::new(settings.max_registrations),
            settings,
            admit,
        }
    }

    /// Drops `peer`'s registration (its presence right ended); whether it had one.
    pub(crate) fn drop_peer(&mut self, peer: &PeerId) -> bool {
        self.registrations.remove(peer)
    }

    fn handle(&mut self, peer: PeerId, request: Request) -> Option<Response> {
        let now = Instant::now();
        let admitted = (self.admit)(&peer);
        match request {
            Request::Register {
                namespace,
                record,
                ttl,
            } => Some(Response::Register(
                self.register(peer, admitted, &namespace, record, ttl, now),
            )),
            Request::Unregister { namespace } => {
                if namespace == self.settings.namespace {
                    self.registrations.remove(&peer);
                }
                None
            }
            Request::Discover {
                namespace,
                limit,
                cookie,
            } => Some(Response::Discover(self.discover(
                admitted,
                namespace.as_deref(),
                limit,
                cookie.as_deref(),
                now,
            ))),
        }
    }

    fn register(
        &mut self,
        peer: PeerId,
        admitted: bool,
        namespace: &str,
        record: Vec<u8>,
        ttl: Option<u64>,
        now: Instant,
    ) -> Result<u64, Status> {
        if !admitted {
            return Err(Status::NotAuthorized);
        }
        if namespace != self.settings.namespace {
            return Err(Status::InvalidNamespace);
        }
        let ttl = ttl.unwrap_or(DEFAULT_TTL);
        if ttl < self.settings.min_ttl || ttl > self.settings.max_ttl {
            return Err(Status::InvalidTtl);
        }
        // Peers of the legacy rust-libp2p format and of the Go/JS one are both accepted.
        let signer = SignedEnvelope::from_protobuf_encoding(&record)
            .ok()
            .and_then(|envelope| {
                PeerRecord::from_signed_envelope(envelope.clone())
                    .or_else(|_| PeerRecord::from_signed_envelope_interop(envelope))
                    .ok()
            })
            .map(|record| record.peer_id());
        match signer {
            None => Err(Status::InvalidSignedPeerRecord),
            Some(signer) if signer != peer => Err(Status::NotAuthorized),
            Some(_) => match self.registrations.add(peer, record, ttl, now) {
                Ok(()) => Ok(ttl),
                Err(store::Full::Total) => Err(Status::Unavailable),
            },
        }
    }

    fn discover(
        &mut self,
        admitted: bool,
        namespace: Option<&str>,
        limit: Option<u64>,
        cookie: Option<&[u8]>,
        now: Instant,
    ) -> Result<(Vec<Registered>, Vec<u8>), Status> {
        if !admitted {
            return Err(Status::NotAuthorized);
        }
        let ours = self.settings.namespace.as_str();
        if namespace.is_some_and(|ns| ns != ours) {
            return Err(Status::InvalidNamespace);
        }
        let after = match cookie {
            None => 0,
            Some(cookie) => read_cookie(cookie, namespace).ok_or(Status::InvalidCookie)?,
        };
        let limit = match limit {
            Some(n) if n > 0 => usize::try_from(n).unwrap_or(MAX_DISCOVER).min(MAX_DISCOVER),
            _ => MAX_DISCOVER,
        };
        let (found, last) = self
            .registrations
            .discover(after, limit, MAX_DISCOVER_BYTES, now);
        let registered = found
            .into_iter()
            .map(|found| Registered {
                namespace: ours.to_owned(),
                record: found.record,
                ttl: found.ttl,
            })
            .collect();
        // rust-libp2p clients read a cookie as 8 bytes plus the namespace it is bound to.
        let mut cookie = last.to_be_bytes().to_vec();
        if let Some(ns) = namespace {
            cookie.extend_from_slice(ns.as_bytes());
        }
        Ok((registered, cookie))
    }
}

/// The sequence number in a cookie of [`Server::discover`]; `None` when it is malformed or bound
/// to another namespace than the request's.
fn read_cookie(cookie: &[u8], namespace: Option<&str>) -> Option<u64> {
    let (seq, bound) = cookie.split_at_checked(8)?;
    let matches = match namespace {
        Some(ns) => bound == ns.as_bytes(),
        None => bound.is_empty(),
    };
    matches.then(|| u64::from_be_bytes(seq.try_into().expect("invariant: 8 bytes")))
}

impl NetworkBehaviour for Server {
    type ConnectionHandler = THandler<request_response::Behaviour<Codec>>;
    type ToSwarm = Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        id: ConnectionId,
        peer: PeerId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.inner
            .handle_established_inbound_connection(id, peer, local_addr, remote_addr)
    }

    fn handle_established_outbound_connection(
        &mut self,
        id: ConnectionId,
        peer: PeerId,
        addr: &Multiaddr,
        role_override: Endpoint,
        port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.inner
            .handle_established_outbound_connection(id, peer, addr, role_override, port_use)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        self.inner.on_swarm_event(event);
    }

    fn on_connection_handler_event(
        &mut self,
        peer: PeerId,
        id: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        self.inner.on_connection_handler_event(peer, id, event);
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<ToSwarm<Infallible, THandlerInEvent<Self>>> {
        loop {
            let event = match self.inner.poll(cx) {
                Poll::Ready(event) => event,
                Poll::Pending => return Poll::Pending,
            };
            let event = match event {
                ToSwarm::GenerateEvent(request_response::Event::Message {
                    peer,
                    message:
                        request_response::Message::Request {
                            request, channel, ..
                        },
                    ..
                }) => {
                    if let Some(response) = self.handle(peer, request) {
                        tracing::debug!(%peer, ?response, "rendezvous request answered");
                        let _ = self.inner.send_response(channel, response);
                    }
                    continue;
                }
                ToSwarm::GenerateEvent(_) => continue,
                other => other,
            };
            return Poll::Ready(event.map_out(|_| unreachable!("every event is handled above")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(max_registrations: usize) -> Server {
        Server::new(
            Settings {
                namespace: "community".into(),
                min_ttl: 60,
                max_ttl: 7200,
                max_registrations,
            },
            Arc::new(|_: &PeerId| true),
        )
    }

    fn signed(key: &libp2p::identity::Keypair) -> Vec<u8> {
        PeerRecord::new(key, vec!["/ip4/127.0.0.1/tcp/1".parse().unwrap()])
            .unwrap()
            .into_signed_envelope()
            .into_protobuf_encoding()
    }

    fn register(server: &mut Server, key: &libp2p::identity::Keypair, ns: &str) -> Response {
        let request = Request::Register {
            namespace: ns.into(),
            record: signed(key),
            ttl: None,
        };
        server.handle(key.public().to_peer_id(), request).unwrap()
    }

    #[test]
    fn registration_under_another_namespace_is_refused_and_not_stored() {
        let mut server = server(10);
        let key = libp2p::identity::Keypair::generate_ed25519();

        let response = register(&mut server, &key, "elsewhere");

        assert_eq!(response, Response::Register(Err(Status::InvalidNamespace)));
        assert_eq!(server.registrations.len(), 0);
    }

    #[test]
    fn record_signed_by_another_peer_is_refused() {
        let mut server = server(10);
        let (key, other) = (
            libp2p::identity::Keypair::generate_ed25519(),
            libp2p::identity::Keypair::generate_ed25519(),
        );
        let request = Request::Register {
            namespace: "community".into(),
            record: signed(&other),
            ttl: None,
        };

        let response = server.handle(key.public().to_peer_id(), request);

        assert_eq!(
            response,
            Some(Response::Register(Err(Status::NotAuthorized)))
        );
    }

    #[test]
    fn garbage_record_and_bad_ttl_are_refused() {
        let mut server = server(10);
        let peer = PeerId::random();
        let with = |record: Vec<u8>, ttl| Request::Register {
            namespace: "community".into(),
            record,
            ttl,
        };

        assert_eq!(
            server.handle(peer, with(b"garbage".to_vec(), None)),
            Some(Response::Register(Err(Status::InvalidSignedPeerRecord)))
        );
        assert_eq!(
            server.handle(peer, with(Vec::new(), Some(59))),
            Some(Response::Register(Err(Status::InvalidTtl)))
        );
    }

    #[test]
    fn cookie_of_another_namespace_or_malformed_is_refused() {
        assert_eq!(read_cookie(&[0; 8], None), Some(0));
        assert_eq!(
            read_cookie(b"\0\0\0\0\0\0\0\x05community", Some("community")),
            Some(5)
        );
        assert_eq!(
            read_cookie(b"\0\0\0\0\0\0\0\x05other", Some("community")),
            None
        );
        assert_eq!(read_cookie(b"\0\0\0\0\0\0\0\x05community", None), None);
        assert_eq!(read_cookie(&[0; 7], None), None);
    }
}

//! A small libp2p client for tests: relay client, identify, ping, rendezvous client and an echo
//! stream protocol, over real loopback TCP with Noise and Yamux, and a pump that drives several
//! swarms until a condition holds.

use std::time::Duration;

use futures::StreamExt as _;
use futures::future::select_all;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{
    Multiaddr, PeerId, StreamProtocol, Swarm, identify, noise, ping, relay, rendezvous,
    request_response, tcp, yamux,
};

use crate::TestHub;

/// Echo over its own stream: proves a circuit carries an application protocol, not just ping.
const ECHO: StreamProtocol = StreamProtocol::new("/goop/test-echo/1.0.0");

/// The test client's behaviour.
#[derive(NetworkBehaviour)]
#[allow(missing_debug_implementations)]
pub struct Client {
    /// Circuit relay v2 client.
    pub relay: relay::client::Behaviour,
    /// identify.
    pub identify: identify::Behaviour,
    /// ping every 200 ms.
    pub ping: ping::Behaviour,
    /// Rendezvous client.
    pub rendezvous: rendezvous::client::Behaviour,
    /// Echo requests are answered by [`pump`].
    pub echo: request_response::json::Behaviour<String, String>,
    /// Raw streams: tests accept `/goop/relay-refresh/1.0.0` with it.
    pub stream: libp2p_stream::Behaviour,
    /// `/goop/hub/voucher/1.0.0` client: presents vouchers to a hub.
    pub voucher: request_response::json::Behaviour<serde_json::Value, serde_json::Value>,
}

/// An event of a test client swarm.
pub type Event = SwarmEvent<ClientEvent>;

/// A new client with a fresh identity.
///
/// # Panics
/// When the transport cannot be built.
pub fn client() -> Swarm<Client> {
    client_with(libp2p::identity::ed25519::Keypair::generate())
}

/// A new client whose identity is `key` (so the test can also sign PeerSig requests as it).
///
/// # Panics
/// When the transport cannot be built.
pub fn client_with(key: libp2p::identity::ed25519::Keypair) -> Swarm<Client> {
    libp2p::SwarmBuilder::with_existing_identity(key.into())
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .unwrap()
        .with_relay_client(noise::Config::new, yamux::Config::default)
        .unwrap()
        .with_behaviour(|key, relay| Client {
            relay,
            identify: identify::Behaviour::new(identify::Config::new(
                shared::protocol::IDENTIFY_PROTOCOL_VERSION.into(),
                key.public(),
            )),
            ping: ping::Behaviour::new(
                ping::Config::new().with_interval(Duration::from_millis(200)),
            ),
            rendezvous: rendezvous::client::Behaviour::new(key.clone()),
            echo: request_response::json::Behaviour::new(
                [(ECHO, request_response::ProtocolSupport::Full)],
                request_response::Config::default(),
            ),
            stream: libp2p_stream::Behaviour::new(),
            voucher: request_response::json::Behaviour::new(
                [(
                    shared::protocol::VOUCHER,
                    request_response::ProtocolSupport::Outbound,
                )],
                request_response::Config::default(),
            ),
        })
        .unwrap()
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(30)))
        .build()
}

/// `<hub addr>/p2p-circuit/p2p/<target>`.
pub fn circuit_addr(hub: &Multiaddr, target: PeerId) -> Multiaddr {
    hub.clone()
        .with(Protocol::P2pCircuit)
        .with(Protocol::P2p(target))
}

/// Polls every swarm until `done(index, event)` returns `Some`, answering echo requests on the way.
///
/// # Panics
/// After `deadline`, naming `what`.
pub async fn pump<T>(
    swarms: &mut [&mut Swarm<Client>],
    deadline: Duration,
    what: &str,
    mut done: impl FnMut(usize, &Event) -> Option<T>,
) -> T {
    let run = async {
        loop {
            let (index, event) = {
                let polls = swarms
                    .iter_mut()
                    .enumerate()
                    .map(|(i, swarm)| Box::pin(async move { (i, swarm.select_next_some().await) }));
                select_all(polls).await.0
            };
            let event = match event {
                SwarmEvent::Behaviour(ClientEvent::Echo(request_response::Event::Message {
                    message:
                        request_response::Message::Request {
                            request, channel, ..
                        },
                    ..
                })) => {
                    let _ = swarms[index]
                        .behaviour_mut()
                        .echo
                        .send_response(channel, format!("echo: {request}"));
                    continue;
                }
                other => other,
            };
            if let Some(value) = done(index, &event) {
                return value;
            }
        }
    };
    tokio::time::timeout(deadline, run)
        .await
        .unwrap_or_else(|_| panic!("timed out after {deadline:?} waiting for {what}"))
}

/// Connects to the relay of `hub` (its first listen address), then asks for a reservation:
/// `listen_on(<relay>/p2p-circuit)` only works once the connection to the relay is established.
///
/// # Errors
/// The listener's error when the relay refuses the reservation.
///
/// # Panics
/// When nothing happens within 10 s.
pub async fn reserve(swarm: &mut Swarm<Client>, hub: &TestHub) -> Result<(), String> {
    let (hub_addr, hub_id) = (hub.p2p_addr(), hub.server().peer_id());
    let deadline = Duration::from_secs(10);
    swarm.dial(hub_addr.clone()).map_err(|e| e.to_string())?;
    pump(
        &mut [&mut *swarm],
        deadline,
        "connection to the relay",
        |_, event| {
            matches!(event, SwarmEvent::ConnectionEstablished { peer_id, .. } if *peer_id == hub_id)
                .then_some(())
        },
    )
    .await;
    swarm
        .listen_on(hub_addr.clone().with(Protocol::P2pCircuit))
        .map_err(|e| e.to_string())?;
    pump(
        &mut [&mut *swarm],
        deadline,
        "the reservation outcome",
        |_, event| match event {
            SwarmEvent::Behaviour(ClientEvent::Relay(
                relay::client::Event::ReservationReqAccepted { .. },
            )) => Some(Ok(())),
            SwarmEvent::ListenerClosed {
                reason: Err(error), ..
            } => Some(Err(format!("{error:?}"))),
            _ => None,
        },
    )
    .await
}

/// Connects to `hub` (unless connected) and presents `voucher` over `/goop/hub/voucher/1.0.0`;
/// returns the hub's JSON answer.
///
/// # Panics
/// When nothing happens within 10 s.
pub async fn present_voucher(
    swarm: &mut Swarm<Client>,
    hub: &TestHub,
    voucher: &str,
) -> serde_json::Value {
    let (hub_addr, hub_id) = (hub.p2p_addr(), hub.server().peer_id());
    let deadline = Duration::from_secs(10);
    if !swarm.is_connected(&hub_id) {
        swarm.dial(hub_addr).expect("dial the hub");
        pump(&mut [&mut *swarm], deadline, "connection to the hub", |_, event| {
            matches!(event, SwarmEvent::ConnectionEstablished { peer_id, .. } if *peer_id == hub_id)
                .then_some(())
        })
        .await;
    }
    swarm
        .behaviour_mut()
        .voucher
        .send_request(&hub_id, serde_json::json!({ "voucher": voucher }));
    pump(
        &mut [&mut *swarm],
        deadline,
        "the voucher answer",
        |_, event| match event {
            SwarmEvent::Behaviour(ClientEvent::Voucher(request_response::Event::Message {
                message: request_response::Message::Response { response, .. },
                ..
            })) => Some(response.clone()),
            _ => None,
        },
    )
    .await
}

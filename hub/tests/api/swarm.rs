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

/// Echo over its own stream: proves a circuit carries an application protocol, not just ping.
const ECHO: StreamProtocol = StreamProtocol::new("/goop/test-echo/1.0.0");

#[derive(NetworkBehaviour)]
pub(crate) struct Client {
    pub(crate) relay: relay::client::Behaviour,
    pub(crate) identify: identify::Behaviour,
    pub(crate) ping: ping::Behaviour,
    pub(crate) rendezvous: rendezvous::client::Behaviour,
    pub(crate) echo: request_response::json::Behaviour<String, String>,
}

pub(crate) type Event = SwarmEvent<ClientEvent>;

pub(crate) fn client() -> Swarm<Client> {
    libp2p::SwarmBuilder::with_new_identity()
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
                "goop/1.0.0".into(),
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
        })
        .unwrap()
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(30)))
        .build()
}

/// `<hub addr>/p2p-circuit/p2p/<target>`.
pub(crate) fn circuit_addr(hub: &Multiaddr, target: PeerId) -> Multiaddr {
    hub.clone()
        .with(Protocol::P2pCircuit)
        .with(Protocol::P2p(target))
}

/// Polls every swarm until `done(index, event)` returns `Some`, answering echo requests on the way.
///
/// # Panics
/// After `deadline`, naming `what`.
pub(crate) async fn pump<T>(
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

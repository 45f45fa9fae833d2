//! `goop-bench relay-peer listen [<relay addr>]` / `goop-bench relay-peer send <addr> <MiB>`: one
//! side of the relay throughput benchmark, in its own process. The listener prints one JSON line
//! with the address to dial (its circuit address when a relay is given), then sinks streams; the
//! sender writes the bytes, waits for the listener's one-byte acknowledgement and prints MiB/s.

use std::time::{Duration, Instant};

use futures::{AsyncReadExt as _, AsyncWriteExt as _, StreamExt as _};
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, StreamProtocol, Swarm, noise, relay, tcp, yamux};

pub(crate) const PROTOCOL: StreamProtocol = StreamProtocol::new("/goop/bench/1.0.0");
const CHUNK: usize = 256 * 1024;

#[derive(NetworkBehaviour)]
struct Behaviour {
    relay: relay::client::Behaviour,
    stream: libp2p_stream::Behaviour,
}

fn swarm() -> Result<Swarm<Behaviour>, String> {
    Ok(libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| e.to_string())?
        .with_relay_client(noise::Config::new, yamux::Config::default)
        .map_err(|e| e.to_string())?
        .with_behaviour(|_, relay| Behaviour {
            relay,
            stream: libp2p_stream::Behaviour::new(),
        })
        .map_err(|e| e.to_string())?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(120)))
        .build())
}

pub(crate) async fn run(args: &[String]) -> Result<(), String> {
    match args {
        [mode] if mode == "listen" => listen(None).await,
        [mode, relay] if mode == "listen" => {
            listen(Some(relay.parse().map_err(|e| format!("{e}"))?)).await
        }
        [mode, target, mib] if mode == "send" => {
            send(
                target.parse().map_err(|e| format!("{e}"))?,
                mib.parse().map_err(|e| format!("{e}"))?,
            )
            .await
        }
        _ => {
            Err("usage: relay-peer listen [<relay addr>] | relay-peer send <addr> <MiB>".to_owned())
        }
    }
}

async fn listen(relay: Option<Multiaddr>) -> Result<(), String> {
    let mut swarm = swarm()?;
    let me = *swarm.local_peer_id();
    let mut incoming = swarm
        .behaviour()
        .stream
        .new_control()
        .accept(PROTOCOL)
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        while let Some((_, mut stream)) = incoming.next().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; CHUNK];
                while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
                let _ = stream.write_all(&[1]).await;
                let _ = stream.close().await;
            });
        }
    });
    let addr = match relay {
        None => {
            swarm
                .listen_on("/ip4/127.0.0.1/tcp/0".parse().expect("valid"))
                .map_err(|e| e.to_string())?;
            loop {
                if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
                    break address.with(Protocol::P2p(me));
                }
            }
        }
        Some(relay) => {
            let relay_id = peer_of(&relay)?;
            swarm.dial(relay.clone()).map_err(|e| e.to_string())?;
            loop {
                if let SwarmEvent::ConnectionEstablished { peer_id, .. } =
                    swarm.select_next_some().await
                    && peer_id == relay_id
                {
                    break;
                }
            }
            swarm
                .listen_on(relay.clone().with(Protocol::P2pCircuit))
                .map_err(|e| e.to_string())?;
            loop {
                match swarm.select_next_some().await {
                    SwarmEvent::Behaviour(BehaviourEvent::Relay(
                        relay::client::Event::ReservationReqAccepted { .. },
                    )) => break,
                    SwarmEvent::ListenerClosed { reason: Err(e), .. } => {
                        return Err(format!("reservation refused: {e}"));
                    }
                    _ => {}
                }
            }
            relay.with(Protocol::P2pCircuit).with(Protocol::P2p(me))
        }
    };
    println!("{}", serde_json::json!({ "addr": addr.to_string() }));
    loop {
        swarm.select_next_some().await;
    }
}

async fn send(target: Multiaddr, mib: usize) -> Result<(), String> {
    let mut swarm = swarm()?;
    let peer = peer_of(&target)?;
    let mut control = swarm.behaviour().stream.new_control();
    swarm.dial(target).map_err(|e| e.to_string())?;
    let driver = tokio::spawn(async move {
        loop {
            swarm.select_next_some().await;
        }
    });
    let mut stream = control
        .open_stream(peer, PROTOCOL)
        .await
        .map_err(|e| format!("{e:?}"))?;
    let chunk = vec![7u8; CHUNK];
    let total = mib * 1024 * 1024;
    let started = Instant::now();
    let mut sent = 0;
    while sent < total {
        stream.write_all(&chunk).await.map_err(|e| e.to_string())?;
        sent += CHUNK;
    }
    stream.close().await.map_err(|e| e.to_string())?;
    let mut ack = [0u8; 1];
    stream
        .read_exact(&mut ack)
        .await
        .map_err(|e| format!("no acknowledgement: {e}"))?;
    let elapsed = started.elapsed().as_secs_f64();
    driver.abort();
    println!(
        "{}",
        serde_json::json!({ "mib_per_s": mib as f64 / elapsed })
    );
    Ok(())
}

fn peer_of(addr: &Multiaddr) -> Result<PeerId, String> {
    match addr.iter().last() {
        Some(Protocol::P2p(peer)) => Ok(peer),
        _ => Err(format!("{addr} does not end in /p2p/<id>")),
    }
}

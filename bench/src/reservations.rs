//! `reservations`: as many concurrent relay reservations on one hub process as the bench can open
//! (target 5,000), each from its own peer; prints the count the hub reports and its resident
//! memory per reservation.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::SwarmEvent;
use libp2p::{noise, relay, tcp, yamux};
use tokio::sync::Semaphore;

use crate::hub_process::{HubProcess, fd_limit};

const WANTED: usize = 5_000;
const CONNECT_CONCURRENCY: usize = 64;

pub(crate) async fn run() -> Result<(), String> {
    let n = WANTED.min(fd_limit().saturating_sub(256));
    let plenty = (n * 2 + 1000).to_string();
    let bucket = format!("{{ burst = {plenty}, refill_secs = 1.0 }}");
    let hub = HubProcess::start(&[
        ("HUB_RELAY__RESERVATIONS", "any".to_owned()),
        ("HUB_RELAY__MAX_RESERVATIONS", plenty.clone()),
        ("HUB_P2P__MAX_CONNECTIONS", plenty.clone()),
        ("HUB_P2P__MAX_PENDING_INCOMING", "1024".to_owned()),
        ("HUB_RATE_LIMITS__RELAY_RESERVE_IP", bucket.clone()),
        ("HUB_RATE_LIMITS__RELAY_RESERVE_PEER", bucket),
    ])
    .await?;
    let relay_addr: Multiaddr = hub.info["multiaddrs"][0]
        .as_str()
        .ok_or("the hub has no multiaddr")?
        .parse()
        .map_err(|e| format!("{e}"))?;
    let before = hub.rss_kib()?;

    let accepted = Arc::new(Semaphore::new(0));
    let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    for _ in 0..n {
        let (accepted, gate, relay_addr) = (accepted.clone(), gate.clone(), relay_addr.clone());
        tokio::spawn(async move {
            let permit = gate.acquire_owned().await;
            let Ok(mut swarm) = reserve(&relay_addr).await else {
                return;
            };
            drop(permit);
            accepted.add_permits(1);
            loop {
                swarm.select_next_some().await;
            }
        });
    }
    let all = accepted.acquire_many(u32::try_from(n).unwrap_or(u32::MAX));
    if tokio::time::timeout(Duration::from_secs(300), all)
        .await
        .is_err()
    {
        println!(
            "only {} of {n} reservations were accepted within 300 s",
            accepted.available_permits()
        );
    }
    let held = hub.metric("hub_relay_reservations{tier=\"none\"} ").await?;
    let after = hub.rss_kib()?;
    crate::result("reservations_held", held);
    crate::result(
        "reservations_rss_kib_each",
        (after - before) / held.max(1.0),
    );
    Ok(())
}

type Client = libp2p::Swarm<relay::client::Behaviour>;

async fn reserve(relay_addr: &Multiaddr) -> Result<Client, String> {
    let mut swarm = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| e.to_string())?
        .with_relay_client(noise::Config::new, yamux::Config::default)
        .map_err(|e| e.to_string())?
        .with_behaviour(|_, relay| relay)
        .map_err(|e| e.to_string())?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    swarm.dial(relay_addr.clone()).map_err(|e| e.to_string())?;
    let deadline = Duration::from_secs(60);
    tokio::time::timeout(deadline, async {
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::ConnectionEstablished { .. } => return Ok(()),
                SwarmEvent::OutgoingConnectionError { error, .. } => return Err(error.to_string()),
                _ => {}
            }
        }
    })
    .await
    .map_err(|_| "connect timeout".to_owned())??;
    swarm
        .listen_on(relay_addr.clone().with(Protocol::P2pCircuit))
        .map_err(|e| e.to_string())?;
    tokio::time::timeout(deadline, async {
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::Behaviour(relay::client::Event::ReservationReqAccepted { .. }) => {
                    return Ok(());
                }
                SwarmEvent::ListenerClosed { reason: Err(e), .. } => return Err(e.to_string()),
                _ => {}
            }
        }
    })
    .await
    .map_err(|_| "reservation timeout".to_owned())??;
    Ok(swarm)
}

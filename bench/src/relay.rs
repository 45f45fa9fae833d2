//! `relay`: stream throughput between two peers (separate processes) through the hub's relay,
//! through a bare rust-libp2p relay with the same limits, and directly. The three cases alternate
//! and each figure is the median of several rounds, so machine noise hits them alike.

use std::process::Stdio;
use std::time::Duration;

use futures::StreamExt as _;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, identify, noise, relay, tcp, yamux};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

/// MiB sent per transfer.
const MIB: usize = 256;
/// Rounds of the three cases.
const ROUNDS: usize = 3;
/// Circuit limits raised far beyond one transfer.
const CIRCUIT_BYTES: u64 = 1 << 40;
const CIRCUIT_SECS: u64 = 3600;

pub(crate) async fn run() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let hub_relay = start_hub(dir.path()).await?;
    let stock_relay = start_stock_relay().await?;
    println!("transfer_mib {MIB} rounds {ROUNDS}");
    let (mut through_hub, mut through_stock, mut direct) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        through_hub.push(transfer(Some(&hub_relay.1)).await?);
        through_stock.push(transfer(Some(&stock_relay)).await?);
        direct.push(transfer(None).await?);
        println!(
            "round {round}: hub {:.1} stock {:.1} direct {:.1} MiB/s",
            through_hub[round], through_stock[round], direct[round]
        );
    }
    let (hub, stock, direct) = (
        crate::median(through_hub),
        crate::median(through_stock),
        crate::median(direct),
    );
    crate::result("relay_mib_per_s", hub);
    crate::result("direct_mib_per_s", direct);
    crate::result("stock_relay_mib_per_s", stock);
    crate::result("relay_vs_direct", hub / direct);
    crate::result("relay_vs_stock", hub / stock);
    hub_relay.0.shutdown().await;
    Ok(())
}

async fn start_hub(dir: &std::path::Path) -> Result<(hub::Server, Multiaddr), String> {
    let url = format!("sqlite://{}?mode=rwc", dir.join("hub.db").display());
    let mut config = hub::Config::for_tests(dir, &url);
    config.relay.reservations = hub::config::Policy::Any;
    config.relay.circuit_sources = hub::config::Policy::Any;
    config.relay.circuit_max_bytes = CIRCUIT_BYTES;
    config.relay.circuit_max_duration = Duration::from_secs(CIRCUIT_SECS);
    let server = hub::Server::start(config)
        .await
        .map_err(|e| e.to_string())?;
    let addr = server.p2p_addrs()[0].clone();
    Ok((server, addr))
}

#[derive(NetworkBehaviour)]
struct StockRelay {
    relay: relay::Behaviour,
    identify: identify::Behaviour,
}

/// A plain `relay::Behaviour` swarm with the hub's limits, in this process.
async fn start_stock_relay() -> Result<Multiaddr, String> {
    let mut swarm = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| e.to_string())?
        .with_behaviour(|key| {
            let config = relay::Config {
                max_circuit_bytes: CIRCUIT_BYTES * 2,
                max_circuit_duration: Duration::from_secs(CIRCUIT_SECS),
                ..relay::Config::default()
            };
            let mut relay = relay::Behaviour::new(key.public().to_peer_id(), config);
            relay.set_status(Some(relay::Status::Enable));
            StockRelay {
                relay,
                identify: identify::Behaviour::new(identify::Config::new(
                    "goop/1.0.0".into(),
                    key.public(),
                )),
            }
        })
        .map_err(|e| e.to_string())?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(120)))
        .build();
    swarm
        .listen_on("/ip4/127.0.0.1/tcp/0".parse().expect("valid"))
        .map_err(|e| e.to_string())?;
    let addr = loop {
        if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
            break address;
        }
    };
    swarm.add_external_address(addr.clone());
    let me = *swarm.local_peer_id();
    tokio::spawn(async move {
        loop {
            swarm.select_next_some().await;
        }
    });
    Ok(addr.with(Protocol::P2p(me)))
}

/// One transfer between two fresh peer processes; returns MiB/s.
async fn transfer(relay: Option<&Multiaddr>) -> Result<f64, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut listen = Command::new(&exe);
    listen.args(["relay-peer", "listen"]);
    if let Some(relay) = relay {
        listen.arg(relay.to_string());
    }
    let mut listener = spawn(&mut listen)?;
    let ready = first_json_line(&mut listener).await?;
    let addr = ready["addr"]
        .as_str()
        .ok_or("listener printed no address")?
        .to_owned();
    let mut sender =
        spawn(Command::new(&exe).args(["relay-peer", "send", &addr, &MIB.to_string()]))?;
    let outcome = first_json_line(&mut sender).await;
    let _ = listener.kill().await;
    let _ = sender.kill().await;
    outcome?["mib_per_s"]
        .as_f64()
        .ok_or_else(|| "sender printed no rate".to_owned())
}

fn spawn(command: &mut Command) -> Result<Child, String> {
    command
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("spawning a peer: {e}"))
}

async fn first_json_line(child: &mut Child) -> Result<serde_json::Value, String> {
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .map_err(|_| "a peer process did not answer within 60 s".to_owned())?
        .map_err(|e| e.to_string())?
        .ok_or("a peer process exited early")?;
    serde_json::from_str(&line).map_err(|e| format!("{line}: {e}"))
}

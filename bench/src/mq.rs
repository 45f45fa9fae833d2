//! `mq`: acknowledged messages per second and the p99 of send → ack over `/goop/mq/1.0.0`
//! (`peer::mq::send`) between two peers (library, in this process), directly and through a hub
//! relay. One hub process (open, relay reservations and circuit sources `any`); all four peers
//! join it through `hubs.urls` and find each other through its presence, as in production: the
//! direct pair listens on loopback, the relay pair does not listen at all (as behind NAT) and
//! reaches the other through its circuit address. The connection kind is checked, not assumed.
//!
//! The receiver admits at most `peer::mq::RATE` (burst 100, then 50/s) per remote (peer.md §4),
//! so one run is one burst of `RATE.burst` messages from a full bucket, `IN_FLIGHT` at a time:
//! it measures the stack's throughput and latency, not the spec's rate limit. The two cases
//! alternate (each pair's bucket refills while the other runs) and the figures are medians.
//!
//! Latencies include any retry of the sender (`peer::mq::RETRY_DELAY` later). Inbound streams
//! wait in the peer's own queue (`peer::p2p::inbound`, 64 per protocol): `libp2p-stream` handed
//! them over a channel without buffer and reset one arriving while the previous one waited
//! (rust-libp2p#5651), which this bench found as retried sends. Each run prints how many messages
//! took longer than the retry delay, and runs with one message in flight follow as context.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use libp2p::PeerId;
use peer::p2p::NetEvent;
use peer::{Peer, PeerConfig};
use tokio::sync::broadcast;

use crate::hub_process::HubProcess;

/// Sends awaiting their ack at once (below the receiver's `PER_REMOTE` of 32).
const IN_FLIGHT: usize = 16;
/// Pairs of runs (direct, relay).
const PAIRS: usize = 5;
/// Pairs of runs with one message in flight (context).
const SEQUENTIAL_PAIRS: usize = 3;
/// Deadline of the setup (presence, reservations) and of one run.
const DEADLINE: Duration = Duration::from_secs(60);
/// The topic: not in the dispatch table, so messages go to the application inbox.
const TOPIC: &str = "bench";

pub(crate) async fn run() -> Result<(), String> {
    if std::env::var_os("RUST_LOG").is_some() {
        // The in-process peers' logs, for looking into a failed run.
        let _ = shared::telemetry::init(&shared::telemetry::LogConfig::default());
    }
    // Four peers on one IP open circuits to each other (presence probes, then the messages):
    // the per-IP and per-peer circuit limits are raised so they measure nothing here.
    let plenty = "{ burst = 1000, refill_secs = 1.0 }".to_owned();
    let hub = HubProcess::start(&[
        ("HUB_MEMBERSHIP__JOIN_MODE", "open".to_owned()),
        ("HUB_RELAY__RESERVATIONS", "any".to_owned()),
        ("HUB_RELAY__CIRCUIT_SOURCES", "any".to_owned()),
        ("HUB_RELAY__MAX_CIRCUITS_PER_PEER", "64".to_owned()),
        ("HUB_RATE_LIMITS__RELAY_CIRCUIT_PEER", plenty.clone()),
        ("HUB_RATE_LIMITS__RELAY_CIRCUIT_IP", plenty),
    ])
    .await?;
    let url = format!("http://{}", hub.http);
    let direct = Pair::start(&url, true).await?;
    let relay = Pair::start(&url, false).await?;
    let n = peer::mq::RATE.burst as usize;
    println!("messages_per_run {n} in_flight {IN_FLIGHT} pairs {PAIRS}");
    let (direct_runs, relay_runs) = alternate(&direct, &relay, n, IN_FLIGHT, PAIRS).await?;
    // Context: one message at a time, where no inbound stream waits for the accept loop.
    let (direct_one, relay_one) = alternate(&direct, &relay, n, 1, SEQUENTIAL_PAIRS).await?;
    direct.check_kind()?;
    relay.check_kind()?;
    let median_of =
        |runs: &[Run], pick: fn(&Run) -> f64| crate::median(runs.iter().map(pick).collect());
    crate::result(
        "mq_direct_msgs_per_s",
        median_of(&direct_runs, |r| r.msgs_per_s),
    );
    crate::result(
        "mq_relay_msgs_per_s",
        median_of(&relay_runs, |r| r.msgs_per_s),
    );
    crate::result("mq_direct_p99_ms", median_of(&direct_runs, |r| r.p99_ms));
    crate::result("mq_relay_p99_ms", median_of(&relay_runs, |r| r.p99_ms));
    println!(
        "in_flight 1 (context, medians of {SEQUENTIAL_PAIRS}): direct {:.0} msgs/s p99 {:.2} ms, \
         relay {:.0} msgs/s p99 {:.2} ms",
        median_of(&direct_one, |r| r.msgs_per_s),
        median_of(&direct_one, |r| r.p99_ms),
        median_of(&relay_one, |r| r.msgs_per_s),
        median_of(&relay_one, |r| r.p99_ms),
    );
    direct.shutdown().await;
    relay.shutdown().await;
    Ok(())
}

/// `pairs` rounds of one burst on `direct` then one on `relay`, each from a full bucket at the
/// receiver, `in_flight` at a time; prints each run.
async fn alternate(
    direct: &Pair,
    relay: &Pair,
    n: usize,
    in_flight: usize,
    pairs: usize,
) -> Result<(Vec<Run>, Vec<Run>), String> {
    let (mut direct_runs, mut relay_runs) = (Vec::new(), Vec::new());
    for round in 0..pairs {
        for (pair, runs) in [(direct, &mut direct_runs), (relay, &mut relay_runs)] {
            // A full bucket at the receiver: RATE.burst tokens refill in burst × refill.
            tokio::time::sleep(peer::mq::RATE.refill() * peer::mq::RATE.burst).await;
            let run = pair.burst(n, in_flight).await?;
            let case = if pair.relayed { "relay" } else { "direct" };
            println!(
                "in_flight {in_flight} round {round} {case}: {:.0} msgs/s, p99 {:.2} ms, \
                 retried {}, not delivered {}{}",
                run.msgs_per_s,
                run.p99_ms,
                run.retried,
                run.failed.len(),
                run.failed
                    .first()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            );
            runs.push(run);
        }
    }
    Ok((direct_runs, relay_runs))
}

/// The figures of one burst.
struct Run {
    msgs_per_s: f64,
    p99_ms: f64,
    /// Acked messages slower than the retry delay (retried).
    retried: usize,
    /// Why each message that was not delivered failed.
    failed: Vec<String>,
}

/// A sender and a receiver that found each other through the hub.
struct Pair {
    sender: Peer,
    receiver: Peer,
    /// `relayed` of every connection the sender made to the receiver (from its libp2p events).
    connections: Arc<Mutex<Vec<bool>>>,
    watcher: tokio::task::JoinHandle<()>,
    relayed: bool,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

impl Pair {
    /// Two peers joined to `hub`, listening on loopback or (`listen = false`) reachable only
    /// through the hub's relay; returns once the sender reached the receiver with one message.
    async fn start(hub: &str, listen: bool) -> Result<Self, String> {
        let (sender_dir, sender) = start_peer(hub, listen).await?;
        let (receiver_dir, receiver) = start_peer(hub, listen).await?;
        let target = receiver.peer_id();
        let connections = Arc::new(Mutex::new(Vec::new()));
        let watcher = tokio::spawn(watch(
            sender.node().net.subscribe(),
            target,
            connections.clone(),
        ));
        let wanted = |addr: &libp2p::Multiaddr| {
            addr.iter()
                .any(|p| matches!(p, libp2p::multiaddr::Protocol::P2pCircuit))
                != listen
        };
        // The receiver's presence, through the hub, with the address kind this pair uses.
        let announced = async {
            while !sender.node().peers.addrs(&target).iter().any(wanted) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(DEADLINE, announced)
            .await
            .map_err(|_| "the receiver's address never came through the hub".to_owned())?;
        sender
            .send(target, TOPIC, serde_json::json!({ "warm": true }))
            .await
            .map_err(|e| format!("first message: {e}"))?;
        if listen {
            // At first contact the receiver may also have dialled through the relay; the peer
            // closes such a connection 10 s after a direct one is up; close it now.
            sender
                .node()
                .net
                .close_relayed(target)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(Self {
            sender,
            receiver,
            connections,
            watcher,
            relayed: !listen,
            _dirs: (sender_dir, receiver_dir),
        })
    }

    /// Sends `n` messages, `in_flight` at a time: acked messages per second, the p99 of send →
    /// ack over the acked ones in ms, and the messages not delivered (after the sender's retry).
    async fn burst(&self, n: usize, in_flight: usize) -> Result<Run, String> {
        let (node, target) = (self.sender.node().clone(), self.receiver.peer_id());
        let started = Instant::now();
        let sends = futures::stream::iter(0..n)
            .map(|i| send_one(node.clone(), target, i))
            .buffer_unordered(in_flight)
            .collect::<Vec<_>>();
        let outcomes = tokio::time::timeout(DEADLINE, sends)
            .await
            .map_err(|_| format!("{n} messages not acked within {DEADLINE:?}"))?;
        let elapsed = started.elapsed().as_secs_f64();
        let mut latencies = Vec::with_capacity(n);
        let mut failed = Vec::new();
        for outcome in outcomes {
            match outcome {
                Ok(ms) => latencies.push(ms),
                Err(error) => failed.push(error),
            }
        }
        if latencies.is_empty() {
            return Err(format!("no message was acked: {failed:?}"));
        }
        let retried = latencies
            .iter()
            .filter(|ms| **ms >= peer::mq::RETRY_DELAY.as_secs_f64() * 1000.0)
            .count();
        Ok(Run {
            retried,
            msgs_per_s: latencies.len() as f64 / elapsed,
            p99_ms: crate::quantile(&mut latencies, 0.99),
            failed,
        })
    }

    /// Prints the kinds of the connections the two made; fails when the relay pair got a direct
    /// one or the direct pair none (the figures would not be what they are named after).
    fn check_kind(&self) -> Result<(), String> {
        let seen = self.connections.lock().unwrap_or_else(|e| e.into_inner());
        let relayed = seen.iter().filter(|r| **r).count();
        let direct = seen.len() - relayed;
        let case = if self.relayed { "relay" } else { "direct" };
        println!("{case} pair: connections made: direct {direct}, relayed {relayed}");
        if self.relayed && direct > 0 {
            return Err("the relay pair got a direct connection".to_owned());
        }
        if !self.relayed && direct == 0 {
            return Err("the direct pair got no direct connection".to_owned());
        }
        Ok(())
    }

    async fn shutdown(self) {
        self.watcher.abort();
        self.sender.shutdown().await;
        self.receiver.shutdown().await;
    }
}

/// Records `relayed` of each connection established to `target`.
async fn watch(
    mut events: broadcast::Receiver<NetEvent>,
    target: PeerId,
    connections: Arc<Mutex<Vec<bool>>>,
) {
    loop {
        match events.recv().await {
            Ok(NetEvent::ConnectionEstablished { peer, relayed, .. }) if peer == target => {
                connections
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(relayed);
            }
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// One message: milliseconds from send to ack.
async fn send_one(node: Arc<peer::Node>, target: PeerId, i: usize) -> Result<f64, String> {
    let started = Instant::now();
    peer::mq::send(&node, target, TOPIC, serde_json::json!({ "i": i }))
        .await
        .map_err(|e| format!("message {i}: {e}"))?;
    Ok(started.elapsed().as_secs_f64() * 1000.0)
}

async fn start_peer(hub: &str, listen: bool) -> Result<(tempfile::TempDir, Peer), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut config = PeerConfig::for_tests(dir.path());
    config.p2p.listen = listen;
    config.http.enabled = false;
    config.hubs.urls = vec![hub.to_owned()];
    let peer = Peer::start(config).await.map_err(|e| e.to_string())?;
    Ok((dir, peer))
}

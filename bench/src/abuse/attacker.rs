//! The attacker of `abuse`, run as `goop-bench abuse-attacker <hub http addr> <hub id> <secs>`
//! under `nice -n 10`. From addresses spread over 127.0.1.0/24, for `secs` seconds and all at
//! once: (a) slow-header connections that send half a request and then one more header byte every
//! 2 s, (b) requests signed by fresh keys (signed before the attack starts) at a fixed rate,
//! (c) WebSocket upgrades that never authenticate. Prints [`READY`] when the attack starts,
//! [`ENDING`] while it still holds everything it opened, then one [`REPORT`] line of figures.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use libp2p::identity::ed25519::Keypair;
use shared::ids::Ed25519PeerId;
use shared::peer_sig::SignedHeaders;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Printed when the attack starts.
pub(super) const READY: &str = "READY";
/// Printed when the attack ends, before anything is closed.
pub(super) const ENDING: &str = "ENDING";
/// Prefix of the figures line.
pub(super) const REPORT: &str = "REPORT";

/// Slow-header connections opened.
const SLOW_CONNS: usize = 2_000;
/// WebSocket upgrades tried.
const WS_UPGRADES: usize = 1_000;
/// Requests signed by fresh keys, per second.
const SIGNED_PER_S: usize = 2_000;
/// Signed requests sent per tick of the flood.
const SIGNED_TICK: Duration = Duration::from_millis(10);
/// Signed requests waiting for an answer at most; beyond it a scheduled request is skipped.
const SIGNED_IN_FLIGHT: usize = 4_000;
/// Connections being opened at once.
const CONNECT_CONCURRENCY: usize = 128;
/// A slow connection still open this long after it was opened counts against the hub.
const SLOW_CHECK: Duration = Duration::from_secs(15);
/// One more header byte this often.
const TRICKLE_EVERY: Duration = Duration::from_secs(2);
/// The attacker's addresses: 127.0.1.1 – 127.0.1.254.
const SOURCES: usize = 254;

/// One source address per index, round robin.
fn source(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 1, (i % SOURCES) as u8 + 1))
}

pub(crate) async fn run(args: &[String]) -> Result<(), String> {
    let [hub, hub_id, secs] = args else {
        return Err("usage: goop-bench abuse-attacker <hub http addr> <hub id> <secs>".into());
    };
    let hub: SocketAddr = hub.parse().map_err(|e| format!("hub address: {e}"))?;
    let hub_id: Ed25519PeerId = hub_id.parse().map_err(|e| format!("hub id: {e}"))?;
    let length = Duration::from_secs(secs.parse().map_err(|e| format!("secs: {e}"))?);

    let n = SIGNED_PER_S * length.as_secs() as usize;
    let signed = tokio::task::spawn_blocking(move || presign(&hub_id, n))
        .await
        .map_err(|e| e.to_string())?;
    let ws_ids: Vec<String> = (0..WS_UPGRADES)
        .map(|_| Ed25519PeerId::from(Keypair::generate().public()).to_string())
        .collect();
    println!("{READY}");
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + length;

    let slow = tokio::spawn(slow_headers(hub, deadline));
    let ws = tokio::spawn(ws_upgrades(hub, ws_ids, deadline));
    let flood = flood(hub, signed, deadline).await?;
    let (slow, slow_held) = slow.await.map_err(|e| e.to_string())?;
    let (ws, ws_held) = ws.await.map_err(|e| e.to_string())?;
    println!("{ENDING}");
    // Let the lead sample the hub while every connection is still held.
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop((slow_held, ws_held));
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{REPORT} slow_opened={} slow_open_after_15s={} slow_unmeasured={} slow_refused={} \
         signed_sent={} signed_per_s={:.0} signed_2xx={} signed_429={} signed_other={} signed_failed={} signed_skipped={} \
         ws_tried={WS_UPGRADES} ws_upgraded={} ws_refused={}",
        slow.opened,
        slow.open_after_check,
        slow.unmeasured,
        slow.refused,
        flood.sent,
        flood.sent as f64 / secs,
        flood.ok.load(Ordering::Relaxed),
        flood.limited.load(Ordering::Relaxed),
        flood.other.load(Ordering::Relaxed),
        flood.failed.load(Ordering::Relaxed),
        flood.skipped,
        ws.upgraded,
        ws.refused,
    );
    Ok(())
}

/// `n` sets of PeerSig headers for `GET /api/v1/membership`, each by a fresh key, signed now.
fn presign(hub_id: &Ed25519PeerId, n: usize) -> Vec<[(&'static str, String); 3]> {
    let now = shared::clock::unix_ms();
    (0..n)
        .map(|_| {
            SignedHeaders::sign(
                &Keypair::generate(),
                hub_id,
                now,
                "GET",
                "/api/v1/membership",
                b"",
            )
            .into_pairs()
        })
        .collect()
}

/// Opens a TCP connection to `hub` from `from`.
async fn connect(from: IpAddr, hub: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(hub).await
}

#[derive(Default)]
struct SlowFigures {
    opened: usize,
    open_after_check: usize,
    unmeasured: usize,
    refused: usize,
}

/// Slowloris: half a request header, then one byte every [`TRICKLE_EVERY`], held until
/// `deadline`. Returns the figures and the connections still open, to drop after [`ENDING`].
async fn slow_headers(
    hub: SocketAddr,
    deadline: tokio::time::Instant,
) -> (SlowFigures, Vec<TcpStream>) {
    let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let mut running = JoinSet::new();
    for i in 0..SLOW_CONNS {
        let gate = gate.clone();
        running.spawn(async move {
            let permit = gate.acquire_owned().await;
            let mut stream = connect(source(i), hub).await.ok()?;
            drop(permit);
            let opened = tokio::time::Instant::now();
            if stream
                .write_all(b"GET /api/v1/info HTTP/1.1\r\nHost: hub\r\nX-Slow: ")
                .await
                .is_err()
            {
                return Some((opened, Some(opened), None));
            }
            let mut buf = [0u8; 1024];
            let mut trickle = tokio::time::interval_at(opened + TRICKLE_EVERY, TRICKLE_EVERY);
            loop {
                tokio::select! {
                    read = stream.read(&mut buf) => match read {
                        Ok(0) | Err(_) => return Some((opened, Some(tokio::time::Instant::now()), None)),
                        Ok(_) => {}
                    },
                    _ = trickle.tick() => {
                        if stream.write_all(b"x").await.is_err() {
                            return Some((opened, Some(tokio::time::Instant::now()), None));
                        }
                    }
                    () = tokio::time::sleep_until(deadline) => return Some((opened, None, Some(stream))),
                }
            }
        });
    }
    let mut figures = SlowFigures::default();
    let mut held = Vec::new();
    while let Some(done) = running.join_next().await {
        let Ok(Some((opened, closed, stream))) = done else {
            figures.refused += 1;
            continue;
        };
        figures.opened += 1;
        let checked_at = opened + SLOW_CHECK;
        match closed {
            Some(closed) if closed <= checked_at => {}
            _ if checked_at > deadline => figures.unmeasured += 1,
            _ => figures.open_after_check += 1,
        }
        held.extend(stream);
    }
    (figures, held)
}

#[derive(Default)]
struct WsFigures {
    upgraded: usize,
    refused: usize,
}

/// Upgrades to `/ws` as a v2 session and then says nothing, held until `deadline`.
async fn ws_upgrades(
    hub: SocketAddr,
    ids: Vec<String>,
    deadline: tokio::time::Instant,
) -> (WsFigures, Vec<TcpStream>) {
    let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let mut running = JoinSet::new();
    for (i, id) in ids.into_iter().enumerate() {
        let gate = gate.clone();
        running.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let mut stream = connect(source(i), hub).await.ok()?;
            let request = format!(
                "GET /ws?peer_id={id}&v=2 HTTP/1.1\r\nHost: hub\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                 Sec-WebSocket-Version: 13\r\n\r\n"
            );
            stream.write_all(request.as_bytes()).await.ok()?;
            let mut head = Vec::new();
            let mut buf = [0u8; 512];
            let read = async {
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
            };
            tokio::time::timeout_at(deadline, read).await.ok()?;
            head.starts_with(b"HTTP/1.1 101").then_some(stream)
        });
    }
    let mut figures = WsFigures::default();
    let mut held = Vec::new();
    while let Some(done) = running.join_next().await {
        match done {
            Ok(Some(stream)) => {
                figures.upgraded += 1;
                held.push(stream);
            }
            _ => figures.refused += 1,
        }
    }
    // The upgraded sockets stay open, silent, until the attack ends.
    tokio::time::sleep_until(deadline).await;
    (figures, held)
}

/// What the signed flood did.
#[derive(Default)]
struct FloodFigures {
    sent: usize,
    skipped: usize,
    ok: Arc<AtomicUsize>,
    limited: Arc<AtomicUsize>,
    other: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
}

/// Sends the presigned requests at [`SIGNED_PER_S`] from clients bound to the attacker's
/// addresses, until `deadline` or until they run out.
async fn flood(
    hub: SocketAddr,
    signed: Vec<[(&'static str, String); 3]>,
    deadline: tokio::time::Instant,
) -> Result<FloodFigures, String> {
    let clients = (0..SOURCES)
        .map(|i| {
            reqwest::Client::builder()
                .local_address(source(i))
                .timeout(Duration::from_secs(5))
                .build()
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let url = format!("http://{hub}/api/v1/membership");
    let in_flight = Arc::new(Semaphore::new(SIGNED_IN_FLIGHT));
    let per_tick = SIGNED_PER_S * SIGNED_TICK.as_millis() as usize / 1000;
    let mut figures = FloodFigures::default();
    let mut ticker = tokio::time::interval(SIGNED_TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut signed = signed.into_iter();
    let mut running = JoinSet::new();
    'ticks: while tokio::time::Instant::now() < deadline {
        ticker.tick().await;
        for _ in 0..per_tick {
            let Some(headers) = signed.next() else {
                break 'ticks;
            };
            let Ok(permit) = in_flight.clone().try_acquire_owned() else {
                figures.skipped += 1;
                continue;
            };
            let mut request = clients[figures.sent % SOURCES].get(&url);
            for (name, value) in headers {
                request = request.header(name, value);
            }
            figures.sent += 1;
            let (ok, limited, other, failed) = (
                figures.ok.clone(),
                figures.limited.clone(),
                figures.other.clone(),
                figures.failed.clone(),
            );
            running.spawn(async move {
                let counter = match request.send().await {
                    Ok(response) if response.status().is_success() => ok,
                    Ok(response) if response.status() == 429 => limited,
                    Ok(_) => other,
                    Err(_) => failed,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                drop(permit);
            });
            while running.try_join_next().is_some() {}
        }
    }
    while running.join_next().await.is_some() {}
    Ok(figures)
}

//! `peer`: the `peer` binary as its own process, joined to three hub processes on loopback. Each
//! run starts the daemon with a fresh data directory (a new identity, so each hub admits it by
//! autojoin at its first v2 WebSocket auth) and measures the time from spawn until all three
//! hubs are `online`, then the daemon's resident memory after 5 s idle.
//!
//! The signal is the local API's event stream (`GET /api/events` with `Last-Event-ID: 0`, which
//! replays every event since start, so none is missed while the API comes up): the peer sets a
//! hub's state to `online` and emits `hub.state` in the same step as it handles the hub's
//! `snapshot-end` frame (`peer/src/hubs/ws.rs`, `Ctx::stream_up`), so three `online` states are
//! the three `snapshot-end`s, seen through the SSE stream (a loopback round trip later).

use std::collections::HashSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::hub_process::{HubProcess, free_port, rss_kib, status_kib};

/// Hubs the peer joins.
const HUBS: usize = 3;
/// Daemon starts measured.
const RUNS: usize = 5;
/// Idle time before the memory is read.
const IDLE: Duration = Duration::from_secs(5);
/// Deadline of one start (until all hubs are online).
const ONLINE_DEADLINE: Duration = Duration::from_secs(30);

pub(crate) async fn run() -> Result<(), String> {
    let mut hubs = Vec::with_capacity(HUBS);
    for _ in 0..HUBS {
        hubs.push(HubProcess::start(&[("HUB_MEMBERSHIP__JOIN_MODE", "open".to_owned())]).await?);
    }
    let urls: Vec<String> = hubs.iter().map(|h| format!("http://{}", h.http)).collect();
    println!("hubs {HUBS} runs {RUNS} idle_s {}", IDLE.as_secs());
    let (mut online_ms, mut rss_mib) = (Vec::new(), Vec::new());
    for run in 0..RUNS {
        let (ms, rss, detail) = start_once(&urls).await?;
        println!("run {run}: start_to_online {ms:.1} ms, idle rss {rss:.1} MiB ({detail})");
        online_ms.push(ms);
        rss_mib.push(rss);
    }
    crate::result("peer_start_to_online_ms", crate::median(online_ms));
    println!("RESULT peer_idle_rss_mib {:.1}", crate::median(rss_mib));
    Ok(())
}

/// One daemon start: milliseconds from spawn to all hubs online, idle RSS in MiB, and what the
/// RSS is made of.
async fn start_once(urls: &[String]) -> Result<(f64, f64, String), String> {
    let peer = std::env::current_exe()
        .map_err(|e| e.to_string())?
        .with_file_name("peer");
    if !peer.exists() {
        return Err(format!(
            "{} is missing: build it with `cargo build --release -p goop-peer`",
            peer.display()
        ));
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let api = free_port()?;
    let mut command = Command::new(peer);
    command
        .arg("--data-dir")
        .arg(dir.path())
        .arg("run")
        .env("PEER_HUBS__URLS", urls.join(","))
        .env("PEER_HTTP__ADDR", api.to_string())
        .env("PEER_P2P__LOOPBACK_ONLY", "true")
        .env("PEER_LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true);
    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| format!("starting the peer: {e}"))?;
    let online = tokio::time::timeout(ONLINE_DEADLINE, all_online(api, urls.len()))
        .await
        .map_err(|_| format!("the hubs were not all online within {ONLINE_DEADLINE:?}"))??;
    let ms = online.duration_since(started).as_secs_f64() * 1000.0;
    tokio::time::sleep(IDLE).await;
    let pid = child.id().ok_or("the peer exited")?;
    let rss = rss_kib(pid)? / 1024.0;
    // Context: heap and stacks versus pages of the binary (shared, clean, evictable).
    let (anon, file) = (status_kib(pid, "RssAnon")?, status_kib(pid, "RssFile")?);
    let detail = format!(
        "anon {:.1} MiB, file {:.1} MiB, threads {}",
        anon / 1024.0,
        file / 1024.0,
        std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, Iterator::count)
    );
    stop(&mut child).await;
    Ok((ms, rss, detail))
}

/// When the event stream of the local API at `api` has shown `hubs` hubs `online`.
async fn all_online(api: std::net::SocketAddr, hubs: usize) -> Result<Instant, String> {
    let client = reqwest::Client::new();
    let mut response = loop {
        let request = client
            .get(format!("http://{api}/api/events"))
            .header("last-event-id", "0")
            .send()
            .await;
        match request {
            Ok(response) if response.status() == 200 => break response,
            Ok(response) => return Err(format!("GET /api/events: {}", response.status())),
            // The API is not bound yet.
            Err(_) => tokio::time::sleep(Duration::from_millis(2)).await,
        }
    };
    let (mut buffer, mut online) = (String::new(), HashSet::new());
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            if let Some((url, state)) = hub_state(&frame) {
                if state == "online" {
                    online.insert(url);
                } else {
                    online.remove(&url);
                }
                if online.len() == hubs {
                    return Ok(Instant::now());
                }
            }
        }
    }
    Err("the event stream ended".to_owned())
}

/// (url, state) of a `hub.state` SSE frame.
fn hub_state(frame: &str) -> Option<(String, String)> {
    frame.lines().find(|l| *l == "event: hub.state")?;
    let data = frame.lines().find_map(|l| l.strip_prefix("data: "))?;
    let value: serde_json::Value = serde_json::from_str(data).ok()?;
    Some((
        value["url"].as_str()?.to_owned(),
        value["state"].as_str()?.to_owned(),
    ))
}

/// SIGTERM (the daemon says `offline` to its hubs and stops), SIGKILL after 5 s.
async fn stop(child: &mut Child) {
    if let Some(pid) = child.id() {
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
    }
    if tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
}

//! `presence`: N WebSocket (v2) subscribers on a hub process; one presence change; the time until
//! each subscriber has it. Prints p50/p99 and the hub's resident memory per subscriber.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt as _, StreamExt as _};
use libp2p::identity::ed25519::Keypair;
use serde_json::{Value, json};
use shared::ids::Ed25519PeerId;
use tokio::sync::{Semaphore, mpsc};
use tokio_tungstenite::tungstenite::Message;

use crate::hub_process::{HubProcess, fd_limit};

/// Subscribers wanted; fewer when the file-descriptor limit does not allow them.
const WANTED: usize = 10_000;
/// Connections opened at once.
const CONNECT_CONCURRENCY: usize = 64;

pub(crate) async fn run() -> Result<(), String> {
    let n = WANTED.min(fd_limit().saturating_sub(256));
    let limit = (n + 100).to_string();
    let hub = HubProcess::start(&[
        ("HUB_MEMBERSHIP__JOIN_MODE", "open".to_owned()),
        ("HUB_PRESENCE__WS_MAX_PER_IP", limit.clone()),
        ("HUB_PRESENCE__WS_MAX_TOTAL", limit.clone()),
        ("HUB_HTTP__MAX_CONNECTIONS", (n + 1000).to_string()),
        ("HUB_HTTP__MAX_TCP_CONNECTIONS", (n + 1000).to_string()),
        (
            "HUB_HTTP__MAX_TCP_CONNECTIONS_PER_IP",
            (n + 1000).to_string(),
        ),
        // Every socket's upgrade comes from 127.0.0.1 at once.
        ("HUB_RATE_LIMITS__GENERAL_IP__BURST", (n + 1000).to_string()),
        ("HUB_PRESENCE__LEGACY_REFRESH_SECS", "0".to_owned()),
    ])
    .await?;
    let hub_id: Ed25519PeerId = hub.info["id"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .map_err(|e| format!("{e}"))?;
    let client = reqwest::Client::new();
    let publisher = Keypair::generate();
    publish(&client, &hub, &hub_id, &publisher, "before").await?;
    let before = hub.rss_kib()?;

    let (tx, mut rx) = mpsc::channel::<Instant>(n);
    let connected = Arc::new(Semaphore::new(0));
    let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let url = format!("ws://{}/ws", hub.http);
    let publisher_id = Ed25519PeerId::from(publisher.public()).to_string();
    for _ in 0..n {
        let (tx, connected, gate, url, target) = (
            tx.clone(),
            connected.clone(),
            gate.clone(),
            url.clone(),
            publisher_id.clone(),
        );
        tokio::spawn(async move {
            let permit = gate.acquire_owned().await;
            let Ok(mut ws) = subscribe(&url).await else {
                return;
            };
            drop(permit);
            connected.add_permits(1);
            // A substring check keeps the client's own cost per frame small: the figure is the
            // hub's fan-out, not JSON parsing in the bench.
            let (peer, content) = (format!("\"peerId\":\"{target}\""), "\"content\":\"after\"");
            while let Some(Ok(message)) = ws.next().await {
                if let Message::Text(text) = message
                    && text.contains(content)
                    && text.contains(&peer)
                {
                    let _ = tx.send(Instant::now()).await;
                }
            }
        });
    }
    drop(tx);
    let all = connected.acquire_many(u32::try_from(n).unwrap_or(u32::MAX));
    tokio::time::timeout(Duration::from_secs(300), all)
        .await
        .map_err(|_| {
            format!(
                "only {} of {n} subscribers connected within 300 s",
                connected.available_permits()
            )
        })?
        .map_err(|e| e.to_string())?
        .forget();
    let after = hub.rss_kib()?;

    let sent = Instant::now();
    publish(&client, &hub, &hub_id, &publisher, "after").await?;
    let mut latencies = Vec::with_capacity(n);
    while latencies.len() < n {
        match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
            Ok(Some(at)) => latencies.push(at.duration_since(sent).as_secs_f64() * 1000.0),
            _ => break,
        }
    }
    if latencies.len() < n {
        return Err(format!(
            "only {} of {n} subscribers received the change",
            latencies.len()
        ));
    }
    crate::result("presence_subscribers", n as f64);
    crate::result("presence_p50_ms", crate::quantile(&mut latencies, 0.50));
    crate::result("presence_p99_ms", crate::quantile(&mut latencies, 0.99));
    crate::result("presence_rss_kib_per_peer", (after - before) / n as f64);
    Ok(())
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a v2 session with a fresh key and reads through `snapshot-end`.
async fn subscribe(url: &str) -> Result<Ws, String> {
    let key = Keypair::generate();
    let id = Ed25519PeerId::from(key.public());
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{url}?peer_id={id}&v=2"))
        .await
        .map_err(|e| e.to_string())?;
    let challenge = next_json(&mut ws).await?;
    let input = format!(
        "goop-ws-v1\n{}\n{}\n{id}",
        challenge["hubId"].as_str().unwrap_or(""),
        challenge["nonce"].as_str().unwrap_or("")
    );
    let auth = json!({"type": "auth", "peerId": id.to_string(), "nonce": challenge["nonce"], "sig": shared::signing::sign_b64u(&key, input.as_bytes())});
    ws.send(Message::Text(auth.to_string().into()))
        .await
        .map_err(|e| e.to_string())?;
    loop {
        if next_json(&mut ws).await?["type"] == "snapshot-end" {
            return Ok(ws);
        }
    }
}

async fn next_json(ws: &mut Ws) -> Result<Value, String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                return serde_json::from_str(&text).map_err(|e| e.to_string());
            }
            Some(Ok(_)) => {}
            other => return Err(format!("socket ended: {other:?}")),
        }
    }
}

async fn publish(
    client: &reqwest::Client,
    hub: &HubProcess,
    hub_id: &Ed25519PeerId,
    key: &Keypair,
    content: &str,
) -> Result<(), String> {
    let body = json!({"type": "update", "peerId": Ed25519PeerId::from(key.public()).to_string(), "content": content}).to_string();
    let mut request = client
        .post(format!("http://{}/publish", hub.http))
        .body(body.clone());
    for (name, value) in testkit::signed_headers(key, hub_id, "POST", "/publish", body.as_bytes()) {
        request = request.header(name, value);
    }
    let status = request.send().await.map_err(|e| e.to_string())?.status();
    if status == 204 {
        Ok(())
    } else {
        Err(format!("publish answered {status}"))
    }
}

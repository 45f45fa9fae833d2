//! [`Goop2Hub`]: a loopback double of an unmodified goop2 hub as peer.md §3/§3.3 describes its
//! wire: `/api/capabilities` without `signed_presence` (or 404), unsigned `POST /publish`,
//! WS v1 `/ws?peer_id=` without a challenge (425 before the peer's first publish), SSE `/events`,
//! and `/relay` 404. It records what it received so tests can check that a legacy hub gets
//! unsigned presence and WS v1 only.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// One `POST /publish` as received.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    /// Whether any PeerSig header came with it (a goop2 hub would ignore them; we never send any).
    pub signed: bool,
    /// The body.
    pub body: Value,
}

/// What the double received.
#[derive(Debug, Clone, Default)]
pub struct Goop2Log {
    /// Every publish, in order.
    pub publishes: Vec<Published>,
    /// The query string of every accepted `/ws` upgrade.
    pub ws_queries: Vec<String>,
    /// Every text frame received over WS.
    pub ws_frames: Vec<Value>,
    /// `/events` requests.
    pub sse_requests: usize,
}

#[derive(Clone)]
struct Shared {
    log: Arc<Mutex<Goop2Log>>,
    live: Arc<Mutex<BTreeMap<String, Value>>>,
    tx: broadcast::Sender<String>,
    capabilities: bool,
    ws: bool,
}

/// A running goop2 hub double. Dropping it stops it.
#[derive(Debug)]
pub struct Goop2Hub {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    log: Arc<Mutex<Goop2Log>>,
    live: Arc<Mutex<BTreeMap<String, Value>>>,
    tx: broadcast::Sender<String>,
    server: JoinHandle<()>,
}

impl Drop for Goop2Hub {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Goop2Hub {
    /// Starts the double. `capabilities`: `/api/capabilities` answers a goop2 document (else 404);
    /// `ws`: `/ws` upgrades (else 404, sending peers to SSE).
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(capabilities: bool, ws: bool) -> Self {
        let (tx, _) = broadcast::channel(256);
        let log = Arc::new(Mutex::new(Goop2Log::default()));
        let live = Arc::new(Mutex::new(BTreeMap::new()));
        let shared = Shared {
            log: log.clone(),
            live: live.clone(),
            tx: tx.clone(),
            capabilities,
            ws,
        };
        let app = Router::new()
            .route("/api/capabilities", get(capabilities_doc))
            .route("/publish", post(publish))
            .route("/ws", get(upgrade))
            .route("/events", get(events))
            .route("/relay", get(|| async { StatusCode::NOT_FOUND }))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the goop2 double");
        let addr: SocketAddr = listener.local_addr().expect("its address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base_url: format!("http://{addr}"),
            log,
            live,
            tx,
            server,
        }
    }

    /// What it received so far.
    pub fn log(&self) -> Goop2Log {
        self.log.lock().expect("log").clone()
    }

    /// Sends `msg` to every subscriber, as if another goop2 peer had published it.
    pub fn announce(&self, msg: &Value) {
        if let Some(peer) = msg["peerId"].as_str() {
            self.live
                .lock()
                .expect("live")
                .insert(peer.to_owned(), msg.clone());
        }
        let _ = self.tx.send(msg.to_string());
    }
}

async fn capabilities_doc(State(s): State<Shared>) -> Response {
    if s.capabilities {
        axum::Json(
            json!({"encryption": false, "registration": false, "credits": false,
            "templates": false, "bridge": false, "relay": true}),
        )
        .into_response()
    } else {
        StatusCode::NOT_FOUND.into_response()
    }
}

async fn publish(State(s): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let signed = headers.keys().any(|k| k.as_str().starts_with("x-goop-"));
    let Ok(value) = serde_json::from_str::<Value>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    s.log.lock().expect("log").publishes.push(Published {
        signed,
        body: value.clone(),
    });
    if let Some(peer) = value["peerId"].as_str() {
        if value["type"] == "offline" {
            s.live.lock().expect("live").remove(peer);
        } else {
            s.live
                .lock()
                .expect("live")
                .insert(peer.to_owned(), value.clone());
        }
    }
    let _ = s.tx.send(body);
    "ok".into_response()
}

async fn upgrade(
    State(s): State<Shared>,
    Query(query): Query<BTreeMap<String, String>>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let (Ok(ws), true) = (ws, s.ws) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if query.contains_key("probe") {
        return ws.on_upgrade(|mut socket| async move {
            let _ = socket.send(Message::Close(None)).await;
        });
    }
    let peer = query.get("peer_id").cloned().unwrap_or_default();
    if !s.live.lock().expect("live").contains_key(&peer) {
        return StatusCode::TOO_EARLY.into_response();
    }
    let text = serde_urlencoded::to_string(&query).unwrap_or_default();
    s.log.lock().expect("log").ws_queries.push(text);
    ws.on_upgrade(move |socket| session(s, socket))
}

async fn session(s: Shared, socket: WebSocket) {
    let (mut tx, mut rx) = socket.split();
    let mut feed = s.tx.subscribe();
    let snapshot: Vec<Value> = s.live.lock().expect("live").values().cloned().collect();
    for msg in snapshot {
        let mut msg = msg;
        msg["type"] = "online".into();
        if tx
            .send(Message::Text(msg.to_string().into()))
            .await
            .is_err()
        {
            return;
        }
    }
    loop {
        tokio::select! {
            out = feed.recv() => match out {
                Ok(text) => if tx.send(Message::Text(text.into())).await.is_err() { return },
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            inbound = rx.next() => match inbound {
                Some(Ok(Message::Text(text))) => {
                    if let Ok(value) = serde_json::from_str::<Value>(&text) {
                        s.log.lock().expect("log").ws_frames.push(value);
                    }
                    let _ = s.tx.send(text.to_string());
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

async fn events(State(s): State<Shared>) -> Response {
    s.log.lock().expect("log").sse_requests += 1;
    let snapshot: Vec<Value> = s.live.lock().expect("live").values().cloned().collect();
    let feed = tokio_stream_of(s.tx.subscribe());
    let head = futures::stream::iter(
        snapshot
            .into_iter()
            .map(|v| Ok::<_, std::convert::Infallible>(format!("data: {v}\n\n"))),
    );
    let body = axum::body::Body::from_stream(head.chain(feed));
    ([("content-type", "text/event-stream")], body).into_response()
}

fn tokio_stream_of(
    rx: broadcast::Receiver<String>,
) -> impl futures::Stream<Item = Result<String, std::convert::Infallible>> {
    futures::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(text) => return Some((Ok(format!("data: {text}\n\n")), rx)),
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}

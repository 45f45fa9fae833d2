//! `GET /ws` (hub.md §5.4): the probe, signed v2 sessions (key challenge) and legacy goop2 v1
//! sessions. A session both publishes its peer and subscribes to everyone else's.

#[cfg(test)]
mod proptests;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use rand::RngCore as _;
use serde::Deserialize;
use shared::ids::{Ed25519PeerId, ParsePeerIdError};
use shared::rate_limit::Bucket;
use shared::signing;

use shared::error_code::ErrorCode;

use super::extract::ClientIp;
use super::presence::{PRESENCE_BODY_LIMIT, is_signature_locked};
use super::{ApiError, ApiResult};
use crate::presence::{Class, PresenceMsg, SubscribeRequest, Subscription, Transport, WsSlot};
use crate::state::AppState;
use crate::utc::now_ms;

/// A write not finished in this long closes the session.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// Dropped frames within [`BAD_FRAME_WINDOW`] that close the session with 4009.
const BAD_FRAME_LIMIT: usize = 10;
const BAD_FRAME_WINDOW: Duration = Duration::from_secs(60);
/// Small socket buffers: a hub holds thousands of mostly idle sessions.
const READ_BUFFER: usize = 4 * 1024;
const WRITE_BUFFER: usize = 0;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/ws", get(open_ws))
}

#[derive(Debug, Deserialize)]
struct WsQuery {
    probe: Option<String>,
    peer_id: Option<String>,
    v: Option<String>,
}

async fn open_ws(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    _headers: HeaderMap,
    query: Result<Query<WsQuery>, axum::extract::rejection::QueryRejection>,
    upgrade: WebSocketUpgrade,
) -> ApiResult<Response> {
    let query = query.map(|q| q.0).unwrap_or(WsQuery {
        probe: None,
        peer_id: None,
        v: None,
    });
    let upgrade = upgrade
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(PRESENCE_BODY_LIMIT)
        .max_frame_size(PRESENCE_BODY_LIMIT);
    if query.probe.as_deref() == Some("1") {
        let slot = reserve(&state, ip)?;
        return Ok(upgrade.on_upgrade(|mut ws| async move {
            finish(&mut ws, 1000, "probe-ok").await;
            drop(slot);
        }));
    }
    let peer: Ed25519PeerId = match query.peer_id.as_deref().map(str::parse) {
        Some(Ok(peer)) => peer,
        Some(Err(ParsePeerIdError::NotEd25519)) => {
            return Err(ApiError::BadRequest {
                code: ErrorCode::UnsupportedPeerId,
                field: Some("peer_id"),
                message: "peer_id is not an Ed25519 PeerId".to_owned(),
            });
        }
        _ => {
            return Err(ApiError::BadRequest {
                code: ErrorCode::InvalidField,
                field: Some("peer_id"),
                message: "peer_id: a PeerId is required (or probe=1)".to_owned(),
            });
        }
    };
    let slot = reserve(&state, ip)?;
    if query.v.as_deref() == Some("2") {
        return Ok(upgrade.on_upgrade(move |ws| run_v2(ws, state, peer, ip, slot)));
    }
    if !state.config.presence.allow_unsigned || is_signature_locked(&state, &peer.peer_id()) {
        return Err(ApiError::Forbidden(ErrorCode::SignatureRequired));
    }
    if !state.presence.is_live(&peer.peer_id()) {
        return Err(ApiError::PublishFirst);
    }
    Ok(upgrade.on_upgrade(move |ws| run_v1(ws, state, peer, ip, slot)))
}

/// The socket's slot, taken before the upgrade and held until it is gone (hub.md §5.4): beyond the
/// per-IP, total or auth-phase caps the upgrade is refused with 429.
fn reserve(state: &AppState, ip: IpAddr) -> ApiResult<WsSlot> {
    state.presence.reserve_ws(ip).map_err(|error| {
        tracing::debug!(%ip, %error, "WebSocket upgrade refused");
        ApiError::TooManyRequests(Duration::from_secs(10))
    })
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }))
}

/// Sends a close frame, then drains the socket until the client's close (at most 2 s).
async fn finish(ws: &mut WebSocket, code: u16, reason: &'static str) {
    if !matches!(
        tokio::time::timeout(WRITE_TIMEOUT, ws.send(close(code, reason))).await,
        Ok(Ok(()))
    ) {
        return;
    }
    let _ = tokio::time::timeout(WRITE_TIMEOUT, async {
        while let Some(Ok(message)) = ws.recv().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

fn subscribe(
    state: &AppState,
    peer: &Ed25519PeerId,
    ip: IpAddr,
    legacy: bool,
) -> Option<Subscription> {
    state
        .presence
        .subscribe(SubscribeRequest {
            transport: Transport::Ws,
            class: Class::Participant,
            legacy,
            identity: Some(peer.peer_id()),
            session: true,
            ip,
        })
        .ok()
}

/// Legacy goop2 session: snapshot, then duplex; inbound frames are unsigned publishes.
async fn run_v1(
    mut ws: WebSocket,
    state: AppState,
    peer: Ed25519PeerId,
    ip: IpAddr,
    mut slot: WsSlot,
) {
    slot.admit();
    let Some(sub) = subscribe(&state, &peer, ip, true) else {
        finish(&mut ws, 1013, "try-again-later").await;
        return;
    };
    Session {
        ws,
        state,
        peer,
        signed: false,
        sub,
    }
    .run(false)
    .await;
}

/// Signed session: key challenge, `auth-ok`, snapshot and `snapshot-end`, then duplex.
async fn run_v2(
    mut ws: WebSocket,
    state: AppState,
    peer: Ed25519PeerId,
    ip: IpAddr,
    mut slot: WsSlot,
) {
    let mut nonce = [0u8; 32];
    rand::rng().fill_bytes(&mut nonce);
    let nonce = signing::b64u_encode(&nonce);
    let challenge = serde_json::json!({"type": "challenge", "hubId": state.hub_id.to_string(), "nonce": nonce, "ts": now_ms()});
    if ws
        .send(Message::Text(challenge.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    let timeout = state.config.presence.ws_auth_timeout;
    let reply = match tokio::time::timeout(timeout, ws.recv()).await {
        Err(_) => {
            finish(&mut ws, 4002, "auth-timeout").await;
            return;
        }
        Ok(Some(Ok(Message::Text(text)))) => text,
        Ok(_) => {
            finish(&mut ws, 4001, "auth-failed").await;
            return;
        }
    };
    let Some(sig) = auth_signature(&reply, &state.hub_id, &nonce, &peer) else {
        finish(&mut ws, 4001, "auth-failed").await;
        return;
    };
    let admit = || state.limits.email_ip.check(ip, Instant::now()).is_ok();
    state
        .membership
        .autojoin(&peer, now_ms(), &sig, admit)
        .await;
    if !state.entitlements.rights(&peer.peer_id()).presence {
        let code = state.entitlements.refusal(&peer.peer_id());
        finish(&mut ws, 4003, code.as_str()).await;
        return;
    }
    state
        .presence
        .lock_signature(peer.peer_id(), Instant::now());
    slot.admit();
    let Some(sub) = subscribe(&state, &peer, ip, false) else {
        finish(&mut ws, 1013, "try-again-later").await;
        return;
    };
    // Peers without an account (open communities) stand as active members.
    let (st, tier) = state
        .entitlements
        .standing(&peer.peer_id())
        .map_or(("active", "member"), |(st, tier)| {
            (st.label(), tier.label())
        });
    let ok = serde_json::json!({"type": "auth-ok", "ts": now_ms(), "state": st, "tier": tier});
    if ws.send(Message::Text(ok.to_string().into())).await.is_err() {
        return;
    }
    Session {
        ws,
        state,
        peer,
        signed: true,
        sub,
    }
    .run(true)
    .await;
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Auth {
    #[serde(rename = "type")]
    kind: String,
    peer_id: String,
    nonce: String,
    sig: String,
}

/// `sig` signs `goop-ws-v1\n<hubId>\n<nonce>\n<peerId>` with the key of the query's PeerId.
/// The signature of a valid `auth` frame (the proof kept with an autojoin binding).
fn auth_signature(
    text: &str,
    hub_id: &Ed25519PeerId,
    nonce: &str,
    peer: &Ed25519PeerId,
) -> Option<String> {
    let auth = serde_json::from_str::<Auth>(text).ok()?;
    let input = format!("goop-ws-v1\n{hub_id}\n{nonce}\n{peer}");
    let valid = auth.kind == "auth"
        && auth.nonce == nonce
        && auth.peer_id == peer.to_string()
        && signing::verify_b64u(peer, input.as_bytes(), &auth.sig).is_ok();
    valid.then_some(auth.sig)
}

/// The duplex part of a session.
struct Session {
    ws: WebSocket,
    state: AppState,
    peer: Ed25519PeerId,
    signed: bool,
    sub: Subscription,
}

impl Session {
    async fn run(mut self, v2: bool) {
        let snapshot = std::mem::take(&mut self.sub.snapshot);
        let count = snapshot.len();
        for frame in snapshot {
            if !self.send(Message::Text(frame)).await {
                return;
            }
        }
        if v2 {
            let end = serde_json::json!({"type": "snapshot-end", "ts": now_ms(), "count": count});
            if !self.send(Message::Text(end.to_string().into())).await {
                return;
            }
        }
        let config = &self.state.config.presence;
        let mut ping = tokio::time::interval(config.ws_ping);
        let read_timeout = config.ws_read_timeout;
        let frame_limit = self.state.config.rate_limits.ws_frames;
        let mut frames = Bucket::full(frame_limit, Instant::now());
        let mut bad: Vec<Instant> = Vec::new();
        let mut last_read = Instant::now();
        loop {
            tokio::select! {
                outbound = self.sub.rx.recv() => match outbound {
                    Some(json) => {
                        if !self.send(Message::Text(json)).await {
                            return;
                        }
                    }
                    None => {
                        // The hub dropped this subscriber; its queue is drained: say why.
                        let reason = (*self.sub.closed.borrow()).unwrap_or((1001, "closed"));
                        self.finish(reason.0, reason.1).await;
                        return;
                    }
                },
                _ = ping.tick() => {
                    if last_read.elapsed() > read_timeout {
                        self.finish(1001, "read-timeout").await;
                        return;
                    }
                    if !self.send(Message::Ping(Default::default())).await {
                        return;
                    }
                }
                inbound = self.ws.recv() => {
                    last_read = Instant::now();
                    match inbound {
                        Some(Ok(Message::Text(text))) => {
                            let now = Instant::now();
                            let accepted = frames.take(frame_limit, now).is_ok() && self.accept(text.as_bytes(), now);
                            if !accepted {
                                bad.retain(|at| now.duration_since(*at) < BAD_FRAME_WINDOW);
                                bad.push(now);
                                if bad.len() >= BAD_FRAME_LIMIT {
                                    self.finish(4009, "bad-frames").await;
                                    return;
                                }
                            }
                        }
                        Some(Ok(Message::Binary(_))) => {
                            self.finish(1003, "text-only").await;
                            return;
                        }
                        Some(Ok(Message::Close(_))) | None => return,
                        Some(Ok(_)) => {}
                        Some(Err(error)) => {
                            // tungstenite reports oversized messages as a capacity error.
                            if error.to_string().contains("too long") {
                                let _ = self.send(close(1009, "too-big")).await;
                            }
                            return;
                        }
                    }
                }
            }
        }
    }

    /// One inbound frame: a PresenceMsg for this session's peer. Returns whether it was accepted.
    fn accept(&self, bytes: &[u8], now: Instant) -> bool {
        let Ok(msg) = PresenceMsg::parse(bytes, now_ms(), Some(&self.peer)) else {
            return false;
        };
        if msg.peer_id != self.peer
            || (!self.signed && is_signature_locked(&self.state, &self.peer.peer_id()))
        {
            return false;
        }
        self.state.presence.publish(msg, self.signed, now).is_ok()
    }

    /// Sends a close frame and waits (bounded) for the client's reply before dropping the socket:
    /// closing with unread input makes the kernel reset the connection, which can destroy frames
    /// the client has not read yet (such as the `offline`s of a shutdown).
    async fn finish(&mut self, code: u16, reason: &'static str) {
        finish(&mut self.ws, code, reason).await;
    }

    async fn send(&mut self, message: Message) -> bool {
        // Most writes complete at once; arming a timer for each of thousands of fan-out frames
        // would cost more than the write, so the deadline starts only when the socket pushes back.
        let send = self.ws.send(message);
        tokio::pin!(send);
        match futures::poll!(&mut send) {
            std::task::Poll::Ready(result) => result.is_ok(),
            std::task::Poll::Pending => {
                matches!(tokio::time::timeout(WRITE_TIMEOUT, send).await, Ok(Ok(())))
            }
        }
    }
}

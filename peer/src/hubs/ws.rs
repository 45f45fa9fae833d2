//! One WebSocket presence session with a hub (peer.md §3.3): WS v2 (challenge, `auth`,
//! `auth-ok`, snapshot, `snapshot-end`) at signed hubs, WS v1 (no handshake, heartbeat
//! `update`s) at legacy hubs. Frames are ≤ 64 KiB in and ≤ 16 KiB out, the read deadline is 15 s
//! (the hub pings every 5 s; pongs are answered by the socket), writes have 2 s. [`run`] returns
//! how the session ended; the channel decides what follows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt as _, StreamExt as _};
use shared::presence::MsgType;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::context::Ctx;
use super::inbound::{self, Frame};

/// Upgrade deadline.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// No frame (pings included) for this long ends the session.
pub(crate) const READ_TIMEOUT: Duration = Duration::from_secs(15);
/// Deadline of one write.
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest frame accepted from a hub.
pub(crate) const MAX_FRAME_IN: usize = 64 * 1024;
/// Largest frame we send.
pub(crate) const MAX_FRAME_OUT: usize = 16 * 1024;
/// `update` frames at most one per this.
pub(crate) const UPDATE_INTERVAL: Duration = Duration::from_secs(1);

/// WS protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    /// hub.md v2 (authenticated).
    V2,
    /// goop2 legacy.
    V1,
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The upgrade was answered with this HTTP status (404/501/403/2xx → fallback, 425, 429).
    Status(u16, Option<Duration>),
    /// No connection or no answer within the handshake deadline.
    Unreachable(String),
    /// The challenge named another hub (we closed with 1000).
    WrongHub,
    /// The hub closed with this code and reason.
    Closed(u16, String),
    /// Read timeout, oversized frame, broken connection.
    Broken(String),
    /// We were told to stop (offline sent, closed with 1000).
    Shutdown,
}

/// The result of one session: how it ended and since when it was up (after the snapshot).
#[derive(Debug)]
pub(crate) struct Session {
    /// How it ended.
    pub(crate) ended: Ended,
    /// When presence was fully up (v2: `snapshot-end`, v1: the upgrade).
    pub(crate) up_since: Option<Instant>,
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens and runs one session until it ends.
pub(crate) async fn run(ctx: &Arc<Ctx>, version: Version) -> Session {
    let query = match version {
        Version::V2 => format!("/ws?peer_id={}&v=2", ctx.node.peer_id),
        Version::V1 => format!("/ws?peer_id={}", ctx.node.peer_id),
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME_IN))
        .max_frame_size(Some(MAX_FRAME_IN));
    let connect =
        tokio_tungstenite::connect_async_with_config(ctx.url.ws(&query), Some(config), true);
    let socket = tokio::select! {
        () = ctx.token.cancelled() => return Session { ended: Ended::Shutdown, up_since: None },
        result = tokio::time::timeout(HANDSHAKE_TIMEOUT, connect) => result,
    };
    let mut socket = match socket {
        Err(_) => return ended(Ended::Unreachable("upgrade timed out".to_owned())),
        Ok(Err(WsError::Http(response))) => {
            let retry = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|s| Duration::from_secs(s.min(600)));
            return ended(Ended::Status(response.status().as_u16(), retry));
        }
        Ok(Err(error)) => return ended(Ended::Unreachable(error.to_string())),
        Ok(Ok((socket, _))) => socket,
    };
    let mut session = Session {
        ended: Ended::Shutdown,
        up_since: None,
    };
    if version == Version::V1 {
        ctx.stream_up(true);
        session.up_since = Some(Instant::now());
        if let Err(e) = send(&mut socket, ctx.own_frame(MsgType::Online).await).await {
            return ended(e);
        }
    }
    session.ended = pump(ctx, version, &mut socket, &mut session.up_since).await;
    ctx.node
        .peers
        .stream_ended(&ctx.source, ctx.node.clock.now_ms());
    session
}

fn ended(ended: Ended) -> Session {
    Session {
        ended,
        up_since: None,
    }
}

/// Where the v2 handshake is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Challenge,
    AuthOk,
    Snapshot,
    Live,
}

async fn pump(
    ctx: &Arc<Ctx>,
    version: Version,
    socket: &mut Socket,
    up_since: &mut Option<Instant>,
) -> Ended {
    let mut phase = match version {
        Version::V2 => Phase::Challenge,
        Version::V1 => Phase::Live,
    };
    let mut changes = ctx.node.hubs.presence_changes();
    changes.mark_unchanged();
    let mut pending_update = false;
    let mut next_update = Instant::now();
    let heartbeat = Duration::from_secs(ctx.node.config.presence.heartbeat_secs.max(1));
    let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
    loop {
        let update_at = tokio::time::Instant::from_std(next_update);
        tokio::select! {
            () = ctx.token.cancelled() => {
                let offline = ctx.own_frame(MsgType::Offline).await;
                let _ = send(socket, offline).await;
                close(socket, CloseCode::Normal, "").await;
                return Ended::Shutdown;
            }
            read = tokio::time::timeout(READ_TIMEOUT, socket.next()) => {
                let text = match read {
                    Err(_) => return Ended::Broken("read timeout".to_owned()),
                    Ok(None) => return Ended::Broken("connection closed".to_owned()),
                    Ok(Some(Err(WsError::Capacity(_)))) => {
                        close(socket, CloseCode::Size, "frame too large").await;
                        return Ended::Broken("frame too large".to_owned());
                    }
                    Ok(Some(Err(error))) => return Ended::Broken(error.to_string()),
                    Ok(Some(Ok(Message::Close(frame)))) => {
                        return frame.map_or(Ended::Closed(1005, String::new()), |f| {
                            Ended::Closed(u16::from(f.code), f.reason.as_str().to_owned())
                        });
                    }
                    Ok(Some(Ok(Message::Text(text)))) => text,
                    Ok(Some(Ok(_))) => continue,
                };
                if let Some(end) = on_frame(ctx, version, socket, &mut phase, &text).await {
                    return end;
                }
                if phase == Phase::Live && up_since.is_none() {
                    *up_since = Some(Instant::now());
                }
            }
            Ok(()) = changes.changed(), if phase == Phase::Live => pending_update = true,
            () = tokio::time::sleep_until(update_at), if pending_update => {
                pending_update = false;
                next_update = Instant::now() + UPDATE_INTERVAL;
                if let Err(end) = send(socket, ctx.own_frame(MsgType::Update).await).await {
                    return end;
                }
            }
            _ = beat.tick(), if version == Version::V1 => {
                if let Err(end) = send(socket, ctx.own_frame(MsgType::Update).await).await {
                    return end;
                }
            }
        }
    }
}

/// Handles one received text frame; `Some` ends the session.
async fn on_frame(
    ctx: &Arc<Ctx>,
    version: Version,
    socket: &mut Socket,
    phase: &mut Phase,
    text: &str,
) -> Option<Ended> {
    let now = ctx.node.clock.now_ms();
    let frame = match inbound::parse(text, &ctx.node.peer_id, now) {
        Ok(frame) => frame,
        Err(why) => {
            tracing::debug!(hub = %ctx.url, %why, "dropped a hub frame");
            return None;
        }
    };
    match (frame, *phase) {
        (Frame::Challenge { hub_id, nonce, ts }, Phase::Challenge) => {
            let expected = ctx.client.hub_id().map(|id| id.to_string());
            if expected.as_deref() != Some(hub_id.as_str()) {
                tracing::warn!(hub = %ctx.url, challenge = %hub_id, "WS challenge names another hub");
                close(socket, CloseCode::Normal, "").await;
                return Some(Ended::WrongHub);
            }
            if let Some(ts) = ts {
                ctx.client.observe_hub_time(ts, 2_000);
            }
            let input = format!("goop-ws-v1\n{hub_id}\n{nonce}\n{}", ctx.node.peer_id);
            let sig = shared::signing::sign_b64u(&ctx.node.key, input.as_bytes());
            let auth = serde_json::json!({
                "type": "auth", "peerId": ctx.node.peer_id.to_base58(), "nonce": nonce, "sig": sig
            });
            *phase = Phase::AuthOk;
            send(socket, auth.to_string()).await.err()
        }
        (Frame::AuthOk { state, tier, .. }, Phase::AuthOk) => {
            ctx.auth_ok(state, tier);
            ctx.node.peers.begin_snapshot(&ctx.source, now);
            *phase = Phase::Snapshot;
            send(socket, ctx.own_frame(MsgType::Online).await)
                .await
                .err()
        }
        (Frame::SnapshotEnd, Phase::Snapshot) => {
            ctx.node.peers.end_snapshot(&ctx.source, now);
            ctx.stream_up(true);
            *phase = Phase::Live;
            None
        }
        (Frame::Challenge { .. } | Frame::AuthOk { .. } | Frame::SnapshotEnd, _) => {
            tracing::debug!(hub = %ctx.url, "dropped a control frame out of place");
            None
        }
        (_, Phase::Challenge | Phase::AuthOk) if version == Version::V2 => {
            tracing::debug!(hub = %ctx.url, "dropped a frame before auth-ok");
            None
        }
        (frame, _) => {
            ctx.apply(frame, now);
            None
        }
    }
}

async fn send(socket: &mut Socket, text: String) -> Result<(), Ended> {
    if text.len() > MAX_FRAME_OUT {
        tracing::error!(len = text.len(), "own presence frame too large, not sent");
        return Ok(());
    }
    match tokio::time::timeout(WRITE_TIMEOUT, socket.send(Message::text(text))).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(Ended::Broken(error.to_string())),
        Err(_) => Err(Ended::Broken("write timeout".to_owned())),
    }
}

async fn close(socket: &mut Socket, code: CloseCode, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: reason.to_owned().into(),
    };
    let _ = tokio::time::timeout(WRITE_TIMEOUT, socket.close(Some(frame))).await;
}

//! The presence channel of one hub (peer.md §3.3): discover the hub (kind, info, membership,
//! relay), run WS v2 (signed) or v1 (legacy) sessions, fall back to SSE, react to the close codes
//! of §3.3, back off, publish over HTTP while no WS is up, and say goodbye on shutdown.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use shared::presence::MsgType;

use super::client::HubCallError;
use super::context::{Backoff, Ctx};
use super::sse::SseEnd;
use super::ws::{self, Ended, Version};
use super::{Admission, HubKind, discovery, publish, sse};

/// Relay info is re-read this often while the channel runs.
pub(crate) const RELAY_REFRESH: Duration = Duration::from_secs(600);
/// Retry period of a hub failing for a reason backoff cannot fix (3 × 4001, 3 × 4009).
pub(crate) const FAILING_RETRY: Duration = Duration::from_secs(300);
/// A session up this long resets the backoff.
pub(crate) const STABLE: Duration = Duration::from_secs(60);
/// `425` retries of a legacy WS upgrade, 250 ms apart.
const TOO_EARLY_RETRIES: u32 = 20;

/// What to do after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Next {
    /// Reconnect at once.
    Now,
    /// Reconnect after the reconnect backoff; `Some` = the hub is failing with this code.
    Backoff(Option<String>),
    /// Reconnect after exactly this.
    Wait(Duration),
    /// Presence refused: wait for a membership re-read that grants it.
    Refused,
    /// Stop (shutdown or leave).
    Stop,
}

#[derive(Debug)]
struct Counters {
    backoff: Backoff,
    replaced: Backoff,
    auth_failures: u32,
    bad_frames: VecDeque<Instant>,
}

/// Runs the channel until `ctx.token` is cancelled, then sends `offline` where presence was
/// published over HTTP.
pub(crate) async fn run(ctx: Arc<Ctx>) {
    let mut counters = Counters {
        backoff: Backoff::reconnect(),
        replaced: Backoff::new(Duration::from_secs(60), Duration::from_secs(1800)),
        auth_failures: 0,
        bad_frames: VecDeque::new(),
    };
    ctx.tracker.spawn(refresh_relay(ctx.clone()));
    loop {
        let next = attempt(&ctx, &mut counters).await;
        let wait = match next {
            Next::Stop => break,
            Next::Now => {
                ctx.set(|v| v.state = "connecting".to_owned());
                Duration::ZERO
            }
            Next::Wait(wait) => wait,
            Next::Backoff(failing) => {
                if let Some(code) = failing {
                    fail(&ctx, &code);
                } else {
                    ctx.set(|v| v.state = "connecting".to_owned());
                }
                counters.backoff.next_delay()
            }
            Next::Refused => {
                if !wait_for_presence(&ctx).await {
                    break;
                }
                Duration::ZERO
            }
        };
        if !pause(&ctx, wait).await {
            break;
        }
    }
    if *ctx.http_presence.lock().unwrap_or_else(|e| e.into_inner()) {
        let _ = publish::publish(&ctx, MsgType::Offline).await;
    }
    tracing::info!(hub = %ctx.url, "hub presence stopped");
}

fn fail(ctx: &Ctx, code: &str) {
    let changed = ctx
        .node
        .hubs
        .get(&ctx.url)
        .is_some_and(|v| v.state != "failing" || v.last_error.as_deref() != Some(code));
    ctx.set(|v| {
        v.state = "failing".to_owned();
        v.last_error = Some(code.to_owned());
    });
    if changed {
        tracing::warn!(hub = %ctx.url, error = code, "hub failing");
    }
}

/// One discovery + session. Resets the backoff after a stable session.
async fn attempt(ctx: &Arc<Ctx>, counters: &mut Counters) -> Next {
    if ctx.token.is_cancelled() {
        return Next::Stop;
    }
    let discovered = tokio::select! {
        () = ctx.token.cancelled() => return Next::Stop,
        discovered = discover(ctx) => discovered,
    };
    let kind = match discovered {
        Ok(kind) => kind,
        // 429 is "not now", not a failure (peer.md §3.2 rule 3).
        Err(HubCallError::RateLimited(wait)) => return Next::Wait(wait),
        Err(error) => return Next::Backoff(Some(error.code())),
    };
    let session = match kind {
        HubKind::Signed => ws::run(ctx, Version::V2).await,
        HubKind::Legacy => legacy_session(ctx).await,
    };
    if session.up_since.is_some() {
        *ctx.http_presence.lock().unwrap_or_else(|e| e.into_inner()) = false;
    }
    if session.up_since.is_some_and(|t| t.elapsed() >= STABLE) {
        counters.backoff.reset();
        counters.auth_failures = 0;
    }
    match (kind, session.ended) {
        (_, Ended::Shutdown) => Next::Stop,
        (_, Ended::Status(status, _)) if fallback_status(kind, status) => {
            match sse::run(ctx).await {
                SseEnd::ProbeOk => Next::Now,
                SseEnd::Refused(code) => on_close(ctx, counters, 4003, &code),
                SseEnd::RateLimited(wait) => Next::Wait(wait),
                SseEnd::Broken(code) => Next::Backoff(Some(code)),
                SseEnd::Shutdown => Next::Stop,
            }
        }
        (_, Ended::Status(429, retry)) => Next::Wait(retry.unwrap_or(Duration::from_secs(1))),
        (_, Ended::Status(status, _)) => Next::Backoff(Some(format!("ws_http_{status}"))),
        (_, Ended::Unreachable(_)) => Next::Backoff(Some("unreachable".to_owned())),
        (_, Ended::WrongHub) => Next::Backoff(Some("wrong_hub".to_owned())),
        (HubKind::Legacy, Ended::Closed(..) | Ended::Broken(_)) => Next::Backoff(None),
        (HubKind::Signed, Ended::Closed(code, reason)) => on_close(ctx, counters, code, &reason),
        (HubKind::Signed, Ended::Broken(why)) => {
            tracing::info!(hub = %ctx.url, why, "hub session broken");
            Next::Backoff(None)
        }
    }
}

/// An upgrade answer that sends us to the SSE fallback.
fn fallback_status(kind: HubKind, status: u16) -> bool {
    matches!(status, 404 | 501 | 200..=299) || (kind == HubKind::Legacy && status == 403)
}

fn on_close(ctx: &Ctx, counters: &mut Counters, code: u16, reason: &str) -> Next {
    match code {
        4000 => {
            tracing::warn!(hub = %ctx.url, "another session with our identity replaced ours");
            ctx.set(|v| {
                v.state = "replaced".to_owned();
                v.last_error = Some("replaced".to_owned());
            });
            Next::Wait(counters.replaced.next_delay())
        }
        4001 => {
            counters.auth_failures += 1;
            if counters.auth_failures >= 3 {
                fail(ctx, "auth_failed");
                Next::Wait(FAILING_RETRY)
            } else {
                Next::Backoff(None)
            }
        }
        4003 => {
            let state = super::context::refusal_state(reason);
            tracing::warn!(hub = %ctx.url, reason, "hub refused our presence");
            ctx.set(|v| {
                v.state = "refused".to_owned();
                v.last_error = Some(reason.to_owned());
                v.presence_allowed = false;
                v.membership = Some(state.to_owned());
            });
            Next::Refused
        }
        4008 => {
            tracing::info!(hub = %ctx.url, "slow consumer: reconnecting at once");
            Next::Now
        }
        4009 => {
            tracing::error!(hub = %ctx.url, "the hub dropped our frames as bad (a peer bug)");
            let now = Instant::now();
            counters.bad_frames.push_back(now);
            counters
                .bad_frames
                .retain(|t| now.duration_since(*t) < Duration::from_secs(600));
            if counters.bad_frames.len() >= 3 {
                fail(ctx, "bad_frames");
                Next::Wait(FAILING_RETRY)
            } else {
                Next::Backoff(None)
            }
        }
        _ => Next::Backoff(None),
    }
}

/// Capabilities, then (signed) info and membership, then the relay: fills the hub's view.
async fn discover(ctx: &Arc<Ctx>) -> Result<HubKind, HubCallError> {
    let kind = discovery::read_kind(&ctx.client).await?;
    ctx.set(|v| v.kind = Some(kind));
    match kind {
        HubKind::Legacy => {
            ctx.client.set_hub_id(None);
            ctx.set(|v| {
                v.hub_id = None;
                v.membership = Some("legacy".to_owned());
                v.tier = None;
                v.presence_allowed = true;
                v.relay_allowed = true;
                v.relay_entitled = true;
                v.circuit_sources = Admission::Any;
            });
        }
        HubKind::Signed => {
            let info = discovery::read_info(&ctx.client).await?;
            let stored = ctx.node.store.membership(&ctx.url).await.ok().flatten();
            if let Some(row) =
                stored.filter(|r| !r.hub_id.is_empty() && r.hub_id != info.id.to_string())
            {
                tracing::warn!(hub = %ctx.url, was = row.hub_id, now = %info.id, "the hub id changed");
            }
            ctx.client.set_hub_id(Some(info.id));
            *ctx.reservations.lock().unwrap_or_else(|e| e.into_inner()) = info.reservations;
            ctx.set(|v| {
                v.hub_id = Some(info.id.peer_id());
                v.circuit_sources = info.circuit_sources;
                if info.reservations == Admission::Any {
                    v.relay_allowed = true;
                }
                if v.membership.as_deref() == Some("legacy") {
                    v.membership = None;
                }
            });
            ctx.refresh_membership().await;
        }
    }
    read_relay(ctx).await;
    Ok(kind)
}

async fn read_relay(ctx: &Ctx) {
    let expected = ctx.client.hub_id().map(|id| id.peer_id());
    match discovery::read_relay(&ctx.client, expected.as_ref()).await {
        Ok(relay) => ctx.set(|v| {
            v.relay = relay;
            if v.relay_state == "error" {
                v.relay_state = "none".to_owned();
            }
        }),
        Err(HubCallError::Malformed(why)) => {
            tracing::warn!(hub = %ctx.url, why, "unusable relay info");
            ctx.set(|v| {
                v.relay = None;
                v.relay_state = "error".to_owned();
            });
        }
        Err(error) => tracing::debug!(hub = %ctx.url, %error, "relay info not read"),
    }
}

async fn refresh_relay(ctx: Arc<Ctx>) {
    let mut tick = tokio::time::interval(RELAY_REFRESH);
    tick.tick().await;
    loop {
        tokio::select! {
            () = ctx.token.cancelled() => return,
            _ = tick.tick() => read_relay(&ctx).await,
        }
    }
}

/// Legacy start: unsigned `online` publish, then WS v1 (425 → retry after 250 ms, 20 times).
async fn legacy_session(ctx: &Arc<Ctx>) -> ws::Session {
    match publish::publish(ctx, MsgType::Online).await {
        Ok(()) => *ctx.http_presence.lock().unwrap_or_else(|e| e.into_inner()) = true,
        Err(error) => tracing::debug!(hub = %ctx.url, %error, "legacy publish failed"),
    }
    let mut tries = 0;
    loop {
        let session = ws::run(ctx, Version::V1).await;
        if !matches!(session.ended, Ended::Status(425, _)) || tries >= TOO_EARLY_RETRIES {
            return session;
        }
        tries += 1;
        if !pause(ctx, Duration::from_millis(250)).await {
            return ws::Session {
                ended: Ended::Shutdown,
                up_since: None,
            };
        }
    }
}

/// Waits (membership re-read every `hubs.membership_reread_secs`, and whenever a join asks for
/// it) until the hub grants presence again.
async fn wait_for_presence(ctx: &Ctx) -> bool {
    let period = Duration::from_secs(ctx.node.config.hubs.membership_reread_secs.max(1));
    let mut nudges = ctx.node.hubs.reread_requests();
    nudges.mark_unchanged();
    loop {
        let granted = tokio::select! {
            () = ctx.token.cancelled() => return false,
            granted = ctx.refresh_membership() => granted,
        };
        if granted == Some(true) {
            tracing::info!(hub = %ctx.url, "presence granted again");
            return true;
        }
        tokio::select! {
            () = ctx.token.cancelled() => return false,
            () = tokio::time::sleep(period) => {}
            _ = nudges.changed() => {}
        }
    }
}

/// Sleeps `wait` (false when cancelled). A wait longer than the heartbeat keeps our presence
/// up over HTTP (peer.md §3.3 "No WS up") unless the hub refused or replaced us.
async fn pause(ctx: &Ctx, wait: Duration) -> bool {
    let heartbeat = Duration::from_secs(ctx.node.config.presence.heartbeat_secs.max(1));
    let end = tokio::time::Instant::now() + wait;
    let mut kind = MsgType::Online;
    loop {
        let step = end.min(tokio::time::Instant::now() + heartbeat);
        tokio::select! {
            () = ctx.token.cancelled() => return false,
            () = tokio::time::sleep_until(step) => {}
        }
        if step >= end {
            return true;
        }
        let view = ctx.node.hubs.get(&ctx.url);
        let allowed = view.is_some_and(|v| {
            v.kind.is_some() && v.presence_allowed && v.state != "refused" && v.state != "replaced"
        });
        if !allowed {
            continue;
        }
        match publish::publish(ctx, kind).await {
            Ok(()) => {
                *ctx.http_presence.lock().unwrap_or_else(|e| e.into_inner()) = true;
                kind = MsgType::Update;
            }
            Err(HubCallError::Refused(code)) => {
                tracing::warn!(hub = %ctx.url, code, "hub refused our published presence");
                ctx.set(|v| {
                    v.presence_allowed = false;
                    v.last_error = Some(code);
                });
            }
            Err(error) => tracing::debug!(hub = %ctx.url, %error, "publish failed"),
        }
    }
}

//! The SSE fallback (peer.md §3.3): `GET /events?v=2` with PeerSig at signed hubs, unsigned
//! `GET /events` at legacy hubs, when the hub does not upgrade `/ws`. `data:` lines are presence
//! frames, `event: snapshot-end` ends a v2 snapshot, comments and `retry:` are ignored; 60 s read
//! deadline. Presence goes out by `POST /publish` meanwhile, and `GET /ws?probe=1` (after 3 s,
//! then every 10 s) sends us back to WS when it upgrades.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use reqwest::Method;
use shared::presence::MsgType;

use super::HubKind;
use super::client::HubCallError;
use super::context::Ctx;
use super::inbound::{self, Frame};
use super::publish;

/// No bytes for this long end the stream.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// First WS probe after this.
pub const FIRST_PROBE: Duration = Duration::from_secs(3);
/// Later probes every this.
pub const PROBE_EVERY: Duration = Duration::from_secs(10);
/// Longest SSE line kept.
const MAX_LINE: usize = 64 * 1024;

/// How the fallback ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseEnd {
    /// `/ws?probe=1` upgraded: go back to WS now.
    ProbeOk,
    /// Membership refusal (403 with a membership code).
    Refused(String),
    /// 429: wait this long.
    RateLimited(Duration),
    /// The stream failed; `last_error` code.
    Broken(String),
    /// Cancelled.
    Shutdown,
}

/// Runs the fallback until it ends.
pub(crate) async fn run(ctx: &Arc<Ctx>) -> SseEnd {
    let signed = ctx.kind() == Some(HubKind::Signed);
    let target = if signed { "/events?v=2" } else { "/events" };
    let mut request = ctx
        .client
        .http()
        .request(Method::GET, ctx.url.join(target))
        .header("accept", "text/event-stream");
    if signed {
        match ctx.client.sign(&Method::GET, target, b"") {
            Ok(headers) => {
                for (name, value) in headers.into_pairs() {
                    request = request.header(name, value);
                }
            }
            Err(error) => return SseEnd::Broken(error.code()),
        }
    }
    let response = tokio::select! {
        () = ctx.token.cancelled() => return SseEnd::Shutdown,
        r = tokio::time::timeout(super::client::HTTP_TIMEOUT, request.send()) => r,
    };
    let response = match response {
        Ok(Ok(response)) => response,
        Ok(Err(_)) | Err(_) => return SseEnd::Broken("unreachable".to_owned()),
    };
    if !response.status().is_success() {
        let status = response.status().as_u16();
        let retry = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let body = shared::http_client::read_limited(response, 4096)
            .await
            .unwrap_or_default();
        let code = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
            .unwrap_or_default();
        return match status {
            403 if super::client::MEMBERSHIP_CODES.contains(&code.as_str()) => {
                SseEnd::Refused(code)
            }
            429 => SseEnd::RateLimited(Duration::from_secs(retry.unwrap_or(1).min(600))),
            _ => SseEnd::Broken(format!("sse_http_{status}")),
        };
    }
    let now = ctx.node.clock.now_ms();
    if signed {
        ctx.node.peers.begin_snapshot(&ctx.source, now);
    }
    ctx.stream_up(false);
    let end = pump(ctx, response).await;
    ctx.node
        .peers
        .stream_ended(&ctx.source, ctx.node.clock.now_ms());
    end
}

async fn pump(ctx: &Arc<Ctx>, response: reqwest::Response) -> SseEnd {
    let mut body = response.bytes_stream();
    let mut parser = Parser::default();
    let heartbeat = Duration::from_secs(ctx.node.config.presence.heartbeat_secs.max(1));
    let mut beat = tokio::time::interval(heartbeat);
    let mut probe =
        tokio::time::interval_at(tokio::time::Instant::now() + FIRST_PROBE, PROBE_EVERY);
    let mut kind = MsgType::Online;
    loop {
        tokio::select! {
            () = ctx.token.cancelled() => return SseEnd::Shutdown,
            chunk = tokio::time::timeout(READ_TIMEOUT, body.next()) => {
                let chunk = match chunk {
                    Ok(Some(Ok(chunk))) => chunk,
                    Err(_) => return SseEnd::Broken("sse_read_timeout".to_owned()),
                    Ok(_) => return SseEnd::Broken("sse_closed".to_owned()),
                };
                for event in parser.feed(&chunk) {
                    let Some(event) = event else {
                        return SseEnd::Broken("sse_line_too_long".to_owned());
                    };
                    on_event(ctx, event);
                }
            }
            _ = beat.tick() => {
                match publish::publish(ctx, kind).await {
                    Ok(()) => {
                        *ctx.http_presence.lock().unwrap_or_else(|e| e.into_inner()) = true;
                        kind = MsgType::Update;
                    }
                    Err(HubCallError::Refused(code)) => return SseEnd::Refused(code),
                    Err(error) => tracing::debug!(hub = %ctx.url, %error, "publish failed"),
                }
            }
            _ = probe.tick() => {
                if probe_ws(ctx).await {
                    return SseEnd::ProbeOk;
                }
            }
        }
    }
}

fn on_event(ctx: &Ctx, event: Event) {
    let now = ctx.node.clock.now_ms();
    if event.name == "snapshot-end" {
        ctx.node.peers.end_snapshot(&ctx.source, now);
        return;
    }
    match inbound::parse(&event.data, &ctx.node.peer_id, now) {
        Ok(Frame::Challenge { .. } | Frame::AuthOk { .. } | Frame::SnapshotEnd) => {}
        Ok(frame) => ctx.apply(frame, now),
        Err(why) => tracing::debug!(hub = %ctx.url, %why, "dropped an SSE frame"),
    }
}

/// `GET /ws?probe=1`: true when it upgrades.
async fn probe_ws(ctx: &Ctx) -> bool {
    let connect = tokio_tungstenite::connect_async(ctx.url.ws("/ws?probe=1"));
    match tokio::time::timeout(super::ws::HANDSHAKE_TIMEOUT, connect).await {
        Ok(Ok((mut socket, _))) => {
            let _ = tokio::time::timeout(super::ws::WRITE_TIMEOUT, socket.close(None)).await;
            true
        }
        _ => false,
    }
}

/// One SSE event: its `event:` name (empty for the default) and its `data:` lines joined.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    /// `event:`.
    pub name: String,
    /// `data:` lines joined by `\n`.
    pub data: String,
}

/// An incremental SSE parser with bounded lines.
#[derive(Debug, Default)]
pub struct Parser {
    line: Vec<u8>,
    event: Event,
}

impl Parser {
    /// Feeds bytes; yields complete events, or `None` once a line exceeded the limit.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Option<Event>> {
        let mut out = Vec::new();
        for &b in bytes {
            if b != b'\n' {
                if self.line.len() >= MAX_LINE {
                    out.push(None);
                    return out;
                }
                self.line.push(b);
                continue;
            }
            let line = std::mem::take(&mut self.line);
            let line =
                String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(&line)).into_owned();
            if line.is_empty() {
                let event = std::mem::take(&mut self.event);
                if !event.data.is_empty() || !event.name.is_empty() {
                    out.push(Some(event));
                }
            } else if let Some(data) = line.strip_prefix("data:") {
                if self.event.data.len() + data.len() > MAX_LINE {
                    out.push(None);
                    return out;
                }
                if !self.event.data.is_empty() {
                    self.event.data.push('\n');
                }
                self.event
                    .data
                    .push_str(data.strip_prefix(' ').unwrap_or(data));
            } else if let Some(name) = line.strip_prefix("event:") {
                self.event.name = name.trim().to_owned();
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parser_splits_events_and_ignores_comments_and_retry() {
        let mut parser = Parser::default();
        let mut events = parser.feed(b": ping\nretry: 5\ndata: {\"a\":1}\n\nevent: snapshot-e");
        events.extend(parser.feed(b"nd\r\ndata: {}\r\n\r\n"));
        assert_eq!(
            events,
            vec![
                Some(Event {
                    name: String::new(),
                    data: "{\"a\":1}".to_owned()
                }),
                Some(Event {
                    name: "snapshot-end".to_owned(),
                    data: "{}".to_owned()
                }),
            ]
        );
    }

    #[test]
    fn parser_stops_at_an_oversized_line() {
        let mut parser = Parser::default();
        let events = parser.feed(&vec![b'x'; MAX_LINE + 1]);
        assert_eq!(events, vec![None]);
    }

    proptest! {
        #[test]
        fn hostile_streams_never_panic(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..8)) {
            let mut parser = Parser::default();
            for chunk in chunks {
                let _ = parser.feed(&chunk);
            }
        }
    }
}

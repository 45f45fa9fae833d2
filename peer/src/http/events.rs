//! `GET /api/events` (peer.md §11.4): the event bus as SSE. Frames are
//! `id: <n>\nevent: <type>\ndata: <json>\n\n`; `Last-Event-ID` replays the kept events after it;
//! a keep-alive comment every 15 s; a client that falls [`crate::event::SUBSCRIBER_BUFFER`]
//! events behind gets `event: overflow` and is disconnected.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::response::sse::Event as SseEvent;
use axum::routing::get;
use axum::{Extension, Router};
use futures::{Stream, StreamExt as _, stream};
use tokio::sync::broadcast;

use super::{ApiError, ApiResult, Streams};
use crate::event::Numbered;
use crate::node::Node;

/// Interval of the keep-alive comment.
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The route.
pub(crate) fn routes() -> Router<Arc<Node>> {
    Router::new().route("/api/events", get(events))
}

async fn events(
    State(node): State<Arc<Node>>,
    Extension(streams): Extension<Streams>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let last_id = match headers.get("last-event-id") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request("invalid_field", "Last-Event-ID must be an event id")
                })?,
        ),
    };
    let slot = streams.open()?;
    let (replay, rx) = match last_id {
        Some(id) => node.events.subscribe_after(id),
        None => (Vec::new(), node.events.subscribe()),
    };
    Ok(slot.sse(sse_frames(replay, rx, frame)))
}

/// The SSE frames `frame` makes of `replay` then of `rx` (an event it makes none of is skipped);
/// after a lag, one `overflow` frame, then the end.
pub(crate) fn sse_frames(
    replay: Vec<Arc<Numbered>>,
    rx: broadcast::Receiver<Arc<Numbered>>,
    frame: fn(&Numbered) -> Option<SseEvent>,
) -> impl Stream<Item = SseEvent> + Send {
    let live = stream::unfold(Some(rx), move |rx| async move {
        let mut rx = rx?;
        loop {
            match rx.recv().await {
                Ok(event) => {
                    if let Some(frame) = frame(&event) {
                        return Some((frame, Some(rx)));
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::info!(missed, "event stream client fell behind; disconnecting it");
                    return Some((SseEvent::default().event("overflow").data("{}"), None));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    stream::iter(replay)
        .filter_map(move |event| std::future::ready(frame(&event)))
        .chain(live)
}

/// Every event, with its id (`id: <n>`, `event: <type>`, `data: <json>`).
fn frame(event: &Numbered) -> Option<SseEvent> {
    let data = serde_json::to_string(&event.event).unwrap_or_else(|_| "{}".to_owned());
    Some(
        SseEvent::default()
            .id(event.id.to_string())
            .event(event.event.kind())
            .data(data),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, Events, SUBSCRIBER_BUFFER, StateChange};

    fn hub_state(n: usize) -> Event {
        Event::HubState(StateChange {
            url: format!("http://h{n}.example"),
            state: "online".to_owned(),
            detail: None,
        })
    }

    #[tokio::test]
    async fn stream_sends_overflow_and_ends_when_the_client_falls_behind() {
        let events = Events::default();
        let (replay, rx) = events.subscribe_after(0);
        for n in 0..SUBSCRIBER_BUFFER + 10 {
            events.emit(hub_state(n));
        }

        let frames: Vec<SseEvent> = sse_frames(replay, rx, frame).collect().await;

        let last = format!("{:?}", frames.last().unwrap());
        assert!(last.contains("overflow"), "{last}");
        assert_eq!(
            frames.len(),
            1,
            "the lagged receiver yields only the overflow"
        );
    }

    #[tokio::test]
    async fn stream_replays_kept_events_then_follows_live_ones() {
        let events = Events::default();
        events.emit(hub_state(1));
        events.emit(hub_state(2));
        let (replay, rx) = events.subscribe_after(1);
        let mut frames = Box::pin(sse_frames(replay, rx, frame));
        events.emit(hub_state(3));

        let first = format!("{:?}", frames.next().await.unwrap());
        let second = format!("{:?}", frames.next().await.unwrap());
        assert!(first.contains("h2.example"), "{first}");
        assert!(second.contains("h3.example"), "{second}");
    }
}

//! MQ routes of the local API (peer.md §11.3): send, receipt, and the goop2-SDK event stream
//! `GET /api/mq/events` (`event: connected`, then `event: message` frames carrying
//! `{"type":"message","msg","from"}` or `{"type":"delivered","msg_id"}`).

use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::response::Response;
use axum::response::sse::Event as SseEvent;
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt as _;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::{ApiError, ApiJson, ApiResult, Streams, parse_peer_id};
use crate::chat::{self, ChatError};
use crate::event::Event;
use crate::mq::{self, MsgId, SendError};
use crate::node::Node;

/// Deadline of a receipt sent through `POST /api/mq/ack`.
const ACK_TIMEOUT: Duration = Duration::from_secs(3);

/// The MQ routes.
pub(crate) fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/api/mq/send", post(send))
        .route("/api/mq/ack", post(ack))
        .route("/api/mq/events", get(events))
}

impl From<SendError> for ApiError {
    fn from(error: SendError) -> Self {
        let message = error.to_string();
        match error {
            SendError::InvalidTopic => Self::bad_request("invalid_topic", message),
            SendError::TooLarge => Self::PayloadTooLarge,
            SendError::Unreachable(_) => Self::BadGateway {
                code: "unreachable",
                message,
            },
            SendError::Failed(_) => Self::BadGateway {
                code: "delivery_failed",
                message,
            },
            SendError::Timeout => Self::GatewayTimeout {
                code: "timeout",
                message,
            },
            SendError::Stopped => Self::Unavailable {
                code: "shutting_down",
                message,
            },
        }
    }
}

impl From<ChatError> for ApiError {
    fn from(error: ChatError) -> Self {
        match error {
            ChatError::InvalidContent => Self::bad_request("invalid_content", error.to_string()),
            ChatError::Send(error) => error.into(),
            ChatError::Store(error) => Self::internal(error),
        }
    }
}

#[derive(Deserialize)]
struct SendBody {
    peer_id: String,
    topic: String,
    #[serde(default)]
    payload: Value,
    /// The goop2 SDK sends its own id; a valid one is used so its retries are deduplicated.
    #[serde(default)]
    msg_id: Option<String>,
}

async fn send(
    State(node): State<Arc<Node>>,
    ApiJson(body): ApiJson<SendBody>,
) -> ApiResult<Json<Value>> {
    let peer = parse_peer_id(&body.peer_id)?;
    if !mq::wire::valid_topic(&body.topic) {
        return Err(ApiError::bad_request("invalid_topic", "invalid topic"));
    }
    if mq::is_reserved(&body.topic) {
        return Err(ApiError::bad_request(
            "reserved_topic",
            "this topic is sent by the peer itself",
        ));
    }
    let id = body
        .msg_id
        .as_deref()
        .and_then(MsgId::parse)
        .unwrap_or_default();
    if body.topic == chat::TOPIC {
        let content = body.payload.get("content").and_then(Value::as_str);
        let content = content.ok_or_else(|| {
            ApiError::bad_request("invalid_content", "payload.content must be a string")
        })?;
        chat::send_with_id(&node, peer, id.clone(), content).await?;
    } else {
        mq::send_with_id(&node, peer, id.clone(), &body.topic, body.payload).await?;
    }
    Ok(Json(json!({ "msg_id": id, "status": "delivered" })))
}

#[derive(Deserialize)]
struct AckBody {
    msg_id: String,
    #[serde(default)]
    from_peer_id: String,
}

/// Sends the `mq.ack` receipt `{"msg_id"}` to the sender (goop2 SDK: an empty `from_peer_id`
/// marks a local message and sends nothing).
async fn ack(
    State(node): State<Arc<Node>>,
    ApiJson(body): ApiJson<AckBody>,
) -> ApiResult<Json<Value>> {
    if body.msg_id.is_empty() || body.msg_id.len() > 128 {
        return Err(ApiError::bad_request(
            "invalid_msg_id",
            "msg_id must be 1-128 bytes",
        ));
    }
    if !body.from_peer_id.is_empty() {
        let peer = parse_peer_id(&body.from_peer_id)?;
        let receipt = mq::send(&node, peer, "mq.ack", json!({ "msg_id": body.msg_id }));
        tokio::time::timeout(ACK_TIMEOUT, receipt)
            .await
            .unwrap_or(Err(SendError::Timeout))?;
    }
    Ok(Json(json!({ "status": "ok" })))
}

/// The goop2-SDK stream: inbox messages and delivery receipts. Opening it counts as an inbox
/// listener, so messages queued while nobody listened arrive first.
async fn events(
    State(node): State<Arc<Node>>,
    Extension(streams): Extension<Streams>,
) -> ApiResult<Response> {
    let slot = streams.open()?;
    let rx = node.events.subscribe();
    let listening = node.mq.inbox().listen(&node.events);
    let connected = SseEvent::default()
        .event("connected")
        .data(r#"{"status":"ok"}"#);
    let live = futures::stream::unfold((rx, listening), |(mut rx, listening)| async move {
        loop {
            match rx.recv().await {
                Ok(numbered) => {
                    if let Some(frame) = sdk_frame(&numbered.event) {
                        return Some((frame, (rx, listening)));
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "mq events: slow client missed events");
                }
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Ok(slot.sse(futures::stream::iter([connected]).chain(live)))
}

/// The goop2 SDK frame of an event, for the two kinds it knows.
fn sdk_frame(event: &Event) -> Option<SseEvent> {
    let data = match event {
        Event::MqMessage(m) => json!({ "type": "message", "msg": m.msg, "from": m.from }),
        Event::MqDelivered(d) => json!({ "type": "delivered", "msg_id": d.msg_id }),
        _ => return None,
    };
    Some(SseEvent::default().event("message").data(data.to_string()))
}

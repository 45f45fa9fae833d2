//! The goop2-compatible presence routes: `POST /publish` (hub.md §5.3) and `GET /events`
//! (SSE, §5.5). The WebSocket lives in `ws.rs`.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, OriginalUri, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::StreamExt as _;
use serde::Deserialize;
use shared::ids::Ed25519PeerId;

use shared::error_code::ErrorCode;

use super::body::body_bytes;
use super::extract::{ClientIp, subscriber_class};
use super::{ApiError, ApiResult};
use crate::presence::{
    Class, PresenceMsg, PublishError, SubscribeError, SubscribeRequest, Subscription, Transport,
};
use crate::state::AppState;
use crate::utc::now_ms;

/// `POST /publish` bodies and WebSocket frames (hub.md §13.1).
pub(crate) const PRESENCE_BODY_LIMIT: usize = 64 * 1024;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/publish",
            post(publish).layer(DefaultBodyLimit::max(PRESENCE_BODY_LIMIT)),
        )
        .route("/events", get(events))
        .route("/api/encryption/keys/{peer_id}", get(get_encryption_key))
}

/// `POST /publish`: one PresenceMsg, PeerSig-signed (or unsigned where allowed). 204 on success.
async fn publish(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<StatusCode> {
    let body = body_bytes(body)?;
    let now = Instant::now();
    state.limits.publish_ip.check(ip, now)?;
    let target = uri.path_and_query().map_or("/publish", |p| p.as_str());
    let proof = state
        .peer_sig
        .verify_proof(&headers, "POST", target, &body, now_ms())?;
    let signer = proof.as_ref().map(|(peer, _, _)| *peer);
    let msg = PresenceMsg::parse(&body, now_ms(), None)?;
    let signed = authorize_publisher(&state, signer.as_ref(), &msg.peer_id)?;
    if let Some((peer, ts, sig)) = &proof {
        let admit = || state.limits.email_ip.check(ip, now).is_ok();
        state.membership.autojoin(peer, *ts, sig, admit).await;
    }
    state
        .limits
        .publish_peer
        .check(msg.peer_id.peer_id(), now)?;
    state
        .presence
        .publish(msg, signed, now)
        .map_err(|e| match e {
            PublishError::SignatureRequired => ApiError::Unauthorized(ErrorCode::SignatureRequired),
            PublishError::Full => ApiError::Unavailable("the presence map is full"),
        })?;
    Ok(StatusCode::NO_CONTENT)
}

/// hub.md §5.2 rules 2–3 for one publish; returns whether it is signed.
fn authorize_publisher(
    state: &AppState,
    signer: Option<&Ed25519PeerId>,
    subject: &Ed25519PeerId,
) -> ApiResult<bool> {
    match signer {
        Some(signer) if signer != subject => Err(ApiError::BadRequest {
            code: ErrorCode::PeerIdMismatch,
            field: Some("peerId"),
            message: "peerId differs from X-Goop-Peer-ID".to_owned(),
        }),
        Some(signer) if !state.entitlements.rights(&signer.peer_id()).presence => Err(
            ApiError::Forbidden(state.entitlements.refusal(&signer.peer_id())),
        ),
        Some(_) => Ok(true),
        None if state.config.presence.allow_unsigned => Ok(false),
        None => Err(ApiError::Unauthorized(ErrorCode::SignatureRequired)),
    }
}

/// `GET /api/encryption/keys/{peer_id}` (hub.md §5.9): the key a live peer announced, for callers
/// who would see that peer as participants; 404 otherwise.
async fn get_encryption_key(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    OriginalUri(uri): OriginalUri,
    axum::extract::Path(peer_id): axum::extract::Path<String>,
    headers: HeaderMap,
) -> ApiResult<axum::Json<serde_json::Value>> {
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    let (class, _) = subscriber_class(&state, ip, &headers, "GET", target, None).await?;
    let peer: Ed25519PeerId = peer_id.parse().map_err(|_| ApiError::BadRequest {
        code: ErrorCode::InvalidField,
        field: Some("peer_id"),
        message: "not an Ed25519 PeerId".to_owned(),
    })?;
    match (class, state.presence.public_key(&peer.peer_id())) {
        (Class::Admin | Class::Participant, Some(key)) => {
            Ok(axum::Json(serde_json::json!({ "public_key": key })))
        }
        _ => Err(ApiError::NotFound(ErrorCode::NotFound)),
    }
}

#[derive(Debug, Deserialize)]
struct EventsQuery {
    v: Option<String>,
    voucher: Option<String>,
}

/// `GET /events`: the SSE presence stream (hub.md §5.5).
async fn events(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    OriginalUri(uri): OriginalUri,
    method: Method,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let query = query.ok().map(|q| q.0);
    let v2 = query.as_ref().and_then(|q| q.v.as_deref()) == Some("2");
    let voucher = query.as_ref().and_then(|q| q.voucher.as_deref());
    let target = uri.path_and_query().map_or("/events", |p| p.as_str());
    let (class, identity) =
        subscriber_class(&state, ip, &headers, method.as_str(), target, voucher).await?;
    let request = SubscribeRequest {
        transport: Transport::Sse,
        class,
        legacy: !v2,
        identity,
        session: false,
        ip,
    };
    let subscription = state.presence.subscribe(request).map_err(|e| match e {
        SubscribeError::TooMany => ApiError::TooManyRequests(Duration::from_secs(10)),
        SubscribeError::ShuttingDown => ApiError::Unavailable("the hub is shutting down"),
    })?;
    let keepalive = state.config.presence.sse_keepalive;
    let body = Body::from_stream(
        sse_stream(subscription, v2, keepalive).map(Ok::<_, std::convert::Infallible>),
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        body,
    )
        .into_response())
}

/// `: ok`, (v2: `retry:`), the snapshot, (v2: `snapshot-end`), then events and keep-alives. When
/// the hub drops the subscriber its queue drains (e.g. the `offline`s of a shutdown) and the
/// stream ends; when the client goes away the subscription is dropped.
fn sse_stream(
    sub: Subscription,
    v2: bool,
    keepalive: Duration,
) -> impl futures::Stream<Item = Bytes> {
    let mut head = String::from(": ok\n\n");
    if v2 {
        head.push_str("retry: 3000\n\n");
    }
    let count = sub.snapshot.len();
    for frame in &sub.snapshot {
        head.push_str("data: ");
        head.push_str(frame.as_str());
        head.push_str("\n\n");
    }
    if v2 {
        head.push_str(&format!(
            "event: snapshot-end\ndata: {{\"count\":{count},\"ts\":{}}}\n\n",
            now_ms()
        ));
    }
    let first = futures::stream::once(async move { Bytes::from(head) });
    let rest = futures::stream::unfold((sub, keepalive), |(mut sub, keepalive)| async move {
        let tick = tokio::time::sleep(keepalive);
        tokio::select! {
            frame = sub.rx.recv() => frame.map(|json| {
                (Bytes::from(format!("data: {json}\n\n")), (sub, keepalive))
            }),
            () = tick => Some((Bytes::from_static(b": ping\n\n"), (sub, keepalive))),
        }
    });
    first.chain(rest)
}

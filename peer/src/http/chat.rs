//! Direct chat routes of the local API (peer.md §11.3): send, and the history of one
//! conversation (read, delete).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ApiError, ApiJson, ApiResult, parse_peer_id};
use crate::chat;
use crate::node::Node;
use crate::store::HISTORY_PER_PEER;

/// Lines returned when `limit` is absent.
const DEFAULT_LIMIT: i64 = 50;

/// The chat routes.
pub(crate) fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/api/chat/send", post(send))
        .route("/api/chat/history", get(history).delete(clear))
}

#[derive(Deserialize)]
struct SendBody {
    peer_id: String,
    content: String,
}

async fn send(
    State(node): State<Arc<Node>>,
    ApiJson(body): ApiJson<SendBody>,
) -> ApiResult<Json<Value>> {
    let peer = parse_peer_id(&body.peer_id)?;
    let sent = chat::send(&node, peer, &body.content).await?;
    Ok(Json(json!({ "msg_id": sent.msg_id })))
}

#[derive(Deserialize)]
struct HistoryQuery {
    peer_id: String,
    limit: Option<i64>,
    before: Option<i64>,
}

/// One line of `GET /api/chat/history`.
#[derive(Serialize)]
struct Line {
    id: i64,
    from: String,
    content: String,
    timestamp: i64,
}

async fn history(
    State(node): State<Arc<Node>>,
    query: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Vec<Line>>> {
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let peer = parse_peer_id(&query.peer_id)?;
    let limit = query
        .limit
        .unwrap_or(DEFAULT_LIMIT)
        .clamp(1, HISTORY_PER_PEER);
    let rows = chat::history(&node, peer, limit, query.before).await?;
    Ok(Json(
        rows.into_iter()
            .map(|row| Line {
                id: row.id,
                from: row.from_id,
                content: row.content,
                timestamp: row.ts,
            })
            .collect(),
    ))
}

#[derive(Deserialize)]
struct ClearQuery {
    peer_id: String,
}

async fn clear(
    State(node): State<Arc<Node>>,
    query: Result<Query<ClearQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let peer = parse_peer_id(&query.peer_id)?;
    let deleted = chat::clear(&node, peer).await?;
    Ok(Json(json!({ "ok": true, "deleted": deleted })))
}

//! Chat room routes of the local API (peer.md §11.3, §8.8): create, join, leave, close, send,
//! and the state of every room with its last 100 lines.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ApiJson, ApiResult, parse_peer_id};
use crate::groups::member;
use crate::groups::{GroupError, GroupId, NewGroup, manage, rooms};
use crate::node::Node;

/// The room routes.
pub(crate) fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/api/chat/rooms/create", post(create))
        .route("/api/chat/rooms/join", post(join))
        .route("/api/chat/rooms/leave", post(leave))
        .route("/api/chat/rooms/close", post(close))
        .route("/api/chat/rooms/send", post(send))
        .route("/api/chat/rooms/state", get(state))
}

fn group_id(text: &str) -> ApiResult<GroupId> {
    GroupId::parse(text)
        .ok_or_else(|| ApiError::bad_request("invalid_field", "group_id: ^[A-Za-z0-9_.-]{1,64}$"))
}

#[derive(Deserialize)]
struct CreateBody {
    name: String,
    max_members: Option<u32>,
}

async fn create(
    State(node): State<Arc<Node>>,
    ApiJson(body): ApiJson<CreateBody>,
) -> ApiResult<Json<Value>> {
    let new = NewGroup {
        name: body.name,
        group_type: "chat".to_owned(),
        max_members: body.max_members,
        volatile: Some(true),
        host_joined: Some(true),
        ..NewGroup::default()
    };
    let id = manage::create(&node, new).await?;
    Ok(Json(json!({ "id": id })))
}

#[derive(Deserialize)]
struct JoinBody {
    host_peer_id: String,
    group_id: String,
}

async fn join(
    State(node): State<Arc<Node>>,
    ApiJson(body): ApiJson<JoinBody>,
) -> ApiResult<Json<Value>> {
    let host = parse_peer_id(&body.host_peer_id)?;
    let welcome = member::join(&node, host, &group_id(&body.group_id)?, None).await?;
    Ok(Json(json!(welcome)))
}

#[derive(Deserialize)]
struct GroupBody {
    group_id: String,
}

async fn leave(
    State(node): State<Arc<Node>>,
    ApiJson(body): ApiJson<GroupBody>,
) -> ApiResult<Json<Value>> {
    let group = group_id(&body.group_id)?;
    let host = member::host_of(&node, &group).ok_or(GroupError::UnknownGroup)?;
    member::leave(&node, host, &group).await?;
    Ok(Json(json!({ "ok": true })))
}

async fn close(
    State(node): State<Arc<Node>>,
    ApiJson(body): ApiJson<GroupBody>,
) -> ApiResult<Json<Value>> {
    manage::close(&node, &group_id(&body.group_id)?).await?;
    Ok(Json(json!({ "ok": true })))
}

#[derive(Deserialize)]
struct SendBody {
    group_id: String,
    text: String,
}

async fn send(
    State(node): State<Arc<Node>>,
    ApiJson(body): ApiJson<SendBody>,
) -> ApiResult<Json<Value>> {
    let line = rooms::say(&node, &group_id(&body.group_id)?, &body.text).await?;
    Ok(Json(json!(line)))
}

async fn state(State(node): State<Arc<Node>>) -> Json<Value> {
    Json(json!(rooms::state(&node)))
}

//! Chat room routes of the local API (peer.md §11.3, §8.8): create, send and the state of every
//! room with its last 100 lines; join, leave and close are the group routes'.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::groups::{self, group_id};
use super::{ApiJson, ApiResult};
use crate::groups::{NewGroup, manage, rooms};
use crate::node::Node;

/// The room routes.
pub(crate) fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/api/chat/rooms/create", post(create))
        .route("/api/chat/rooms/join", post(groups::join))
        .route("/api/chat/rooms/leave", post(groups::leave))
        .route("/api/chat/rooms/close", post(groups::close))
        .route("/api/chat/rooms/send", post(send))
        .route("/api/chat/rooms/state", get(state))
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

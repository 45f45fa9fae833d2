//! Group routes of the local API (peer.md §11.3): hosted groups and their management, joining
//! and leaving groups elsewhere, invitations, and `GET /api/groups/events` (SSE of the
//! `group.*` events).

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::response::sse::Event as SseEvent;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::events::sse_frames;
use super::{ApiError, ApiJson, ApiResult, Streams, parse_peer_id};
use crate::event::{Event, Numbered};
use crate::groups::member::{self, JoinError};
use crate::groups::{GroupError, GroupId, NewGroup, manage};
use crate::hub_url::HubUrl;
use crate::node::Node;

/// The group routes.
pub(crate) fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/api/groups", get(list).post(create))
        .route("/api/groups/join", post(join))
        .route("/api/groups/leave", post(leave))
        .route("/api/groups/close", post(close))
        .route("/api/groups/join-own", post(join_own))
        .route("/api/groups/leave-own", post(leave_own))
        .route("/api/groups/invite", post(invite))
        .route("/api/groups/kick", post(kick))
        .route("/api/groups/set-role", post(set_role))
        .route("/api/groups/meta", post(meta))
        .route("/api/groups/send", post(send))
        .route("/api/groups/state", post(state))
        .route("/api/groups/subscriptions", get(subscriptions))
        .route("/api/groups/invites", get(invites))
        .route("/api/groups/invites/accept", post(accept_invite))
        .route("/api/groups/invites/decline", post(decline_invite))
        .route("/api/groups/events", get(events))
}

impl From<GroupError> for ApiError {
    fn from(error: GroupError) -> Self {
        match error {
            GroupError::Invalid { field, message } => {
                Self::bad_request("invalid_field", format!("{field}: {message}"))
            }
            GroupError::UnknownGroup => Self::not_found("unknown_group", "no such group"),
            GroupError::NotMember => Self::not_found("not_member", "not a member of the group"),
            GroupError::Conflict { code, message } => Self::Conflict { code, message },
            GroupError::Store(error) => error.into(),
            GroupError::Send(error) => error.into(),
        }
    }
}

/// The §8.2 refusal codes a host may answer (others become `refused`).
const CODES: [&str; 14] = [
    "full",
    "not_found",
    "voucher_required",
    "voucher_invalid",
    "voucher_wrong_community",
    "voucher_expired",
    "voucher_guest",
    "voucher_unverifiable",
    "not_invited",
    "banned",
    "not_member",
    "too_large",
    "rate_limited",
    "bad_request",
];

impl From<JoinError> for ApiError {
    fn from(error: JoinError) -> Self {
        match error {
            JoinError::Refused { code, message } => Self::Conflict {
                code: CODES.into_iter().find(|c| *c == code).unwrap_or("refused"),
                message,
            },
            JoinError::Timeout => Self::GatewayTimeout {
                code: "timeout",
                message: "the host did not answer within 5 s".to_owned(),
            },
            JoinError::Send(error) => error.into(),
            JoinError::Invalid(message) => Self::bad_request("invalid_field", message),
            JoinError::Store(error) => error.into(),
        }
    }
}

pub(super) fn group_id(text: &str) -> ApiResult<GroupId> {
    GroupId::parse(text)
        .ok_or_else(|| ApiError::bad_request("invalid_field", "group_id: ^[A-Za-z0-9_.-]{1,64}$"))
}

fn ok() -> Json<Value> {
    Json(json!({ "ok": true }))
}

async fn list(State(node): State<Arc<Node>>) -> Json<Value> {
    Json(json!(manage::list(&node)))
}

async fn create(
    State(node): State<Arc<Node>>,
    ApiJson(new): ApiJson<NewGroup>,
) -> ApiResult<Json<Value>> {
    let id = manage::create(&node, new).await?;
    Ok(Json(json!({ "id": id })))
}

#[derive(Deserialize)]
pub(super) struct JoinBody {
    host_peer_id: String,
    group_id: String,
    community: Option<String>,
}

pub(super) async fn join(
    State(node): State<Arc<Node>>,
    ApiJson(body): ApiJson<JoinBody>,
) -> ApiResult<Json<Value>> {
    let host = parse_peer_id(&body.host_peer_id)?;
    let group = group_id(&body.group_id)?;
    let community = body
        .community
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(HubUrl::parse)
        .transpose()
        .map_err(|e| ApiError::bad_request("invalid_field", format!("community: {e}")))?;
    let welcome = member::join(&node, host, &group, community.as_ref()).await?;
    Ok(Json(json!(welcome)))
}

#[derive(Deserialize)]
pub(super) struct GroupBody {
    group_id: String,
}

pub(super) async fn leave(
    State(node): State<Arc<Node>>,
    ApiJson(body): ApiJson<GroupBody>,
) -> ApiResult<Json<Value>> {
    let group = group_id(&body.group_id)?;
    let host = member::host_of(&node, &group).ok_or(GroupError::UnknownGroup)?;
    member::leave(&node, host, &group).await?;
    Ok(ok())
}

pub(super) async fn close(
    State(node): State<Arc<Node>>,
    ApiJson(body): ApiJson<GroupBody>,
) -> ApiResult<Json<Value>> {
    manage::close(&node, &group_id(&body.group_id)?).await?;
    Ok(ok())
}

async fn join_own(
    State(node): State<Arc<Node>>,
    ApiJson(body): ApiJson<GroupBody>,
) -> ApiResult<Json<Value>> {
    manage::set_host_joined(&node, &group_id(&body.group_id)?, true).await?;
    Ok(ok())
}

async fn leave_own(
    State(node): State<Arc<Node>>,
    ApiJson(body): ApiJson<GroupBody>,
) -> ApiResult<Json<Value>> {
    manage::set_host_joined(&node, &group_id(&body.group_id)?, false).await?;
    Ok(ok())
}

#[derive(Deserialize)]
struct PeerBody {
    group_id: String,
    peer_id: String,
    #[serde(default)]
    ban: bool,
    role: Option<String>,
}

async fn invite(
    State(node): State<Arc<Node>>,
    ApiJson(body): ApiJson<PeerBody>,
) -> ApiResult<Json<Value>> {
    let peer = parse_peer_id(&body.peer_id)?;
    manage::invite(&node, &group_id(&body.group_id)?, peer).await?;
    Ok(ok())
}

async fn kick(
    State(node): State<Arc<Node>>,
    ApiJson(body): ApiJson<PeerBody>,
) -> ApiResult<Json<Value>> {
    let peer = parse_peer_id(&body.peer_id)?;
    manage::kick(&node, &group_id(&body.group_id)?, peer, body.ban).await?;
    Ok(ok())
}

async fn set_role(
    State(node): State<Arc<Node>>,
    ApiJson(body): ApiJson<PeerBody>,
) -> ApiResult<Json<Value>> {
    let peer = parse_peer_id(&body.peer_id)?;
    let role = body
        .role
        .ok_or_else(|| ApiError::bad_request("invalid_field", "role is required"))?;
    manage::set_role(&node, &group_id(&body.group_id)?, peer, &role).await?;
    Ok(ok())
}

#[derive(Deserialize)]
struct MetaBody {
    group_id: String,
    name: Option<String>,
    max_members: Option<u32>,
}

async fn meta(
    State(node): State<Arc<Node>>,
    ApiJson(body): ApiJson<MetaBody>,
) -> ApiResult<Json<Value>> {
    manage::set_meta(
        &node,
        &group_id(&body.group_id)?,
        body.name,
        body.max_members,
    )
    .await?;
    Ok(ok())
}

#[derive(Deserialize)]
struct SendBody {
    group_id: String,
    payload: Value,
}

async fn send(
    State(node): State<Arc<Node>>,
    ApiJson(body): ApiJson<SendBody>,
) -> ApiResult<Json<Value>> {
    let group = group_id(&body.group_id)?;
    if node.groups.hosts(&group) {
        manage::send(&node, &group, &body.payload).await?;
    } else {
        member::send(&node, &group, &body.payload).await?;
    }
    Ok(ok())
}

#[derive(Deserialize)]
struct StateBody {
    group_id: String,
    state: Value,
}

async fn state(
    State(node): State<Arc<Node>>,
    ApiJson(body): ApiJson<StateBody>,
) -> ApiResult<Json<Value>> {
    manage::set_state(&node, &group_id(&body.group_id)?, body.state).await?;
    Ok(ok())
}

async fn subscriptions(State(node): State<Arc<Node>>) -> Json<Value> {
    Json(json!({ "subscriptions": member::subscriptions(&node) }))
}

async fn invites(State(node): State<Arc<Node>>) -> Json<Value> {
    Json(json!(member::invites(&node)))
}

#[derive(Deserialize)]
struct InviteBody {
    host_peer_id: String,
    group_id: String,
}

async fn accept_invite(
    State(node): State<Arc<Node>>,
    ApiJson(body): ApiJson<InviteBody>,
) -> ApiResult<Json<Value>> {
    let (host, group) = take_invite(&node, &body)?;
    let welcome = member::join(&node, host, &group, None).await?;
    Ok(Json(json!(welcome)))
}

async fn decline_invite(
    State(node): State<Arc<Node>>,
    ApiJson(body): ApiJson<InviteBody>,
) -> ApiResult<Json<Value>> {
    take_invite(&node, &body)?;
    Ok(ok())
}

/// Removes the invitation `body` names; 404 `unknown_invite` when there is none.
fn take_invite(node: &Node, body: &InviteBody) -> ApiResult<(libp2p::PeerId, GroupId)> {
    let host = parse_peer_id(&body.host_peer_id)?;
    let group = group_id(&body.group_id)?;
    if !member::take_invite(node, host, &group) {
        return Err(ApiError::not_found("unknown_invite", "no such invitation"));
    }
    Ok((host, group))
}

/// `event: <type>` / `data: {type,group,from?,author?,payload?}` for each `group.*` event.
async fn events(
    State(node): State<Arc<Node>>,
    Extension(streams): Extension<Streams>,
) -> ApiResult<Response> {
    let slot = streams.open()?;
    let rx = node.events.subscribe();
    Ok(slot.sse(sse_frames(Vec::new(), rx, group_frame)))
}

fn group_frame(numbered: &Numbered) -> Option<SseEvent> {
    let Event::Group(event) = &numbered.event else {
        return None;
    };
    let data = serde_json::to_string(event).unwrap_or_else(|_| "{}".to_owned());
    Some(SseEvent::default().event(event.kind).data(data))
}

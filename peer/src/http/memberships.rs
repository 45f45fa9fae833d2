//! Joining and memberships (peer.md §11.3): `POST /api/hubs/join`, `POST
//! /api/memberships/verify`, `GET /api/memberships` and `POST /api/memberships/refresh`, all
//! over [`crate::membership`].

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiError, ApiJson};
use crate::hub_url::HubUrl;
use crate::membership::{Action, JoinError, JoinOptions, MAX_WAIT, Progress};
use crate::node::Node;
use crate::store::HubSource;

/// The routes of this area.
pub(crate) fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/api/hubs/join", post(join))
        .route("/api/memberships/verify", post(verify))
        .route("/api/memberships", get(list))
        .route("/api/memberships/refresh", post(refresh))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Join {
    url: String,
    email: Option<String>,
    invite: Option<String>,
    message: Option<String>,
    bind_code: Option<String>,
    plan: Option<String>,
    /// Open the checkout URL with the opener (the CLI sends it unless `--no-browser`).
    #[serde(default)]
    open_browser: bool,
    /// Seconds to wait for the end of the flow (the CLI's `--wait`); absent: answer as soon as
    /// the flow waits for the user or an admin.
    wait: Option<u64>,
}

async fn join(State(node): State<Arc<Node>>, ApiJson(body): ApiJson<Join>) -> Response {
    let options = JoinOptions {
        email: body.email,
        invite: body.invite,
        message: body.message,
        bind_code: body.bind_code,
        token: None,
        plan: body.plan,
        open_browser: body.open_browser,
        wait: body.wait.map_or(MAX_WAIT, Duration::from_secs),
        source: HubSource::Api,
    };
    run(&node, &body.url, options, body.wait.is_some()).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Verify {
    url: String,
    token: String,
}

async fn verify(State(node): State<Arc<Node>>, ApiJson(body): ApiJson<Verify>) -> Response {
    let options = JoinOptions {
        token: Some(body.token),
        wait: MAX_WAIT,
        ..JoinOptions::default()
    };
    run(&node, &body.url, options, false).await
}

/// Starts the flow and answers when it ends or (unless `to_end`) first waits.
async fn run(node: &Arc<Node>, url: &str, options: JoinOptions, to_end: bool) -> Response {
    let Ok(url) = HubUrl::parse(url) else {
        return ApiError::bad_request("invalid_field", "url is not a hub URL").into_response();
    };
    let mut progress = match node.memberships.start(node, url.clone(), options) {
        Ok(progress) => progress,
        Err(error) => return failure(&url, &error),
    };
    let settled = progress
        .wait_for(|p| match p {
            Progress::Started => false,
            Progress::Waiting { .. } => !to_end,
            Progress::Done(_) => true,
        })
        .await
        .map(|p| p.clone());
    match settled {
        Ok(Progress::Done(Ok(joined))) => Json(json!({
            "url": joined.url.as_str(),
            "state": joined.state,
            "tier": joined.tier,
            "voucher_expires_at": joined.voucher_expires_at,
        }))
        .into_response(),
        Ok(Progress::Done(Err(error))) => failure(&url, &error),
        Ok(Progress::Waiting {
            state,
            action,
            url: to,
        }) => waiting(&url, &state, action, to.as_deref(), None),
        Ok(Progress::Started) | Err(_) => failure(&url, &JoinError::Cancelled),
    }
}

fn waiting(
    url: &HubUrl,
    state: &str,
    action: Action,
    to: Option<&str>,
    detail: Option<&str>,
) -> Response {
    let message = match action {
        Action::VerifyEmail => {
            "a link was sent to the address; opening and confirming it adds this peer"
        }
        Action::AwaitApproval => "an admin of the hub must approve the membership",
        Action::EnterCode => detail.unwrap_or("the join mode needs more input"),
        Action::Checkout => {
            "pay at the checkout URL; the join finishes once the hub has the payment"
        }
    };
    let mut action = json!({ "kind": action.as_str(), "message": message });
    if let Some(to) = to {
        action["url"] = json!(to);
    }
    let body = json!({ "url": url.as_str(), "state": state, "action": action });
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

fn failure(url: &HubUrl, error: &JoinError) -> Response {
    let message = error.to_string();
    let (status, code) = match error {
        JoinError::TimedOut {
            state,
            action: Some(action),
        } => return waiting(url, state, *action, None, None),
        JoinError::PaymentNotCompleted { url: to } => {
            let to = Some(to.as_str()).filter(|t| !t.is_empty());
            return waiting(url, "pending_payment", Action::Checkout, to, None);
        }
        JoinError::NeedsInput(what) => {
            let detail = format!("the hub's join mode needs {what}");
            return waiting(url, "none", Action::EnterCode, None, Some(&detail));
        }
        JoinError::TimedOut { action: None, .. } => (StatusCode::GONE, "link_expired".to_owned()),
        JoinError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_field".to_owned()),
        JoinError::Refused(code) => (StatusCode::CONFLICT, code.clone()),
        JoinError::PlanRequired(_) => (StatusCode::BAD_REQUEST, "plan_required".to_owned()),
        JoinError::Hub(error) => (StatusCode::BAD_GATEWAY, error.code()),
        JoinError::Local(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal".to_owned()),
        JoinError::Cancelled => (StatusCode::SERVICE_UNAVAILABLE, "shutting_down".to_owned()),
    };
    shared::server::json_error(status, &code, &message, None)
}

async fn list(State(node): State<Arc<Node>>) -> Result<Json<Value>, ApiError> {
    let rows = node.store.list_memberships().await?;
    let rows: Vec<Value> = rows
        .into_iter()
        .map(|m| {
            json!({
                "url": m.hub_url,
                "hub_id": m.hub_id,
                "state": m.state,
                "tier": m.tier,
                "voucher_expires_at": m.voucher_expires_at,
                "updated_at": m.updated_at,
            })
        })
        .collect();
    Ok(Json(Value::Array(rows)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Refresh {
    url: String,
}

async fn refresh(
    State(node): State<Arc<Node>>,
    ApiJson(body): ApiJson<Refresh>,
) -> Result<Json<Value>, ApiError> {
    let url = HubUrl::parse(&body.url)
        .map_err(|_| ApiError::bad_request("invalid_field", "url is not a hub URL"))?;
    if node.hubs.get(&url).is_none() {
        return Err(ApiError::not_found("unknown_hub", "not one of our hubs"));
    }
    node.hubs.reread_memberships();
    Ok(Json(json!({ "ok": true })))
}

//! `GET /api/hubs` and `POST /api/hubs/leave` (peer.md §11.3): the hubs with their presence,
//! membership and relay states, and leaving one.

use std::sync::Arc;

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::hub_url::HubUrl;
use crate::hubs::{HubKind, HubsError};
use crate::node::Node;

/// The routes of this area.
pub(crate) fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/api/hubs", get(list))
        .route("/api/hubs/leave", post(leave))
}

async fn list(State(node): State<Arc<Node>>) -> Response {
    let memberships = node.store.list_memberships().await.unwrap_or_default();
    let hubs: Vec<Value> = node
        .hubs
        .list()
        .into_iter()
        .map(|hub| {
            let voucher_expires_at = memberships
                .iter()
                .find(|m| m.hub_url == hub.url.as_str())
                .and_then(|m| m.voucher_expires_at);
            let mut relay = json!({ "state": hub.relay_state });
            if let Some(addr) = &hub.circuit_addr {
                relay["circuit_addr"] = addr.to_string().into();
            }
            let mut entry = json!({
                "url": hub.url.as_str(),
                "source": hub.source.as_str(),
                "kind": hub.kind.map(|k| match k {
                    HubKind::Signed => "signed",
                    HubKind::Legacy => "legacy",
                }),
                "state": hub.state,
                "membership": hub.membership,
                "tier": hub.tier,
                "voucher_expires_at": voucher_expires_at,
                "relay": relay,
            });
            if let Some(error) = &hub.last_error {
                entry["last_error"] = error.clone().into();
            }
            entry
        })
        .collect();
    Json(hubs).into_response()
}

#[derive(Deserialize)]
struct Leave {
    url: String,
}

async fn leave(
    State(node): State<Arc<Node>>,
    body: Result<Json<Leave>, JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(body) => body,
        Err(JsonRejection::MissingJsonContentType(_)) => {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send JSON",
            );
        }
        Err(rejection) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                &rejection.body_text(),
            );
        }
    };
    let Ok(url) = HubUrl::parse(&body.url) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_field",
            "url is not a hub URL",
        );
    };
    match node.hubs.leave(&url).await {
        Ok(()) => Json(json!({ "ok": true })).into_response(),
        Err(HubsError::Unknown) => {
            error(StatusCode::NOT_FOUND, "unknown_hub", "not one of our hubs")
        }
        Err(e) => {
            tracing::error!(hub = %url, error = %e, "leaving a hub failed");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "leaving the hub failed",
            )
        }
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let message: String = message.chars().take(200).collect();
    (
        status,
        Json(json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

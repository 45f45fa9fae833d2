//! Admin routes about the community as a whole (hub.md §9): invites, applications, live presence,
//! stats, the audit trail and voucher revocation.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shared::ids::{Ed25519PeerId, ParsePeerIdError};

use shared::error_code::ErrorCode;

use super::{AdminCaller, body_of, cursor_param, invalid, limit_of, query_of, text};
use crate::http::{ApiError, ApiResult};
use crate::membership::admin::{
    ApplicationView, AuditView, InviteView, MAX_INVITE_SECS, MAX_INVITE_USES, Page, PresencePeer,
    Stats,
};
use crate::state::AppState;

/// An invite lives a week unless the request says otherwise.
const DEFAULT_INVITE_SECS: u64 = 604_800;

/// Body of `POST …/invites`.
#[derive(Debug, Deserialize)]
pub(super) struct InviteBody {
    #[serde(default = "one")]
    max_uses: i64,
    /// Absent → a week; `null` → never.
    #[serde(default = "default_invite_secs")]
    expires_in_secs: Option<u64>,
    note: Option<String>,
}

impl Default for InviteBody {
    fn default() -> Self {
        Self {
            max_uses: 1,
            expires_in_secs: default_invite_secs(),
            note: None,
        }
    }
}

fn one() -> i64 {
    1
}

fn default_invite_secs() -> Option<u64> {
    Some(DEFAULT_INVITE_SECS)
}

/// `POST /api/v1/admin/invites` → 201.
pub(super) async fn create_invite(
    AdminCaller(actor): AdminCaller,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body: InviteBody = body_of(&headers, body)?;
    if !(1..=MAX_INVITE_USES).contains(&body.max_uses) {
        return Err(invalid("max_uses", "max_uses: 1–10000"));
    }
    if body
        .expires_in_secs
        .is_some_and(|s| !(1..=MAX_INVITE_SECS).contains(&s))
    {
        return Err(invalid(
            "expires_in_secs",
            "expires_in_secs: 1–31536000, or null for never",
        ));
    }
    let note = text(body.note, "note")?;
    let invite = state
        .membership
        .create_invite(&actor, body.max_uses, body.expires_in_secs, note.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(InviteView::from(invite))).into_response())
}

/// Query of `GET …/invites`.
#[derive(Debug, Deserialize)]
pub(super) struct InvitesParams {
    include_revoked: Option<bool>,
}

/// `{"items": […]}`.
#[derive(Debug, serde::Serialize)]
pub(super) struct Items<T> {
    items: Vec<T>,
}

/// `GET /api/v1/admin/invites?include_revoked=false`.
pub(super) async fn list_invites(
    _admin: AdminCaller,
    State(state): State<AppState>,
    query: Result<Query<InvitesParams>, QueryRejection>,
) -> ApiResult<Json<Items<InviteView>>> {
    let include_revoked = query_of(query)?.include_revoked.unwrap_or(false);
    let items = state.membership.list_invites(include_revoked).await?;
    Ok(Json(Items { items }))
}

/// `DELETE /api/v1/admin/invites/{code}` (any spelling the invite input accepts).
pub(super) async fn revoke_invite(
    AdminCaller(actor): AdminCaller,
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> ApiResult<StatusCode> {
    state.membership.revoke_invite(&actor, &code).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Query of `GET …/applications`.
#[derive(Debug, Deserialize)]
pub(super) struct ApplicationsParams {
    status: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/admin/applications?status=pending` (also `cursor` and `limit`).
pub(super) async fn list_applications(
    _admin: AdminCaller,
    State(state): State<AppState>,
    query: Result<Query<ApplicationsParams>, QueryRejection>,
) -> ApiResult<Json<Page<ApplicationView>>> {
    let params = query_of(query)?;
    let status = params.status.filter(|s| !s.is_empty());
    let status = status.as_deref().unwrap_or("pending");
    if !matches!(status, "pending" | "approved" | "rejected") {
        return Err(invalid("status", "status: pending, approved or rejected"));
    }
    let after = cursor_param(params.cursor)?;
    let page = state
        .membership
        .list_applications(status, after.as_ref(), limit_of(params.limit)?)
        .await?;
    Ok(Json(page))
}

/// `{"peers": […]}`.
#[derive(Debug, serde::Serialize)]
pub(super) struct PresenceList {
    peers: Vec<PresencePeer>,
}

/// `GET /api/v1/admin/presence`.
pub(super) async fn list_presence(
    _admin: AdminCaller,
    State(state): State<AppState>,
) -> ApiResult<Json<PresenceList>> {
    let peers = state.membership.presence_peers().await?;
    Ok(Json(PresenceList { peers }))
}

/// `GET /api/v1/admin/stats`.
pub(super) async fn show_stats(
    _admin: AdminCaller,
    State(state): State<AppState>,
) -> ApiResult<Json<Stats>> {
    Ok(Json(state.membership.stats().await?))
}

/// Query of `GET …/audit`.
#[derive(Debug, Deserialize)]
pub(super) struct AuditParams {
    cursor: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/admin/audit?cursor=&limit=`.
pub(super) async fn list_audit(
    _admin: AdminCaller,
    State(state): State<AppState>,
    query: Result<Query<AuditParams>, QueryRejection>,
) -> ApiResult<Json<Page<AuditView>>> {
    let params = query_of(query)?;
    let after = cursor_param(params.cursor)?;
    let page = state
        .membership
        .list_audit(after.as_ref(), limit_of(params.limit)?)
        .await?;
    Ok(Json(page))
}

/// Body of `POST …/vouchers/revoke`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct PeerBody {
    peer_id: Option<String>,
}

/// `POST /api/v1/admin/vouchers/revoke` → 204.
pub(super) async fn revoke_vouchers(
    AdminCaller(actor): AdminCaller,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<StatusCode> {
    let body: PeerBody = body_of(&headers, body)?;
    let text = body
        .peer_id
        .ok_or_else(|| invalid("peer_id", "peer_id: required"))?;
    let peer = text.trim().parse::<Ed25519PeerId>().map_err(|e| match e {
        ParsePeerIdError::NotEd25519 => ApiError::BadRequest {
            code: ErrorCode::UnsupportedPeerId,
            field: Some("peer_id"),
            message: "peer_id: not an Ed25519 PeerId".to_owned(),
        },
        ParsePeerIdError::Malformed => invalid("peer_id", "peer_id: not a PeerId"),
    })?;
    state
        .membership
        .admin_revoke_vouchers(&actor, peer.peer_id())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invite_body_tells_absent_expiry_from_null() {
        let absent: InviteBody = serde_json::from_str("{}").unwrap();
        let never: InviteBody = serde_json::from_str(r#"{"expires_in_secs":null}"#).unwrap();

        assert_eq!(absent.expires_in_secs, Some(DEFAULT_INVITE_SECS));
        assert_eq!(absent.max_uses, 1);
        assert_eq!(never.expires_in_secs, None);
    }
}

//! Admin routes about one account (hub.md §9): the member list and view, approve, reject, ban,
//! unban, comp, uncomp and unbinding a peer.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;

use super::{
    AdminCaller, body_of, cursor_param, enum_param, invalid, limit_of, query_of, required_text,
    text,
};
use crate::http::ApiResult;
use crate::members::{State as AccountState, Tier};
use crate::membership::admin::{MemberDetail, MemberView, Page};
use crate::state::AppState;
use crate::store::MemberQuery;

/// Query of `GET …/members`: all optional; empty values count as absent.
#[derive(Debug, Deserialize)]
pub(super) struct MembersParams {
    q: Option<String>,
    state: Option<String>,
    tier: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/admin/members`.
pub(super) async fn list_members(
    _admin: AdminCaller,
    State(state): State<AppState>,
    query: Result<Query<MembersParams>, QueryRejection>,
) -> ApiResult<Json<Page<MemberView>>> {
    let params = query_of(query)?;
    let q = params
        .q
        .map(|q| q.trim().to_owned())
        .filter(|q| !q.is_empty());
    if q.as_ref().is_some_and(|q| q.len() > 254) {
        return Err(invalid("q", "q: at most 254 bytes"));
    }
    let query = MemberQuery {
        q,
        state: enum_param::<AccountState>(params.state, "state")?,
        tier: enum_param::<Tier>(params.tier, "tier")?,
        after: cursor_param(params.cursor)?,
        limit: limit_of(params.limit)?,
    };
    Ok(Json(state.membership.list_members(query).await?))
}

/// `GET /api/v1/admin/members/{id}` (an email address works too).
pub(super) async fn show_member(
    _admin: AdminCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<MemberDetail>> {
    Ok(Json(state.membership.member_detail(&id).await?))
}

/// Body of approve: an optional note kept with the application.
#[derive(Debug, Default, Deserialize)]
pub(super) struct NoteBody {
    note: Option<String>,
}

/// `POST /api/v1/admin/members/{id}/approve`.
pub(super) async fn approve_member(
    AdminCaller(actor): AdminCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<MemberView>> {
    let body: NoteBody = body_of(&headers, body)?;
    let note = text(body.note, "note")?;
    let member = state
        .membership
        .approve(&actor, &id, note.as_deref())
        .await?;
    Ok(Json(member))
}

/// Body of reject and ban.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ReasonBody {
    reason: Option<String>,
    cancel_subscription: Option<bool>,
}

/// `POST /api/v1/admin/members/{id}/reject`.
pub(super) async fn reject_member(
    AdminCaller(actor): AdminCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<StatusCode> {
    let body: ReasonBody = body_of(&headers, body)?;
    let reason = required_text(body.reason, "reason")?;
    state.membership.reject(&actor, &id, &reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/admin/members/{id}/ban`; `cancel_subscription` defaults to
/// `billing.cancel_on_ban` (hub.md §16). After the ban commits, the account's live subscriptions
/// are cancelled at Stripe and the outcome is added to the ban's audit row; a Stripe failure is
/// logged there and the ban stands.
pub(super) async fn ban_member(
    AdminCaller(actor): AdminCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<MemberView>> {
    let body: ReasonBody = body_of(&headers, body)?;
    let reason = required_text(body.reason, "reason")?;
    let cancel = body
        .cancel_subscription
        .unwrap_or(state.config.billing.cancel_on_ban);
    let ban = state.membership.ban(&actor, &id, &reason, cancel).await?;
    if cancel && let Some(billing) = &state.billing {
        let outcomes = billing.cancel_subscriptions(&id).await?;
        if !outcomes.is_empty() {
            state
                .membership
                .record_ban_cancellation(&ban, outcomes)
                .await?;
        }
    }
    Ok(Json(ban.member))
}

/// `POST /api/v1/admin/members/{id}/unban`.
pub(super) async fn unban_member(
    AdminCaller(actor): AdminCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<MemberView>> {
    Ok(Json(state.membership.unban(&actor, &id).await?))
}

/// Body of comp: `until` in ms (null or absent: no end) and an optional note.
#[derive(Debug, Default, Deserialize)]
pub(super) struct CompBody {
    until: Option<i64>,
    note: Option<String>,
}

/// `POST /api/v1/admin/members/{id}/comp`: `until` in ms, or null/absent for no end.
pub(super) async fn comp_member(
    AdminCaller(actor): AdminCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<MemberView>> {
    let body: CompBody = body_of(&headers, body)?;
    let note = text(body.note, "note")?;
    let member = state
        .membership
        .comp(&actor, &id, body.until, note.as_deref())
        .await?;
    Ok(Json(member))
}

/// `DELETE /api/v1/admin/members/{id}/comp`.
pub(super) async fn uncomp_member(
    AdminCaller(actor): AdminCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<MemberView>> {
    Ok(Json(state.membership.uncomp(&actor, &id).await?))
}

/// `DELETE /api/v1/admin/members/{id}/peers/{peer_id}`.
pub(super) async fn unbind_peer(
    AdminCaller(actor): AdminCaller,
    State(state): State<AppState>,
    Path((id, peer_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.membership.admin_unbind(&actor, &id, &peer_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

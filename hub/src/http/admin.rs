//! The administration API under `/api/v1/admin/` (hub.md §9). [`AdminCaller`] guards every
//! route: no configured token → 404, a bucket of failed attempts per client IP checked before the
//! token is compared, then the bearer token in constant time. Every response carries
//! `Cache-Control: no-store`. Handlers parse and bound the input; the work is done by
//! `membership::admin`.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use shared::ids::{Ed25519PeerId, ParsePeerIdError};

use super::auth::{Bearer, bearer, client_ip};
use super::session::{body_bytes, json_body};
use super::{ApiError, ApiResult};
use crate::members::{State as AccountState, Tier};
use crate::membership::admin::{
    Actor, ApplicationView, AuditView, InviteView, MAX_INVITE_SECS, MAX_INVITE_USES, MemberDetail,
    MemberView, Page, PresencePeer, Stats, decode_cursor,
};
use crate::state::AppState;
use crate::store::MemberQuery;

/// Header naming the person or tool behind an admin call (hub.md §9 "Audit").
const ACTOR_HEADER: &str = "x-goop-admin-actor";
/// Actor when the header is absent.
const DEFAULT_ACTOR: &str = "admin";
/// Longest actor name.
const MAX_ACTOR_LEN: usize = 64;
/// Page size without `limit`, and the largest one.
const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 200;
/// Longest reason or note, in characters.
const MAX_TEXT_CHARS: usize = 500;
/// An invite lives a week unless the request says otherwise.
const DEFAULT_INVITE_SECS: u64 = 604_800;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/members", get(list_members))
        .route("/api/v1/admin/members/{id}", get(show_member))
        .route("/api/v1/admin/members/{id}/approve", post(approve_member))
        .route("/api/v1/admin/members/{id}/reject", post(reject_member))
        .route("/api/v1/admin/members/{id}/ban", post(ban_member))
        .route("/api/v1/admin/members/{id}/unban", post(unban_member))
        .route(
            "/api/v1/admin/members/{id}/comp",
            post(comp_member).delete(uncomp_member),
        )
        .route(
            "/api/v1/admin/members/{id}/peers/{peer_id}",
            delete(unbind_peer),
        )
        .route(
            "/api/v1/admin/invites",
            post(create_invite).get(list_invites),
        )
        .route("/api/v1/admin/invites/{code}", delete(revoke_invite))
        .route("/api/v1/admin/applications", get(list_applications))
        .route("/api/v1/admin/presence", get(list_presence))
        .route("/api/v1/admin/stats", get(show_stats))
        .route("/api/v1/admin/audit", get(list_audit))
        .route("/api/v1/admin/vouchers/revoke", post(revoke_vouchers))
        .layer(axum::middleware::map_response(
            |mut response: Response| async move {
                // Admin answers name members and tokens' effects: never kept by a cache.
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                response
            },
        ))
}

/// An authenticated admin call, with the actor and IP its audit row records.
#[derive(Debug, Clone)]
pub(crate) struct AdminCaller(Actor);

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        if state.config.admin.token.is_none() {
            return Err(ApiError::NotFound("not_found"));
        }
        let socket = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map_or(std::net::SocketAddr::from(([0, 0, 0, 0], 0)), |c| c.0);
        let ip = client_ip(&state.config, socket, &parts.headers);
        let now = Instant::now();
        let failures = &state.limits.admin_fail_ip;
        // Checked before comparing: an address that guessed too often learns nothing more,
        // not even whether its next guess is right.
        if let Some(retry) = failures.exhausted(&ip, now) {
            return Err(ApiError::TooManyRequests(retry));
        }
        if bearer(&state.config, &parts.headers) != Bearer::Admin {
            failures.check(ip, now).map_err(ApiError::TooManyRequests)?;
            return Err(ApiError::Unauthorized("unauthorized"));
        }
        Ok(Self(Actor {
            name: actor_name(&parts.headers)?,
            ip: ip.to_string(),
        }))
    }
}

/// `X-Goop-Admin-Actor`: 1–64 printable ASCII characters, `admin` when absent.
fn actor_name(headers: &HeaderMap) -> ApiResult<String> {
    let Some(value) = headers.get(ACTOR_HEADER) else {
        return Ok(DEFAULT_ACTOR.to_owned());
    };
    let bytes = value.as_bytes();
    if bytes.is_empty()
        || bytes.len() > MAX_ACTOR_LEN
        || !bytes.iter().all(|b| (0x20..0x7f).contains(b))
    {
        return Err(invalid(
            "X-Goop-Admin-Actor",
            "X-Goop-Admin-Actor: 1–64 printable ASCII characters",
        ));
    }
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

fn invalid(field: &'static str, message: &str) -> ApiError {
    ApiError::BadRequest {
        code: "invalid_field",
        field: Some(field),
        message: message.to_owned(),
    }
}

/// A JSON body of `T`; an empty body is `{}` (most admin actions need no parameters).
fn body_of<T: DeserializeOwned + Default>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<T> {
    let body = body_bytes(body)?;
    if body.is_empty() {
        return Ok(T::default());
    }
    json_body(headers, &body)
}

/// Query parameters, or 400 `invalid_field` naming the query.
fn query_of<T>(query: Result<Query<T>, QueryRejection>) -> ApiResult<T> {
    query
        .map(|Query(q)| q)
        .map_err(|e| invalid("query", &format!("query: {}", e.body_text())))
}

/// An optional free text of at most [`MAX_TEXT_CHARS`] characters, trimmed; empty = absent.
fn text(value: Option<String>, field: &'static str) -> ApiResult<Option<String>> {
    let Some(value) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.chars().count() > MAX_TEXT_CHARS || value.chars().any(char::is_control) {
        return Err(invalid(
            field,
            &format!("{field}: at most {MAX_TEXT_CHARS} characters, no control characters"),
        ));
    }
    Ok(Some(value))
}

/// A required free text.
fn required_text(value: Option<String>, field: &'static str) -> ApiResult<String> {
    text(value, field)?.ok_or_else(|| invalid(field, &format!("{field}: required")))
}

/// `limit`: default 50, at most 200.
fn limit_of(limit: Option<i64>) -> ApiResult<i64> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if n >= 1 => Ok(n.min(MAX_LIMIT)),
        Some(_) => Err(invalid("limit", "limit: at least 1")),
    }
}

/// A snake_case enumeration value from a query parameter; empty = absent.
fn enum_param<T: DeserializeOwned>(
    value: Option<String>,
    field: &'static str,
) -> ApiResult<Option<T>> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => serde_json::from_value(serde_json::Value::String(v))
            .map(Some)
            .map_err(|_| invalid(field, &format!("{field}: not a known value"))),
    }
}

#[derive(Debug, Deserialize)]
struct MembersParams {
    q: Option<String>,
    state: Option<String>,
    tier: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/admin/members`.
async fn list_members(
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
        after: params
            .cursor
            .filter(|c| !c.is_empty())
            .map(|c| decode_cursor(&c))
            .transpose()?,
        limit: limit_of(params.limit)?,
    };
    Ok(Json(state.membership.list_members(query).await?))
}

/// `GET /api/v1/admin/members/{id}` (an email address works too).
async fn show_member(
    _admin: AdminCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<MemberDetail>> {
    Ok(Json(state.membership.member_detail(&id).await?))
}

#[derive(Debug, Default, Deserialize)]
struct NoteBody {
    note: Option<String>,
}

/// `POST /api/v1/admin/members/{id}/approve`.
async fn approve_member(
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

#[derive(Debug, Default, Deserialize)]
struct ReasonBody {
    reason: Option<String>,
    cancel_subscription: Option<bool>,
}

/// `POST /api/v1/admin/members/{id}/reject`.
async fn reject_member(
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

/// `POST /api/v1/admin/members/{id}/ban`; `cancel_subscription` defaults to true
/// (`billing.cancel_on_ban`, hub.md §16).
async fn ban_member(
    AdminCaller(actor): AdminCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<MemberView>> {
    let body: ReasonBody = body_of(&headers, body)?;
    let reason = required_text(body.reason, "reason")?;
    let cancel = body.cancel_subscription.unwrap_or(true);
    Ok(Json(
        state.membership.ban(&actor, &id, &reason, cancel).await?,
    ))
}

/// `POST /api/v1/admin/members/{id}/unban`.
async fn unban_member(
    AdminCaller(actor): AdminCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<MemberView>> {
    Ok(Json(state.membership.unban(&actor, &id).await?))
}

#[derive(Debug, Default, Deserialize)]
struct CompBody {
    until: Option<i64>,
    note: Option<String>,
}

/// `POST /api/v1/admin/members/{id}/comp`: `until` in ms, or null/absent for no end.
async fn comp_member(
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
async fn uncomp_member(
    AdminCaller(actor): AdminCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<MemberView>> {
    Ok(Json(state.membership.uncomp(&actor, &id).await?))
}

/// `DELETE /api/v1/admin/members/{id}/peers/{peer_id}`.
async fn unbind_peer(
    AdminCaller(actor): AdminCaller,
    State(state): State<AppState>,
    Path((id, peer_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.membership.admin_unbind(&actor, &id, &peer_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct InviteBody {
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

#[allow(clippy::unnecessary_wraps, reason = "serde default of an Option field")]
fn default_invite_secs() -> Option<u64> {
    Some(DEFAULT_INVITE_SECS)
}

/// `POST /api/v1/admin/invites` → 201.
async fn create_invite(
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

#[derive(Debug, Deserialize)]
struct InvitesParams {
    include_revoked: Option<bool>,
}

#[derive(Debug, serde::Serialize)]
struct Items<T> {
    items: Vec<T>,
}

/// `GET /api/v1/admin/invites?include_revoked=false`.
async fn list_invites(
    _admin: AdminCaller,
    State(state): State<AppState>,
    query: Result<Query<InvitesParams>, QueryRejection>,
) -> ApiResult<Json<Items<InviteView>>> {
    let include_revoked = query_of(query)?.include_revoked.unwrap_or(false);
    let items = state.membership.list_invites(include_revoked).await?;
    Ok(Json(Items { items }))
}

/// `DELETE /api/v1/admin/invites/{code}` (any spelling the invite input accepts).
async fn revoke_invite(
    AdminCaller(actor): AdminCaller,
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> ApiResult<StatusCode> {
    state.membership.revoke_invite(&actor, &code).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct ApplicationsParams {
    status: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/admin/applications?status=pending` (also `cursor` and `limit`).
async fn list_applications(
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
    let after = params
        .cursor
        .filter(|c| !c.is_empty())
        .map(|c| decode_cursor(&c))
        .transpose()?;
    let page = state
        .membership
        .list_applications(status, after.as_ref(), limit_of(params.limit)?)
        .await?;
    Ok(Json(page))
}

#[derive(Debug, serde::Serialize)]
struct PresenceList {
    peers: Vec<PresencePeer>,
}

/// `GET /api/v1/admin/presence`.
async fn list_presence(
    _admin: AdminCaller,
    State(state): State<AppState>,
) -> ApiResult<Json<PresenceList>> {
    let peers = state.membership.presence_peers().await?;
    Ok(Json(PresenceList { peers }))
}

/// `GET /api/v1/admin/stats`.
async fn show_stats(_admin: AdminCaller, State(state): State<AppState>) -> ApiResult<Json<Stats>> {
    Ok(Json(state.membership.stats().await?))
}

#[derive(Debug, Deserialize)]
struct AuditParams {
    cursor: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/admin/audit?cursor=&limit=`.
async fn list_audit(
    _admin: AdminCaller,
    State(state): State<AppState>,
    query: Result<Query<AuditParams>, QueryRejection>,
) -> ApiResult<Json<Page<AuditView>>> {
    let params = query_of(query)?;
    let after = params
        .cursor
        .filter(|c| !c.is_empty())
        .map(|c| decode_cursor(&c))
        .transpose()?;
    let page = state
        .membership
        .list_audit(after.as_ref(), limit_of(params.limit)?)
        .await?;
    Ok(Json(page))
}

#[derive(Debug, Default, Deserialize)]
struct PeerBody {
    peer_id: Option<String>,
}

/// `POST /api/v1/admin/vouchers/revoke` → 204.
async fn revoke_vouchers(
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
            code: "unsupported_peer_id",
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

    fn with_actor(value: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(ACTOR_HEADER, HeaderValue::from_bytes(value).unwrap());
        headers
    }

    #[test]
    fn actor_defaults_to_admin_and_must_be_printable_ascii() {
        assert_eq!(actor_name(&HeaderMap::new()).unwrap(), "admin");
        assert_eq!(actor_name(&with_actor(b"cli:ann")).unwrap(), "cli:ann");
        assert!(actor_name(&with_actor(&[b'a'; 65])).is_err());
        assert!(actor_name(&with_actor(b"tab\there")).is_err());
        assert!(actor_name(&with_actor("änn".as_bytes())).is_err());
    }

    #[test]
    fn limit_defaults_to_50_and_caps_at_200() {
        assert_eq!(limit_of(None).unwrap(), 50);
        assert_eq!(limit_of(Some(500)).unwrap(), 200);
        assert!(limit_of(Some(0)).is_err());
    }

    #[test]
    fn invite_body_tells_absent_expiry_from_null() {
        let absent: InviteBody = serde_json::from_str("{}").unwrap();
        let never: InviteBody = serde_json::from_str(r#"{"expires_in_secs":null}"#).unwrap();

        assert_eq!(absent.expires_in_secs, Some(DEFAULT_INVITE_SECS));
        assert_eq!(absent.max_uses, 1);
        assert_eq!(never.expires_in_secs, None);
    }
}

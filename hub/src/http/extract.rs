//! Who is calling (hub.md §6.9, §9, §13.2): every request extractor of the JSON routes and the
//! pages — the client IP behind trusted proxies, the bearer credential, [`Caller`] (the parts
//! membership handlers read: PeerSig proof, session cookie, the caller's account) and
//! [`AdminCaller`] (the admin token with its failure bucket and the audit actor), and
//! [`subscriber_class`] (who may read presence).

mod subscriber;

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use secrecy::ExposeSecret as _;
use shared::error_code::ErrorCode;

use super::cookie::{Renewed, check_csrf, origin_of, session_cookie};
use super::{ApiError, ApiResult};
use crate::config::Config;
use crate::membership::Proof;
use crate::membership::admin::Actor;
use crate::state::AppState;
use crate::utc::now_ms;

pub(crate) use subscriber::subscriber_class;

/// Header naming the person or tool behind an admin call (hub.md §9 "Audit").
const ACTOR_HEADER: &str = "x-goop-admin-actor";
/// Actor when the header is absent.
const DEFAULT_ACTOR: &str = "admin";
/// Longest actor name.
const MAX_ACTOR_LEN: usize = 64;

/// The client address of a request (hub.md §13.2).
pub(crate) fn client_ip(config: &Config, socket: SocketAddr, headers: &HeaderMap) -> IpAddr {
    shared::server::client_ip_of(&config.http, socket.ip(), headers)
}

pub(crate) use shared::server::ClientIp;

impl shared::server::HttpState for AppState {
    fn http(&self) -> &shared::config::HttpConfig {
        &self.config.http
    }
}

/// The socket address of the connection (unspecified when the server was not given it).
fn socket_of(parts: &Parts) -> SocketAddr {
    shared::server::socket_addr(&parts.extensions)
}

/// What an `Authorization: Bearer` header says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Bearer {
    /// No bearer credential.
    Absent,
    /// The admin token.
    Admin,
    /// Some other bearer credential (a voucher, or a wrong token).
    Other,
}

/// The credential of an `Authorization: Bearer` header, if any.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Classifies the bearer credential; the admin token is compared in constant time.
pub(crate) fn bearer(config: &Config, headers: &HeaderMap) -> Bearer {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Bearer::Absent;
    };
    let Some(token) = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")) else {
        return Bearer::Other;
    };
    match &config.admin.token {
        Some(admin)
            if constant_time_eq(admin.expose_secret().as_bytes(), token.trim().as_bytes()) =>
        {
            Bearer::Admin
        }
        _ => Bearer::Other,
    }
}

/// Equality whose time depends only on the lengths, not on where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The parts of a request membership handlers need; extract it, then read the body.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) ip: IpAddr,
    pub(crate) method: Method,
    /// The origin-form request target (PeerSig signs it).
    pub(crate) target: String,
    pub(crate) headers: HeaderMap,
    /// Where a renewed session is reported to [`renew_cookie`].
    renewed: Option<Renewed>,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let socket = socket_of(parts);
        let uri = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.clone(), |u| u.0.clone());
        Ok(Self {
            ip: client_ip(&state.config, socket, &parts.headers),
            method: parts.method.clone(),
            target: uri
                .path_and_query()
                .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned()),
            headers: parts.headers.clone(),
            renewed: parts.extensions.get::<Renewed>().cloned(),
        })
    }
}

impl Caller {
    /// The origin rule for a post. With the session cookie it is §6.9 rule 2 (this hub's `Origin`
    /// or `Referer` is required); without it a foreign `Origin` is still refused, so no other site
    /// can submit these forms on a visitor's behalf (for example to sign them in to an account that
    /// is not theirs).
    pub(crate) fn check_form_origin(&self, state: &AppState) -> ApiResult<()> {
        if self.session_cookie().is_some() {
            return check_csrf(state, &self.method, &self.headers);
        }
        let header_value = |name| self.headers.get(name).and_then(|v| v.to_str().ok());
        // Origin, else Referer (§10): a form post naming another site is refused.
        let origin = header_value(header::ORIGIN).or_else(|| header_value(header::REFERER));
        match origin {
            Some(origin) if origin_of(origin) != origin_of(state.membership.external_url()) => {
                Err(ApiError::Forbidden(ErrorCode::Csrf))
            }
            _ => Ok(()),
        }
    }

    /// The PeerSig proof of the request, if signed.
    pub(crate) fn proof(&self, state: &AppState, body: &[u8]) -> ApiResult<Option<Proof>> {
        let signed = state.peer_sig.verify_proof(
            &self.headers,
            self.method.as_str(),
            &self.target,
            body,
            self.ip,
            now_ms(),
        )?;
        Ok(signed.map(|(peer, ts, sig)| Proof { peer, ts, sig }))
    }

    /// The `User-Agent`, if readable (kept with a new session).
    pub(crate) fn user_agent(&self) -> Option<&str> {
        self.headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
    }

    /// The session cookie value, if any.
    pub(crate) fn session_cookie(&self) -> Option<&str> {
        session_cookie(&self.headers)
    }

    /// The account of the caller: a session (unsafe methods must pass the CSRF rule) or a
    /// PeerSig of a bound peer. 401 without either; 404 `not_bound` for an unbound signer.
    pub(crate) async fn account(&self, state: &AppState, body: &[u8]) -> ApiResult<String> {
        Ok(self.account_and_session(state, body).await?.0)
    }

    /// Like [`Self::account`], and whether a browser session (not a PeerSig) proved it.
    pub(crate) async fn account_and_session(
        &self,
        state: &AppState,
        body: &[u8],
    ) -> ApiResult<(String, bool)> {
        if let Some(proof) = self.proof(state, body)? {
            let account = state
                .membership
                .account_of_peer(&proof.peer.peer_id())
                .await?
                .ok_or(ApiError::NotFound(ErrorCode::NotBound))?;
            return Ok((account, false));
        }
        if self.session_cookie().is_some() {
            check_csrf(state, &self.method, &self.headers)?;
            if let Some(account) = self.session_account(state).await? {
                return Ok((account, true));
            }
        }
        Err(ApiError::Unauthorized(ErrorCode::Unauthorized))
    }

    /// The account of the session cookie, if any and valid; a renewal is reported so the
    /// response re-sends the cookie.
    pub(crate) async fn session_account(&self, state: &AppState) -> ApiResult<Option<String>> {
        let Some(cookie) = self.session_cookie() else {
            return Ok(None);
        };
        let Some((account, renewed)) = state.membership.session(cookie).await? else {
            return Ok(None);
        };
        if renewed && let Some(slot) = &self.renewed {
            slot.report(cookie);
        }
        Ok(Some(account))
    }
}

/// The admin token's gate on every route that accepts it (hub.md §9.1, §13.2): an address over
/// its `admin_fail_ip` budget is refused before the token is compared, so it learns nothing more,
/// not even whether its next guess is right; anything but the admin token is charged to it.
pub(crate) fn admin_gate(state: &AppState, ip: IpAddr, credential: &Bearer) -> ApiResult<()> {
    let now = Instant::now();
    let failures = &state.limits.admin_fail_ip;
    if let Some(retry) = failures.exhausted(&ip, now) {
        return Err(ApiError::TooManyRequests(retry));
    }
    if *credential != Bearer::Admin {
        failures.check(ip, now)?;
        return Err(ApiError::Unauthorized(ErrorCode::Unauthorized));
    }
    Ok(())
}

/// An authenticated admin call, with the actor and IP its audit row records.
#[derive(Debug, Clone)]
pub(crate) struct AdminCaller(pub(crate) Actor);

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        if state.config.admin.token.is_none() {
            return Err(ApiError::NotFound(ErrorCode::NotFound));
        }
        let socket = socket_of(parts);
        let ip = client_ip(&state.config, socket, &parts.headers);
        admin_gate(state, ip, &bearer(&state.config, &parts.headers))?;
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
        return Err(ApiError::BadRequest {
            code: ErrorCode::InvalidField,
            field: Some("X-Goop-Admin-Actor"),
            message: "X-Goop-Admin-Actor: 1–64 printable ASCII characters".to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_whole_inputs() {
        assert!(constant_time_eq(b"token", b"token"));
        assert!(!constant_time_eq(b"token", b"tokem"));
        assert!(!constant_time_eq(b"token", b"token2"));
        assert!(!constant_time_eq(b"", b"x"));
    }

    #[test]
    fn bearer_recognises_only_the_admin_token() {
        let mut config = Config::default();
        config.admin.token = Some("s3cret".to_owned().into());
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            headers
        };

        assert_eq!(bearer(&config, &HeaderMap::new()), Bearer::Absent);
        assert_eq!(bearer(&config, &with("Bearer s3cret")), Bearer::Admin);
        assert_eq!(bearer(&config, &with("Bearer wrong")), Bearer::Other);
        assert_eq!(bearer(&config, &with("Basic s3cret")), Bearer::Other);
    }

    fn with_actor(value: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            ACTOR_HEADER,
            axum::http::HeaderValue::from_bytes(value).unwrap(),
        );
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
}

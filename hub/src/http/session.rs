//! Who is calling a membership route (hub.md §6.9, §6.10): the browser session cookie with its
//! CSRF rule, or a PeerSig of a peer, and the request parts every membership handler reads.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, FromRequestParts, OriginalUri, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use serde::de::DeserializeOwned;

use shared::error_code::ErrorCode;

use super::auth::client_ip;
use super::{ApiError, ApiResult};
use crate::membership::Proof;
use crate::presence::now_ms;
use crate::state::AppState;

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "goop_hub_session";

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

/// A renewed session's cookie value, set by a handler and sent back by [`renew_cookie`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Renewed(Arc<Mutex<Option<String>>>);

/// Middleware: when a handler renewed the caller's session (after half its life, §6.9 rule 1),
/// the response re-sends the cookie with the full lifetime, unless it sets a cookie itself.
pub(crate) async fn renew_cookie(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let slot = Renewed::default();
    request.extensions_mut().insert(slot.clone());
    let mut response = next.run(request).await;
    let renewed = slot
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    if let Some(value) = renewed
        && !response.headers().contains_key(header::SET_COOKIE)
    {
        response
            .headers_mut()
            .insert(header::SET_COOKIE, session_set_cookie(&state, &value));
    }
    response
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let socket = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(SocketAddr::from(([0, 0, 0, 0], 0)), |c| c.0);
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
    /// The PeerSig proof of the request, if signed.
    pub(crate) fn proof(&self, state: &AppState, body: &[u8]) -> ApiResult<Option<Proof>> {
        let signed = state.peer_sig.verify_proof(
            &self.headers,
            self.method.as_str(),
            &self.target,
            body,
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
        if let Some(proof) = self.proof(state, body)? {
            return state
                .membership
                .account_of_peer(&proof.peer.peer_id())
                .await?
                .ok_or(ApiError::NotFound(ErrorCode::NotBound));
        }
        if self.session_cookie().is_some() {
            check_csrf(state, &self.method, &self.headers)?;
            if let Some(account) = self.session_account(state).await? {
                return Ok(account);
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
            *slot
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(cookie.to_owned());
        }
        Ok(Some(account))
    }
}

/// Reads a body limited by the router, as JSON of `T` (415 without `application/json`).
pub(crate) fn json_body<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> ApiResult<T> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(ApiError::UnsupportedMediaType);
    }
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest {
        code: ErrorCode::InvalidJson,
        field: None,
        message: format!("invalid JSON body: {}", shorten(&e.to_string())),
    })
}

/// The body bytes, or the error its rejection deserves.
pub(crate) fn body_bytes(body: Result<Bytes, BytesRejection>) -> ApiResult<Bytes> {
    body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        _ => ApiError::BadRequest {
            code: ErrorCode::InvalidJson,
            field: Some("body"),
            message: "the body could not be read".to_owned(),
        },
    })
}

fn shorten(text: &str) -> String {
    text.chars().take(120).collect()
}

/// The value of the session cookie in a `Cookie` header.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim())
}

/// The origin (`scheme://host[:port]`) of a URL, lower-cased.
pub(crate) fn origin_of(url: &str) -> String {
    let normalized = shared::voucher::normalize_hub_url(url);
    match normalized.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split('/').next().unwrap_or("");
            format!("{scheme}://{host}")
        }
        None => normalized,
    }
}

/// hub.md §6.9 rule 2: an unsafe method authenticated by the cookie must come from this hub's
/// origin (`Origin`, else `Referer`); otherwise 403 `csrf`.
pub(crate) fn check_csrf(state: &AppState, method: &Method, headers: &HeaderMap) -> ApiResult<()> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let expected = origin_of(state.membership.external_url());
    let header_value = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let ok = match (header_value(header::ORIGIN), header_value(header::REFERER)) {
        (Some(origin), _) => origin_of(origin) == expected,
        (None, Some(referer)) => origin_of(referer) == expected,
        (None, None) => false,
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::Forbidden(ErrorCode::Csrf))
    }
}

/// `Set-Cookie` for a new session (hub.md §6.9 rule 1).
pub(crate) fn session_set_cookie(state: &AppState, value: &str) -> HeaderValue {
    let max_age = state
        .config
        .membership
        .session_ttl_days
        .saturating_mul(86_400);
    cookie_header(state, value, max_age)
}

/// `Set-Cookie` that removes the session cookie.
pub(crate) fn session_clear_cookie(state: &AppState) -> HeaderValue {
    cookie_header(state, "", 0)
}

fn cookie_header(state: &AppState, value: &str, max_age: u64) -> HeaderValue {
    let secure = if state.membership.external_url().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={value}; HttpOnly; Path=/; SameSite=Lax; Max-Age={max_age}{secure}"
    );
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; goop_hub_session=abc ; b=2"),
        );

        assert_eq!(session_cookie(&headers), Some("abc"));
        assert_eq!(session_cookie(&HeaderMap::new()), None);
    }

    #[test]
    fn origin_drops_path_and_default_port() {
        assert_eq!(
            origin_of("HTTPS://Hub.example.org:443/a/b"),
            "https://hub.example.org"
        );
        assert_eq!(
            origin_of("http://127.0.0.1:8787/join"),
            "http://127.0.0.1:8787"
        );
    }
}

//! The session cookie (hub.md §6.9): reading it, setting and clearing it, re-sending it after a
//! renewal ([`renew_cookie`]), and the CSRF origin rule for requests it authenticates.

use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use shared::error_code::ErrorCode;

use super::{ApiError, ApiResult};
use crate::state::AppState;

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "goop_hub_session";

/// A renewed session's cookie value, set by a handler and sent back by [`renew_cookie`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Renewed(Arc<Mutex<Option<String>>>);

impl Renewed {
    /// Reports that the session of cookie `value` was renewed.
    pub(crate) fn report(&self, value: &str) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(value.to_owned());
    }
}

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

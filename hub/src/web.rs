//! The hub's web pages (hub.md §10): server-rendered HTML that works without JavaScript — plain
//! forms post to handlers that call the membership service directly — and the admin page, whose
//! small script talks to the admin API (§9) with a token kept in `sessionStorage`.
//!
//! Handlers answer an `html::Page`: a title and the content of `<main>`. [`finish_pages`], a layer
//! around the whole router, wraps it in the one layout, gives the HTML fallbacks (unknown route,
//! wrong method) the same look and status, and adds the security headers of §10 to every page and
//! asset.

mod account;
mod admin;
mod assets;
mod forms;
mod html;
mod join;
mod landing;
mod verify;
mod words;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

/// `Content-Security-Policy` of every page (hub.md §10): no inline script or style anywhere.
const CSP: &str = "default-src 'self'; img-src 'self' https: data:; object-src 'none'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// The page routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .merge(landing::router())
        .merge(join::router())
        .merge(verify::router())
        .merge(account::router())
        .merge(admin::router())
        .merge(assets::router())
}

/// Renders [`Page`]s in the layout, restyles the fallbacks' HTML error pages and sets the security
/// headers on HTML, CSS and JavaScript responses.
pub(crate) async fn finish_pages(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let fragment = response.extensions_mut().remove::<html::Fragment>();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let status = response.status();
    let document = match fragment {
        Some(fragment) => Some(html::document(&state.config.hub, &fragment)),
        // A fallback's bare page (unknown route, wrong method): the same status in our layout.
        None if content_type.starts_with("text/html") && is_error(status) => Some(html::document(
            &state.config.hub,
            &html::Fragment::for_status(status),
        )),
        None => None,
    };
    let styled = document.is_some()
        || ["text/html", "text/css", "text/javascript"]
            .iter()
            .any(|t| content_type.starts_with(t));
    if let Some(document) = document {
        let (mut parts, _) = response.into_parts();
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        parts
            .headers
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
        response = Response::from_parts(parts, Body::from(document));
    }
    if styled {
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
    }
    response
}

fn is_error(status: StatusCode) -> bool {
    status.is_client_error() || status.is_server_error()
}

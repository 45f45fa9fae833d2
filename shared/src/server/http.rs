//! The HTTP frame every server shares: serving with graceful shutdown, the Prometheus endpoint,
//! request metrics, the cross-cutting layers and limits, and JSON or HTML error bodies.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::guard::{
    GeneralBudget, charge_general, client_ip_of, limit_body_time, limit_in_flight, socket_addr,
};
use crate::api::{ErrorBody, ErrorDetail};
use crate::config::HttpConfig;
use crate::rate_limit::RateLimit;

/// `GET /metrics` on its own listener, serving the OpenMetrics text of `registry`.
pub async fn serve_metrics(
    listener: TcpListener,
    registry: Arc<Registry>,
    token: CancellationToken,
) -> std::io::Result<()> {
    let app = axum::Router::new()
        .route("/metrics", get(render_metrics))
        .with_state(registry);
    axum::serve(listener, app)
        .with_graceful_shutdown(token.cancelled_owned())
        .await
}

async fn render_metrics(State(registry): State<Arc<Registry>>) -> Response {
    let mut text = String::new();
    match prometheus_client::encoding::text::encode(&mut text, &registry) {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            )],
            text,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabel {
    version: String,
}

/// Registers `<prefix>_build_info{version}`, always 1.
pub fn register_build_info(registry: &mut Registry, prefix: &str) {
    let build_info = Family::<VersionLabel, prometheus_client::metrics::gauge::Gauge>::default();
    build_info
        .get_or_create(&VersionLabel {
            version: crate::VERSION.to_owned(),
        })
        .set(1);
    registry.register(
        format!("{prefix}_build_info"),
        "Always 1; the label carries the version",
        build_info,
    );
}

/// Labels of the request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

/// Labels of the duration histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// Labels of the refused-connection counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusedLabels {
    reason: &'static str,
}

/// `<prefix>_http_requests_total`, `<prefix>_http_request_duration_seconds` and
/// `<prefix>_http_connections_refused_total`.
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    duration: HistogramFamily,
    refused: Family<RefusedLabels, Counter>,
}

impl HttpMetrics {
    /// Registers the metrics under `prefix` (`hub` or `superhub`).
    pub fn register(registry: &mut Registry, prefix: &str) -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let duration: HistogramFamily = Family::new_with_constructor(|| {
            // 0.005 s × 2ⁿ, 12 buckets (hub.md §15).
            Histogram::new(exponential_buckets(0.005, 2.0, 12))
        });
        registry.register(
            format!("{prefix}_http_requests"),
            "HTTP requests by method, route template and status",
            requests.clone(),
        );
        registry.register(
            format!("{prefix}_http_request_duration_seconds"),
            "HTTP handling time by method and route (streams: time to first byte)",
            duration.clone(),
        );
        let refused = Family::<RefusedLabels, Counter>::default();
        registry.register(
            format!("{prefix}_http_connections_refused"),
            "TCP connections closed at accept by http.max_tcp_connections (total) or \
             http.max_tcp_connections_per_ip (per_ip)",
            refused.clone(),
        );
        // Present from start at 0, so that an alert on it sees zero rather than no data.
        for cap in [
            super::serve::ConnectionCap::Total,
            super::serve::ConnectionCap::PerIp,
        ] {
            refused
                .get_or_create(&RefusedLabels {
                    reason: cap.as_str(),
                })
                .inc_by(0);
        }
        Self {
            requests,
            duration,
            refused,
        }
    }

    /// Counts a connection closed at accept by `cap`.
    pub(crate) fn refused_connection(&self, cap: super::serve::ConnectionCap) {
        self.refused
            .get_or_create(&RefusedLabels {
                reason: cap.as_str(),
            })
            .inc();
    }

    /// Middleware recording every request; use with `axum::middleware::from_fn_with_state`.
    pub async fn track(State(metrics): State<Self>, request: Request, next: Next) -> Response {
        let started = Instant::now();
        let method = request.method().as_str().to_owned();
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
        let response = next.run(request).await;
        let status = response.status().as_u16();
        metrics
            .duration
            .get_or_create(&RouteLabels {
                method: method.clone(),
                route: route.clone(),
            })
            .observe(started.elapsed().as_secs_f64());
        metrics
            .requests
            .get_or_create(&RequestLabels {
                method,
                route,
                status,
            })
            .inc();
        response
    }
}

/// Cross-cutting HTTP limits of hub.md §13 / superhub.md §10.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Default request body limit in bytes.
    pub body_limit: usize,
    /// Non-streaming handler deadline; answered 503 `unavailable` when exceeded.
    pub handler_timeout: Duration,
    /// The `general_ip` bucket, charged before any route.
    pub general_ip: RateLimit,
    /// Path prefixes `general_ip` does not charge (besides `/healthz` and `/readyz`).
    pub general_exempt: &'static [&'static str],
    /// The `[http]` section: requests in flight (`max_connections`), the body deadline and the
    /// client address behind trusted proxies.
    pub http: HttpConfig,
    /// Path prefixes whose errors are JSON; other paths get HTML pages.
    pub json_prefixes: &'static [&'static str],
}

impl HttpLimits {
    /// The body limit both specs set for every body without its own (16 KiB).
    pub const BODY_LIMIT: usize = 16 * 1024;
    /// The deadline both specs set for non-streaming handlers.
    pub const HANDLER_TIMEOUT: Duration = Duration::from_secs(30);

    /// The limits of both specs from the `[http]` section and the `general_ip` bucket, with JSON
    /// errors under `json_prefixes` and no route exempt from `general_ip` but the health checks.
    pub fn new(
        http: &HttpConfig,
        general_ip: RateLimit,
        json_prefixes: &'static [&'static str],
    ) -> Self {
        Self {
            body_limit: Self::BODY_LIMIT,
            handler_timeout: Self::HANDLER_TIMEOUT,
            general_ip,
            general_exempt: &[],
            http: http.clone(),
            json_prefixes,
        }
    }
}

/// Adds the layers every server shares to a complete (stateless) router: request id, tracing,
/// the `general_ip` budget, in-flight cap, metrics, body read deadline, handler timeout and body
/// limit, plus JSON-or-HTML 404 and 405 fallbacks.
pub fn finish_router(
    router: axum::Router,
    limits: &HttpLimits,
    metrics: HttpMetrics,
) -> axum::Router {
    use axum::error_handling::HandleErrorLayer;
    use tower::ServiceBuilder;
    use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
    use tower_http::trace::TraceLayer;

    let prefixes = limits.json_prefixes;
    let in_flight = Arc::new(tokio::sync::Semaphore::new(limits.http.max_connections));
    let budget = Arc::new(GeneralBudget::new(
        limits.general_ip,
        limits.http.clone(),
        limits.general_exempt,
    ));
    router
        .fallback(move |uri: axum::http::Uri| async move {
            error_for(
                prefixes,
                &uri,
                StatusCode::NOT_FOUND,
                "not_found",
                "There is nothing here.",
            )
        })
        .method_not_allowed_fallback(move |uri: axum::http::Uri| async move {
            error_for(
                prefixes,
                &uri,
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "This method is not allowed here.",
            )
        })
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(request_span))
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(axum::middleware::from_fn_with_state(budget, charge_general))
                .layer(axum::middleware::from_fn_with_state(
                    in_flight,
                    limit_in_flight,
                ))
                .layer(axum::middleware::from_fn_with_state(
                    metrics,
                    HttpMetrics::track,
                ))
                .layer(axum::middleware::from_fn_with_state(
                    limits.http.body_read_timeout,
                    limit_body_time,
                ))
                .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
                    json_error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "unavailable",
                        "the request took too long",
                        None,
                    )
                }))
                .timeout(limits.handler_timeout)
                .layer(axum::extract::DefaultBodyLimit::max(limits.body_limit)),
        )
}

fn error_for(
    prefixes: &[&str],
    uri: &axum::http::Uri,
    status: StatusCode,
    code: &str,
    text: &str,
) -> Response {
    let path = uri.path();
    let json = prefixes
        .iter()
        .any(|prefix| path.starts_with(prefix) || path == prefix.trim_end_matches('/'));
    if json {
        json_error(status, code, text, None)
    } else {
        html_error(status, text)
    }
}

fn request_span(request: &Request) -> tracing::Span {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    // The path only: query strings carry secrets (`/verify?token=`, `/events?voucher=`).
    tracing::info_span!("http", method = %request.method(), path = %request.uri().path(), request_id = %id)
}

/// The client address of a request (hub.md §13.2): the connection's peer, or the address a
/// trusted proxy forwarded.
pub fn client_ip(
    http: &crate::config::HttpConfig,
    parts: &axum::http::request::Parts,
) -> std::net::IpAddr {
    client_ip_of(http, socket_addr(&parts.extensions).ip(), &parts.headers)
}

/// A server state that knows its `[http]` section, so [`ClientIp`] can read the trusted proxies.
pub trait HttpState {
    /// The `[http]` section.
    fn http(&self) -> &crate::config::HttpConfig;
}

/// The client address of a request (hub.md §13.2) as an extractor, for any [`HttpState`].
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub std::net::IpAddr);

impl<S: HttpState + Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(client_ip(state.http(), parts)))
    }
}

/// A public JSON document (info documents): `Access-Control-Allow-Origin: *` and
/// `Cache-Control: public, max-age=60` (hub.md §11.1, superhub.md §2).
pub fn public_document<T: serde::Serialize>(document: &T) -> Response {
    (
        [
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::CACHE_CONTROL, "public, max-age=60"),
        ],
        axum::Json(document),
    )
        .into_response()
}

/// A JSON error response with the body of hub.md §0.1.
pub fn json_error(status: StatusCode, code: &str, message: &str, field: Option<&str>) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.to_owned(),
            message: message.chars().take(200).collect(),
            field: field.map(str::to_owned),
        },
    };
    (status, axum::Json(body)).into_response()
}

/// A minimal HTML error page for browser routes.
pub fn html_error(status: StatusCode, title: &str) -> Response {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{status}</title></head><body><main><h1>{}</h1><p>{}</p></main></body></html>",
        status.as_u16(),
        html_escape(title)
    );
    (status, axum::response::Html(page)).into_response()
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(text: &str) -> String {
    esc(text).to_string()
}

/// Text escaped for HTML element content and quoted attribute values; escapes while it is
/// formatted, so `format!("<p>{}</p>", esc(name))` allocates nothing extra.
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(&'a str);

/// Escapes `text` for HTML: `&`, `<`, `>`, `"` and `'`.
pub fn esc(text: &str) -> Escaped<'_> {
    Escaped(text)
}

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escape_neutralises_markup() {
        assert_eq!(
            html_escape("<script>alert('x')&\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;)&amp;&quot;&lt;/script&gt;"
        );
    }
}

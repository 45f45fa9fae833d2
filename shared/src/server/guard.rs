//! The request guards both servers run before any route (hub.md §13, superhub.md §10): the
//! `general_ip` budget (charged before any signature check or database read), the in-flight
//! cap, and the body read deadline. `/healthz` and `/readyz` pass outside the budget and the
//! in-flight pool, so a busy server still answers its health checks.

use std::future::Future as _;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};

use super::{ApiError, json_error};
use crate::config::HttpConfig;
use crate::error_code::ErrorCode;
use crate::rate_limit::{RateLimit, RateLimiter};

/// Routes answered outside every budget and pool.
const HEALTH_PATHS: [&str; 2] = ["/healthz", "/readyz"];

/// Whether `path` is a health check.
fn is_health(path: &str) -> bool {
    HEALTH_PATHS.contains(&path)
}

/// The connection's socket address, as `serve_http` records it (unspecified when the server was
/// not given it).
pub fn socket_addr(extensions: &axum::http::Extensions) -> std::net::SocketAddr {
    extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map_or(std::net::SocketAddr::from(([0, 0, 0, 0], 0)), |c| c.0)
}

/// The client address of a request (hub.md §13.2): the connection's peer, or — when that is a
/// trusted proxy — the address `X-Forwarded-For` names, read across every header line in order.
pub fn client_ip_of(http: &HttpConfig, socket: IpAddr, headers: &HeaderMap) -> IpAddr {
    let lines = headers.get_all("x-forwarded-for");
    if lines.iter().any(|line| line.to_str().is_err()) {
        // Malformed: the socket address decides.
        return socket;
    }
    http.client_ip(socket, lines.iter().filter_map(|line| line.to_str().ok()))
}

/// The `general_ip` bucket of every route but the health checks and `exempt` prefixes.
#[derive(Debug)]
pub(super) struct GeneralBudget {
    limiter: RateLimiter<IpAddr>,
    http: HttpConfig,
    exempt: &'static [&'static str],
}

impl GeneralBudget {
    pub(super) fn new(limit: RateLimit, http: HttpConfig, exempt: &'static [&'static str]) -> Self {
        Self {
            limiter: RateLimiter::new(limit),
            http,
            exempt,
        }
    }
}

/// Charges `general_ip` before the request reaches any route; 429 `rate_limited` when spent.
pub(super) async fn charge_general(
    State(budget): State<Arc<GeneralBudget>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if is_health(path) || budget.exempt.iter().any(|p| path.starts_with(p)) {
        return next.run(request).await;
    }
    let socket = socket_addr(request.extensions()).ip();
    let ip = client_ip_of(&budget.http, socket, request.headers());
    match budget.limiter.check(ip, Instant::now()) {
        Ok(()) => next.run(request).await,
        Err(limited) => ApiError::from(limited).into_response(),
    }
}

/// Holds one of `http.max_connections` permits per request; 503 at once when none is left.
pub(super) async fn limit_in_flight(
    State(permits): State<Arc<tokio::sync::Semaphore>>,
    request: Request,
    next: Next,
) -> Response {
    if is_health(request.uri().path()) {
        return next.run(request).await;
    }
    match permits.try_acquire() {
        Ok(_permit) => next.run(request).await,
        Err(_) => json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "too many concurrent requests",
            None,
        ),
    }
}

/// Ends the request body at `http.body_read_timeout_secs` after the request began; a route still
/// reading it then gets 408 `request_timeout` and the connection is closed.
pub(super) async fn limit_body_time(
    State(timeout): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    // A body already at its end (GETs, empty POSTs) has nothing left to wait for.
    if http_body::Body::is_end_stream(request.body()) {
        return next.run(request).await;
    }
    let expired = Arc::new(AtomicBool::new(false));
    let request = request.map(|body| {
        Body::new(DeadlineBody {
            inner: body,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            expired: Arc::clone(&expired),
        })
    });
    let response = next.run(request).await;
    if !expired.load(Ordering::Acquire) {
        return response;
    }
    let mut response = json_error(
        StatusCode::REQUEST_TIMEOUT,
        ErrorCode::RequestTimeout.as_str(),
        "the request body did not arrive in time",
        None,
    );
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The body is late.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
struct BodyTimedOut;

/// A request body that fails once its deadline passes.
struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<tokio::time::Sleep>>,
    expired: Arc<AtomicBool>,
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            self.expired.store(true, Ordering::Release);
            return Poll::Ready(Some(Err(BodyTimedOut.into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ip_of_reads_every_forwarded_for_line_in_order() {
        let mut http = HttpConfig::on_port(1);
        http.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.append("x-forwarded-for", "198.51.100.1".parse().unwrap());
        headers.append("x-forwarded-for", "203.0.113.5, 10.0.0.2".parse().unwrap());

        let client = client_ip_of(&http, proxy, &headers);
        headers.append("x-forwarded-for", HeaderValue::from_bytes(b"\xff").unwrap());
        let malformed = client_ip_of(&http, proxy, &headers);

        assert_eq!(client, "203.0.113.5".parse::<IpAddr>().unwrap());
        assert_eq!(malformed, proxy);
    }
}

//! The listener's guards (peer.md §11.1), applied to every request including WebSocket
//! upgrades: the Host and Origin checks that defeat DNS rebinding and cross-site requests, the
//! body type and size rules, the in-flight cap, the request timeout, and the slots of long-lived
//! SSE/WS streams ([`Streams`]). No CORS header is ever sent.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt as _};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use super::error::{ApiError, ApiResult};

/// Largest JSON body.
pub(crate) const JSON_BODY_LIMIT: usize = 1024 * 1024;
/// Requests handled at once; more are answered 503 `busy`.
pub(crate) const MAX_IN_FLIGHT: usize = 64;
/// Deadline of a handler (SSE and WebSocket streams excepted).
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// SSE and WebSocket clients at once.
pub(crate) const MAX_STREAMS: usize = 16;

/// The slots of long-lived streams (SSE, WebSocket), shared by every streaming route, and the
/// token that ends them at shutdown. Handlers take it as `Extension<Streams>`.
#[derive(Debug, Clone)]
pub(crate) struct Streams {
    slots: Arc<Semaphore>,
    token: CancellationToken,
}

/// One open stream: holds its slot until dropped; `token` fires at shutdown.
#[derive(Debug)]
pub(crate) struct StreamSlot {
    _permit: OwnedSemaphorePermit,
    /// Cancelled when the listener stops; the stream must end then.
    pub(crate) token: CancellationToken,
}

impl StreamSlot {
    /// `frames` as an SSE response with a keep-alive comment every [`super::events::KEEP_ALIVE`]:
    /// it ends at shutdown, and the slot is released when the client goes away and the stream is
    /// dropped.
    pub(crate) fn sse(self, frames: impl Stream<Item = SseEvent> + Send + 'static) -> Response {
        let frames = frames
            .take_until(self.token.clone().cancelled_owned())
            .map(move |frame| {
                let _held = &self;
                Ok::<_, Infallible>(frame)
            });
        Sse::new(frames)
            .keep_alive(KeepAlive::new().interval(super::events::KEEP_ALIVE))
            .into_response()
    }
}

impl Streams {
    /// Takes a slot for a new stream.
    ///
    /// # Errors
    /// 503 `too_many_streams` when [`MAX_STREAMS`] are open.
    pub(crate) fn open(&self) -> ApiResult<StreamSlot> {
        let permit = self.slots.clone().try_acquire_owned().map_err(|_| {
            ApiError::unavailable(
                "too_many_streams",
                format!("at most {MAX_STREAMS} event streams at once"),
            )
        })?;
        Ok(StreamSlot {
            _permit: permit,
            token: self.token.clone(),
        })
    }
}

/// The `Host` values (and, with `http://`, the `Origin` values) this listener accepts.
#[derive(Debug)]
struct AllowedHosts(Vec<String>);

impl AllowedHosts {
    fn on_port(port: u16) -> Self {
        Self(vec![
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ])
    }

    fn allows(&self, host: &str) -> bool {
        self.0.iter().any(|h| h.eq_ignore_ascii_case(host))
    }
}

/// Wraps the API routes in the guards of a listener bound to `port`; streams end when `token`
/// is cancelled.
pub(crate) fn frame(routes: Router, port: u16, token: CancellationToken) -> Router {
    let streams = Streams {
        slots: Arc::new(Semaphore::new(MAX_STREAMS)),
        token,
    };
    routes
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(middleware::from_fn(limit_time))
        .layer(middleware::from_fn_with_state(
            Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            limit_in_flight,
        ))
        .layer(middleware::from_fn(check_body))
        .layer(axum::Extension(streams))
        .layer(middleware::from_fn_with_state(
            Arc::new(AllowedHosts::on_port(port)),
            check_host_and_origin,
        ))
}

async fn check_host_and_origin(
    State(allowed): State<Arc<AllowedHosts>>,
    request: Request,
    next: Next,
) -> Response {
    match host_and_origin(&allowed, request.headers()) {
        Ok(()) => next.run(request).await,
        Err(error) => {
            tracing::debug!(%error, path = %request.uri().path(), "local API request refused");
            error.into_response()
        }
    }
}

fn host_and_origin(allowed: &AllowedHosts, headers: &HeaderMap) -> ApiResult<()> {
    let text = |name: &str| headers.get(name).map(|v| v.to_str().unwrap_or("\u{0}"));
    if !text("host").is_some_and(|host| allowed.allows(host)) {
        return Err(ApiError::forbidden(
            "forbidden_host",
            "Host must be 127.0.0.1, localhost or [::1] with this port",
        ));
    }
    let forbidden_origin =
        || ApiError::forbidden("forbidden_origin", "cross-origin requests are not allowed");
    if let Some(origin) = text("origin") {
        let host = origin
            .strip_prefix("http://")
            .ok_or_else(forbidden_origin)?;
        if !allowed.allows(host) {
            return Err(forbidden_origin());
        }
    }
    let navigate = text("sec-fetch-mode") == Some("navigate");
    if !navigate && text("sec-fetch-site") == Some("cross-site") {
        return Err(forbidden_origin());
    }
    Ok(())
}

/// Bodies must be JSON (or multipart uploads) and JSON at most [`JSON_BODY_LIMIT`].
async fn check_body(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let has_body = length.is_some_and(|n| n > 0) || headers.contains_key(header::TRANSFER_ENCODING);
    if has_body && request.method() != Method::GET {
        let media = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase());
        match media.as_deref() {
            Some("application/json") => {
                if length.is_some_and(|n| n > JSON_BODY_LIMIT as u64) {
                    return ApiError::PayloadTooLarge.into_response();
                }
            }
            Some("multipart/form-data") => {}
            _ => return ApiError::UnsupportedMediaType.into_response(),
        }
    }
    next.run(request).await
}

async fn limit_in_flight(
    State(slots): State<Arc<Semaphore>>,
    request: Request,
    next: Next,
) -> Response {
    let Ok(_permit) = slots.try_acquire_owned() else {
        return ApiError::unavailable("busy", format!("at most {MAX_IN_FLIGHT} requests at once"))
            .into_response();
    };
    next.run(request).await
}

/// Handlers answer within [`REQUEST_TIMEOUT`]; SSE and WebSocket streams are exempt.
async fn limit_time(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let streaming = headers.contains_key(header::UPGRADE)
        || headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/event-stream"));
    if streaming {
        return next.run(request).await;
    }
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            ApiError::unavailable("timeout", "the request took longer than 30 s").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn loopback_hosts_with_the_port_are_allowed_when_origin_is_absent_or_same() {
        let allowed = AllowedHosts::on_port(7777);
        for host in ["127.0.0.1:7777", "LOCALHOST:7777", "[::1]:7777"] {
            assert!(host_and_origin(&allowed, &headers(&[("host", host)])).is_ok());
        }
        let same = headers(&[
            ("host", "localhost:7777"),
            ("origin", "http://127.0.0.1:7777"),
        ]);
        assert!(host_and_origin(&allowed, &same).is_ok());
    }

    #[test]
    fn foreign_host_port_or_origin_is_refused() {
        let allowed = AllowedHosts::on_port(7777);
        let refused = |pairs: &[(&'static str, &str)]| {
            host_and_origin(&allowed, &headers(pairs))
                .unwrap_err()
                .to_string()
        };
        assert!(refused(&[]).starts_with("forbidden_host"));
        assert!(refused(&[("host", "evil.example")]).starts_with("forbidden_host"));
        assert!(refused(&[("host", "127.0.0.1:7778")]).starts_with("forbidden_host"));
        assert!(refused(&[("host", "127.0.0.1")]).starts_with("forbidden_host"));
        for origin in [
            "http://evil.example",
            "https://127.0.0.1:7777",
            "null",
            "http://127.0.0.1:1",
        ] {
            let error = refused(&[("host", "127.0.0.1:7777"), ("origin", origin)]);
            assert!(error.starts_with("forbidden_origin"), "{origin}: {error}");
        }
        let cross = refused(&[("host", "127.0.0.1:7777"), ("sec-fetch-site", "cross-site")]);
        assert!(cross.starts_with("forbidden_origin"));
        let navigation = headers(&[
            ("host", "127.0.0.1:7777"),
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-mode", "navigate"),
        ]);
        assert!(host_and_origin(&allowed, &navigation).is_ok());
    }

    /// Sends a GET with the right Host; the status code.
    async fn status_of(addr: std::net::SocketAddr, path: &str) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            addr.port()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer[9..12].parse().unwrap()
    }

    #[tokio::test]
    async fn request_beyond_sixty_four_in_flight_is_refused_with_503() {
        let (entered_tx, mut entered_rx) = tokio::sync::mpsc::channel::<()>(MAX_IN_FLIGHT);
        let release = CancellationToken::new();
        let routes = Router::new().route(
            "/slow",
            axum::routing::get({
                let release = release.clone();
                move || async move {
                    let _ = entered_tx.send(()).await;
                    release.cancelled().await;
                    "done"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = frame(routes, addr.port(), CancellationToken::new());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let slow: Vec<_> = (0..MAX_IN_FLIGHT)
            .map(|_| tokio::spawn(status_of(addr, "/slow")))
            .collect();
        for _ in 0..MAX_IN_FLIGHT {
            tokio::time::timeout(Duration::from_secs(10), entered_rx.recv())
                .await
                .expect("every slow request reaches its handler");
        }

        assert_eq!(status_of(addr, "/slow").await, 503);

        release.cancel();
        for request in slow {
            assert_eq!(request.await.unwrap(), 200);
        }
    }

    proptest::proptest! {
        #[test]
        fn only_the_three_loopback_hosts_pass_whatever_the_header_bytes(
            host in proptest::collection::vec(proptest::num::u8::ANY, 0..80),
            origin in proptest::option::of(proptest::collection::vec(proptest::num::u8::ANY, 0..80)),
        ) {
            let allowed = AllowedHosts::on_port(7777);
            let mut map = HeaderMap::new();
            if let Ok(value) = axum::http::HeaderValue::from_bytes(&host) {
                map.insert(header::HOST, value);
            }
            if let Some(Ok(value)) = origin.as_deref().map(axum::http::HeaderValue::from_bytes) {
                map.insert(header::ORIGIN, value);
            }
            if host_and_origin(&allowed, &map).is_ok() {
                let host = String::from_utf8(host).unwrap().to_ascii_lowercase();
                proptest::prop_assert!(
                    ["127.0.0.1:7777", "localhost:7777", "[::1]:7777"].contains(&host.as_str())
                );
                if let Some(origin) = origin {
                    let origin = String::from_utf8(origin).unwrap().to_ascii_lowercase();
                    proptest::prop_assert!(origin.starts_with("http://"));
                }
            }
        }
    }
}

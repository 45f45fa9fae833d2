//! Plumbing every server shares (feature `server`): structured task ownership with graceful
//! shutdown ([`Tasks`]), the Prometheus endpoint, HTTP request metrics, and the JSON error body.

use std::future::Future;
use std::net::SocketAddr;
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
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::api::{ErrorBody, ErrorDetail};

/// Capacity of the task-exit channel; one message per task at most.
const EXIT_CAPACITY: usize = 64;

/// How one owned task ended.
#[derive(Debug)]
pub struct TaskExit {
    /// The task's name.
    pub task: &'static str,
    /// `Err` with a readable reason when it failed.
    pub result: Result<(), String>,
}

/// Every task a server runs: spawned through one tracker, stopped by one token, reporting exits.
#[derive(Debug)]
pub struct Tasks {
    token: CancellationToken,
    tracker: TaskTracker,
    exit_tx: mpsc::Sender<TaskExit>,
    exit_rx: mpsc::Receiver<TaskExit>,
}

impl Default for Tasks {
    fn default() -> Self {
        let (exit_tx, exit_rx) = mpsc::channel(EXIT_CAPACITY);
        Self {
            token: CancellationToken::new(),
            tracker: TaskTracker::new(),
            exit_tx,
            exit_rx,
        }
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        // Tasks never outlive their owner, even when it is dropped without `shutdown`.
        self.token.cancel();
    }
}

impl Tasks {
    /// The root token; tasks select on a child of it.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// The tracker every task runs on. Work that is not a long-running task but must finish
    /// before shutdown completes (a committed change's follow-up that a cancelled request must
    /// not stop halfway) is spawned on a clone of it; [`Tasks::shutdown`] waits for it too.
    pub fn tracker(&self) -> &TaskTracker {
        &self.tracker
    }

    /// Spawns `task` on the tracker. When it ends, its outcome is reported to [`Tasks::join`].
    pub fn spawn<F>(&self, name: &'static str, task: F)
    where
        F: Future<Output = Result<(), String>> + Send + 'static,
    {
        let exit_tx = self.exit_tx.clone();
        self.tracker.spawn(async move {
            let result = task.await;
            if let Err(error) = &result {
                tracing::error!(task = name, %error, "task failed");
            }
            let _ = exit_tx.try_send(TaskExit { task: name, result });
        });
    }

    /// Resolves when the first task exits, with its outcome. Cancel-safe.
    pub async fn join(&mut self) -> TaskExit {
        match self.exit_rx.recv().await {
            Some(exit) => exit,
            None => std::future::pending().await,
        }
    }

    /// Cancels every task and waits for them, at most `timeout`. Returns whether all finished.
    pub async fn shutdown(self, timeout: Duration) -> bool {
        self.token.cancel();
        self.tracker.close();
        tokio::time::timeout(timeout, self.tracker.wait())
            .await
            .is_ok()
    }
}

/// Set once start-up has finished; `/readyz` answers 503 before.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<std::sync::atomic::AtomicBool>);

impl Readiness {
    /// Marks start-up as finished.
    pub fn set(&self) {
        self.0.store(true, std::sync::atomic::Ordering::Release);
    }

    /// Whether start-up has finished.
    pub fn get(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// Serves `app` on `listener` until `token` is cancelled, with `TCP_NODELAY` on every connection:
/// presence frames are small, and Nagle's algorithm would hold one back behind an unacknowledged
/// ping for a delayed-ACK period.
pub async fn serve_http(
    listener: TcpListener,
    app: axum::Router,
    token: CancellationToken,
) -> Result<(), String> {
    use axum::serve::ListenerExt as _;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(token.cancelled_owned())
    .await
    .map_err(|e| format!("http server: {e}"))
}

/// `GET /metrics` on its own listener, serving the OpenMetrics text of `registry`.
pub async fn serve_metrics(
    listener: TcpListener,
    registry: Arc<Registry>,
    token: CancellationToken,
) -> Result<(), String> {
    let app = axum::Router::new()
        .route("/metrics", get(render_metrics))
        .with_state(registry);
    axum::serve(listener, app)
        .with_graceful_shutdown(token.cancelled_owned())
        .await
        .map_err(|e| format!("metrics server: {e}"))
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

/// `<prefix>_http_requests_total` and `<prefix>_http_request_duration_seconds`.
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    duration: HistogramFamily,
}

impl HttpMetrics {
    /// Registers both metrics under `prefix` (`hub` or `superhub`).
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
        Self { requests, duration }
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

/// Cross-cutting HTTP limits of hub.md §13.1 / superhub.md §10.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Concurrent requests; beyond it the server answers 503 at once instead of queueing.
    pub max_in_flight: usize,
    /// Default request body limit in bytes.
    pub body_limit: usize,
    /// Non-streaming handler deadline; answered 503 `unavailable` when exceeded.
    pub handler_timeout: Duration,
    /// Path prefixes whose errors are JSON; other paths get HTML pages.
    pub json_prefixes: &'static [&'static str],
}

/// Adds the layers every server shares to a complete (stateless) router: request id, tracing,
/// in-flight cap, metrics, timeout and body limit, plus JSON-or-HTML 404 and 405 fallbacks.
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
    let in_flight = Arc::new(tokio::sync::Semaphore::new(limits.max_in_flight));
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
                .layer(axum::middleware::from_fn_with_state(
                    in_flight,
                    limit_in_flight,
                ))
                .layer(axum::middleware::from_fn_with_state(
                    metrics,
                    HttpMetrics::track,
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

async fn limit_in_flight(
    State(permits): State<Arc<tokio::sync::Semaphore>>,
    request: Request,
    next: Next,
) -> Response {
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
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Why the data directory or the node key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum OpenIdentityError {
    /// The data directory could not be created.
    #[error("data dir {path}: {source}")]
    DataDir {
        /// The directory.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The key file is unreadable, corrupt, of another type, or cannot be created.
    #[error(transparent)]
    Key(#[from] crate::keyfile::KeyFileError),
}

/// Creates the data directory (0700) and loads or creates the node key, logging a new key's id.
///
/// # Errors
/// [`OpenIdentityError`] naming the directory or key file.
pub fn open_identity(
    data_dir: &std::path::Path,
    key_path: &std::path::Path,
) -> Result<
    (
        libp2p::identity::ed25519::Keypair,
        crate::ids::Ed25519PeerId,
    ),
    OpenIdentityError,
> {
    crate::keyfile::create_private_dir(data_dir).map_err(|source| OpenIdentityError::DataDir {
        path: data_dir.to_owned(),
        source,
    })?;
    let (key, created) = crate::keyfile::load_or_create(key_path)?;
    let id = crate::ids::Ed25519PeerId::from(key.public());
    if created {
        tracing::info!(%id, key_file = %key_path.display(), "created a new key");
    }
    Ok((key, id))
}

/// Why a listener could not be bound; names the config key and address.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// The HTTP listener.
    #[error("http.bind {addr}: {source}")]
    Http {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The metrics listener.
    #[error("metrics.bind {addr}: {source}")]
    Metrics {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The HTTP listener and, when enabled, the metrics listener, bound with their addresses known.
#[derive(Debug)]
pub struct Listeners {
    /// The HTTP listener.
    pub http: TcpListener,
    /// Its bound address.
    pub http_addr: SocketAddr,
    /// The metrics listener, when enabled.
    pub metrics: Option<TcpListener>,
    /// Its bound address.
    pub metrics_addr: Option<SocketAddr>,
}

impl Listeners {
    /// Binds both listeners (port 0 works).
    ///
    /// # Errors
    /// [`BindError`] naming the address.
    pub async fn bind(
        http: &crate::config::HttpConfig,
        metrics: &crate::config::MetricsConfig,
    ) -> Result<Self, BindError> {
        let bind_http = |source| BindError::Http {
            addr: http.bind,
            source,
        };
        let http_listener = TcpListener::bind(http.bind).await.map_err(bind_http)?;
        let http_addr = http_listener.local_addr().map_err(bind_http)?;
        let (metrics_listener, metrics_addr) = if metrics.enabled {
            let bind_metrics = |source| BindError::Metrics {
                addr: metrics.bind,
                source,
            };
            let listener = TcpListener::bind(metrics.bind)
                .await
                .map_err(bind_metrics)?;
            let addr = listener.local_addr().map_err(bind_metrics)?;
            (Some(listener), Some(addr))
        } else {
            (None, None)
        };
        Ok(Self {
            http: http_listener,
            http_addr,
            metrics: metrics_listener,
            metrics_addr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn join_reports_first_failing_task() {
        let mut tasks = Tasks::default();
        let token = tasks.token().clone();
        tasks.spawn("waits", async move {
            token.cancelled().await;
            Ok(())
        });
        tasks.spawn("fails", async { Err("boom".to_owned()) });

        let exit = tasks.join().await;

        assert_eq!(exit.task, "fails");
        assert_eq!(exit.result, Err("boom".to_owned()));
        assert!(tasks.shutdown(Duration::from_secs(5)).await);
    }

    #[tokio::test]
    async fn shutdown_reports_stragglers_when_a_task_ignores_cancellation() {
        let tasks = Tasks::default();
        tasks.spawn("stubborn", async {
            std::future::pending::<()>().await;
            Ok(())
        });

        assert!(!tasks.shutdown(Duration::from_millis(50)).await);
    }

    #[test]
    fn html_escape_neutralises_markup() {
        assert_eq!(
            html_escape("<script>alert('x')&\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;)&amp;&quot;&lt;/script&gt;"
        );
    }
}

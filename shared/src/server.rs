//! Plumbing every server shares (feature `server`): structured task ownership with graceful
//! shutdown ([`Tasks`]), the HTTP frame (serving, `/metrics`, request metrics, layers, error
//! bodies), `/healthz` and `/readyz`, the node identity and the listeners.
//!
//! # Layout
//! - `tasks`: [`Tasks`], [`TaskError`].
//! - `serve`: [`serve_http`] (header limits, TCP connection caps, write stall deadline).
//! - `guard`: the `general_ip` budget, in-flight cap and body deadline [`finish_router`] adds;
//!   [`client_ip_of`].
//! - `http`: [`serve_metrics`], [`HttpMetrics`], [`finish_router`], error bodies.
//! - `health`: [`Readiness`], [`healthz`], [`readyz_response`].

mod api_error;
mod guard;
mod health;
mod http;
mod serve;
mod tasks;

use std::net::SocketAddr;

use tokio::net::TcpListener;

pub use api_error::{ApiError, ApiResult};
pub use guard::{client_ip_of, socket_addr};
pub use health::{Readiness, healthz, readyz_response};
pub use http::{
    ClientIp, Escaped, HttpLimits, HttpMetrics, HttpState, client_ip, esc, finish_router,
    html_error, html_escape, json_error, public_document, register_build_info, serve_metrics,
};
pub use serve::serve_http;
pub use tasks::{BoxError, TaskError, Tasks};

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

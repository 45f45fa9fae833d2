//! The local HTTP API (peer.md §11): a thin layer over [`crate::Node`], bound to loopback only.
//! Each area has its own module returning a `Router<Arc<Node>>`, merged here.

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::node::Node;

mod hubs;

/// Every route of the API listener.
pub(crate) fn router(node: Arc<Node>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(hubs::routes())
        .with_state(node)
}

/// Serves `router` on `listener` until `token` is cancelled.
///
/// # Errors
/// The I/O error that stopped the server.
pub(crate) async fn serve(
    listener: TcpListener,
    node: Arc<Node>,
    token: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(node))
        .with_graceful_shutdown(token.cancelled_owned())
        .await
}

//! The local HTTP API (peer.md §11): a thin layer over [`crate::Node`], bound to loopback only.
//! Each area has its own module returning a `Router<Arc<Node>>`, merged in [`router`]; `guard`
//! wraps them in the listener rules of §11.1 (Host/Origin checks, body rules, limits) and
//! `error` holds [`ApiError`], the `{"error":{"code","message"}}` answer every route uses.

mod chat;
mod error;
mod events;
mod groups;
mod guard;
mod hubs;
mod me;
mod memberships;
mod mq;
mod peers;
mod rooms;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub(crate) use error::{ApiError, ApiJson, ApiResult, parse_peer_id};
pub(crate) use guard::Streams;

use crate::node::Node;

/// Every route of the API listener, with JSON 404/405 answers.
pub(crate) fn router(node: Arc<Node>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(hubs::routes())
        .merge(mq::routes())
        .merge(chat::routes())
        .merge(groups::routes())
        .merge(rooms::routes())
        .merge(events::routes())
        .merge(me::routes())
        .merge(memberships::routes())
        .merge(peers::routes())
        .fallback(|| async { ApiError::not_found("not_found", "there is nothing here") })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(node)
}

/// Serves `router` on `listener`, behind the guards of §11.1, until `token` is cancelled (open
/// event streams end then too).
///
/// # Errors
/// The I/O error that stopped the server.
pub(crate) async fn serve(
    listener: TcpListener,
    node: Arc<Node>,
    token: CancellationToken,
) -> std::io::Result<()> {
    let port = listener.local_addr()?.port();
    let app = guard::frame(router(node), port, token.clone());
    axum::serve(listener, app)
        .with_graceful_shutdown(token.cancelled_owned())
        .await
}

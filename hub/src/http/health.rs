//! `/healthz` (the process serves HTTP) and `/readyz` (start-up done, database and libp2p answer),
//! hub.md §12.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

use crate::state::AppState;

/// How long `/readyz` waits for the libp2p event loop.
const P2P_CHECK_TIMEOUT: Duration = Duration::from_secs(1);

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(shared::server::healthz))
        .route("/readyz", get(readyz))
}

async fn readyz(State(state): State<AppState>) -> Response {
    let (database, p2p) = tokio::join!(state.store.is_reachable(), async {
        tokio::time::timeout(P2P_CHECK_TIMEOUT, state.network.status())
            .await
            .ok()
            .flatten()
            .is_some_and(|status| !status.listen_addrs.is_empty())
    });
    shared::server::readyz_response(state.ready.get(), &[("database", database), ("p2p", p2p)])
}

//! `/healthz` (the process serves HTTP) and `/readyz` (start-up done, database and libp2p answer),
//! hub.md §12.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::state::AppState;

/// How long `/readyz` waits for the libp2p event loop.
const P2P_CHECK_TIMEOUT: Duration = Duration::from_secs(1);

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> &'static str {
    "ok"
}

#[derive(Serialize)]
struct Readiness {
    status: &'static str,
    checks: Checks,
}

#[derive(Serialize)]
struct Checks {
    database: &'static str,
    p2p: &'static str,
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let (database, p2p) = tokio::join!(state.store.is_reachable(), async {
        tokio::time::timeout(P2P_CHECK_TIMEOUT, state.network.status())
            .await
            .ok()
            .flatten()
            .is_some_and(|status| !status.listen_addrs.is_empty())
    });
    let verdict = |ok: bool| if ok { "ok" } else { "fail" };
    let ready = state.ready.get() && database && p2p;
    let body = Readiness {
        status: if ready { "ready" } else { "not_ready" },
        checks: Checks {
            database: verdict(database),
            p2p: verdict(p2p),
        },
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

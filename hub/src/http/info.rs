//! `GET /api/v1/info`: the public description of this hub (hub.md §11.1), and
//! `GET /.well-known/jwks.json`: the key that signs its vouchers (hub.md §2 rule 4).

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;

use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/info", get(get_info))
        .route("/.well-known/jwks.json", get(get_jwks))
}

async fn get_info(State(state): State<AppState>) -> Response {
    shared::server::public_document(state.info.as_ref())
}

async fn get_jwks(State(state): State<AppState>) -> Response {
    let jwks = serde_json::json!({ "keys": [shared::voucher::jwk(&state.hub_id.public_key())] });
    (
        [
            (axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (axum::http::header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        axum::Json(jwks),
    )
        .into_response()
}

//! The hub's JSON API: [`router`] merges the feature routers, named after the same concepts as
//! `membership/` and `store/` (join, verify, sessions, account, bindings, vouchers, admin,
//! presence). The request plumbing the pages share lives in [`extract`], [`cookie`], [`body`] and
//! [`ApiError`]; the application is composed in `routes.rs`.

mod account;
mod admin;
mod billing;
mod bindings;
pub(crate) mod body;
pub(crate) mod cookie;
mod error;
pub(crate) mod extract;
mod health;
mod info;
mod join;
mod presence;
mod record;
mod relay_info;
mod sessions;
mod verify;
mod vouchers;
mod ws;

use axum::Router;

pub(crate) use error::{ApiError, ApiResult};
pub(crate) use info::info_document;

use crate::state::AppState;

/// The JSON routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .merge(info::router())
        .merge(record::router())
        .merge(presence::router())
        .merge(ws::router())
        .merge(relay_info::router())
        .merge(admin::router())
        .merge(join::router())
        .merge(verify::router())
        .merge(sessions::router())
        .merge(account::router())
        .merge(bindings::router())
        .merge(vouchers::router())
        .merge(billing::router())
}

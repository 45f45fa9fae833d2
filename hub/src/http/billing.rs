//! The billing routes (hub.md §8.2): checkout and the portal for members (`checkout`), and the
//! Stripe webhook (`webhook`). Every route answers 404 `billing_disabled` when billing is off.

mod checkout;
mod webhook;

use axum::Router;

use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .merge(checkout::router())
        .merge(webhook::router())
}

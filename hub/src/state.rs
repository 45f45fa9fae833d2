//! Shared state of the HTTP handlers: cheap-to-clone parts only.

use std::sync::Arc;

use axum::extract::FromRef;
use shared::api::HubInfo;

use crate::config::Config;
use crate::p2p::NetworkHandle;
use crate::store::Store;

/// Everything a handler may need; each handler takes only what it uses.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) config: Arc<Config>,
    pub(crate) store: Store,
    pub(crate) network: NetworkHandle,
    pub(crate) info: Arc<HubInfo>,
    pub(crate) ready: shared::server::Readiness,
}

impl FromRef<AppState> for Store {
    fn from_ref(state: &AppState) -> Self {
        state.store.clone()
    }
}

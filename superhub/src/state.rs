//! Shared state of the HTTP handlers: cheap-to-clone parts only.

use std::sync::Arc;

use shared::api::SuperhubInfo;

use crate::config::Config;
use crate::directory::Directory;
use crate::http::extract::IpLimiters;
use crate::metrics::Metrics;
use crate::store::Store;

/// Everything a handler may need.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) config: Arc<Config>,
    pub(crate) store: Store,
    pub(crate) info: Arc<SuperhubInfo>,
    pub(crate) ready: shared::server::Readiness,
    pub(crate) directory: Directory,
    pub(crate) limits: Arc<IpLimiters>,
    pub(crate) metrics: Metrics,
}

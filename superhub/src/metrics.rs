//! The super hub's Prometheus metrics (superhub.md §12), served on `metrics.bind`.

use prometheus_client::registry::Registry;
use shared::server::HttpMetrics;

/// Every metric the super hub exports.
#[derive(Debug, Clone)]
pub(crate) struct Metrics {
    /// `superhub_http_requests_total` and `superhub_http_request_duration_seconds`.
    pub(crate) http: HttpMetrics,
}

impl Metrics {
    /// Registers the super hub's metrics in `registry`.
    pub(crate) fn register(registry: &mut Registry) -> Self {
        shared::server::register_build_info(registry, "superhub");
        Self {
            http: HttpMetrics::register(registry, "superhub"),
        }
    }
}

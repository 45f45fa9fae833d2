//! The hub's Prometheus metrics (hub.md §15). One registry holds these and libp2p's own metrics;
//! it is served on `metrics.bind`.

use prometheus_client::registry::Registry;
use shared::server::HttpMetrics;

/// Every metric the hub exports itself.
#[derive(Debug, Clone)]
pub(crate) struct Metrics {
    /// `hub_http_requests_total` and `hub_http_request_duration_seconds`.
    pub(crate) http: HttpMetrics,
}

impl Metrics {
    /// Registers the hub's metrics in `registry`.
    pub(crate) fn register(registry: &mut Registry) -> Self {
        shared::server::register_build_info(registry, "hub");
        Self {
            http: HttpMetrics::register(registry, "hub"),
        }
    }
}

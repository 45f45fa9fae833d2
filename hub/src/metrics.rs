//! The hub's Prometheus metrics (hub.md §15). One registry holds these and libp2p's own metrics;
//! it is served on `metrics.bind`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use shared::server::HttpMetrics;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabel {
    version: String,
}

/// Every metric the hub exports itself.
#[derive(Debug, Clone)]
pub(crate) struct Metrics {
    /// `hub_http_requests_total` and `hub_http_request_duration_seconds`.
    pub(crate) http: HttpMetrics,
}

impl Metrics {
    /// Registers the hub's metrics in `registry`.
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let build_info = Family::<VersionLabel, Gauge>::default();
        build_info
            .get_or_create(&VersionLabel {
                version: shared::VERSION.to_owned(),
            })
            .set(1);
        registry.register("hub_build_info", "Always 1; the label carries the version", build_info);
        Self {
            http: HttpMetrics::register(registry, "hub"),
        }
    }
}

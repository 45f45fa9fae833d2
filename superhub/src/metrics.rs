//! The super hub's Prometheus metrics (superhub.md §12), served on `metrics.bind`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use shared::server::HttpMetrics;

/// Every metric the super hub exports.
#[derive(Debug, Clone)]
pub(crate) struct Metrics {
    /// `superhub_http_requests_total` and `superhub_http_request_duration_seconds`.
    pub(crate) http: HttpMetrics,
    /// `superhub_search_requests_total` and `superhub_search_duration_seconds`.
    pub(crate) search: SearchMetrics,
}

impl Metrics {
    /// Registers the super hub's metrics in `registry`.
    pub(crate) fn register(registry: &mut Registry) -> Self {
        shared::server::register_build_info(registry, "superhub");
        Self {
            http: HttpMetrics::register(registry, "superhub"),
            search: SearchMetrics::register(registry),
        }
    }
}

/// The `sort` label of search requests.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct SortLabels {
    pub(crate) sort: &'static str,
}

/// Answered searches by effective order, and their handling time (§12).
#[derive(Debug, Clone)]
pub(crate) struct SearchMetrics {
    /// `superhub_search_requests_total{sort}`.
    pub(crate) requests: Family<SortLabels, Counter>,
    /// `superhub_search_duration_seconds`: 1 ms × 2ⁿ, 12 buckets.
    pub(crate) duration: Histogram,
}

impl SearchMetrics {
    fn register(registry: &mut Registry) -> Self {
        let requests = Family::<SortLabels, Counter>::default();
        let duration = Histogram::new(exponential_buckets(0.001, 2.0, 12));
        registry.register(
            "superhub_search_requests",
            "Answered searches by effective sort order",
            requests.clone(),
        );
        registry.register(
            "superhub_search_duration_seconds",
            "Time to answer a search",
            duration.clone(),
        );
        Self { requests, duration }
    }
}

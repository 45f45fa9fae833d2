//! The super hub's Prometheus metrics (superhub.md §12), served on `metrics.bind`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use shared::server::HttpMetrics;

/// Labels of `superhub_probes_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ProbeLabels {
    /// `http` or `p2p`.
    pub(crate) kind: &'static str,
    /// The outcome word (§4.2, §4.3).
    pub(crate) outcome: &'static str,
}

/// Labels of `superhub_probe_duration_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct KindLabel {
    /// `http` or `p2p`.
    pub(crate) kind: &'static str,
}

type DurationFamily = Family<KindLabel, Histogram, fn() -> Histogram>;

/// Every metric the super hub exports.
#[derive(Debug, Clone)]
pub(crate) struct Metrics {
    /// `superhub_http_requests_total` and `superhub_http_request_duration_seconds`.
    pub(crate) http: HttpMetrics,
    /// `superhub_probes_total{kind,outcome}`.
    pub(crate) probes: Family<ProbeLabels, Counter>,
    /// `superhub_probe_duration_seconds{kind}`.
    pub(crate) probe_duration: DurationFamily,
    /// `superhub_probe_due`: probes due but not started.
    pub(crate) probe_due: Gauge,
}

impl Metrics {
    /// Registers the super hub's metrics in `registry`.
    pub(crate) fn register(registry: &mut Registry) -> Self {
        shared::server::register_build_info(registry, "superhub");
        let http = HttpMetrics::register(registry, "superhub");
        let probes = Family::<ProbeLabels, Counter>::default();
        registry.register(
            "superhub_probes",
            "Probes by kind (http, p2p) and outcome",
            probes.clone(),
        );
        let probe_duration: DurationFamily =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.005, 2.0, 12)));
        registry.register(
            "superhub_probe_duration_seconds",
            "Probe duration by kind",
            probe_duration.clone(),
        );
        let probe_due = Gauge::default();
        registry.register(
            "superhub_probe_due",
            "Probes due but not started",
            probe_due.clone(),
        );
        Self {
            http,
            probes,
            probe_duration,
            probe_due,
        }
    }
}

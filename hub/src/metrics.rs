//! The hub's Prometheus metrics (hub.md §15). One registry holds these and libp2p's own metrics;
//! it is served on `metrics.bind`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use shared::server::HttpMetrics;

/// `tier` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct TierLabel {
    pub(crate) tier: &'static str,
}

/// `reason` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ReasonLabel {
    pub(crate) reason: &'static str,
}

/// Every metric the hub exports itself.
#[derive(Debug, Clone)]
pub(crate) struct Metrics {
    /// `hub_http_requests_total` and `hub_http_request_duration_seconds`.
    pub(crate) http: HttpMetrics,
    /// `hub_relay_reservations{tier}`: active reservations.
    pub(crate) relay_reservations: Family<TierLabel, Gauge>,
    /// `hub_relay_circuits`: open circuits.
    pub(crate) relay_circuits: Gauge,
    /// `hub_relay_denied_total{reason}`: refused reservations and circuits.
    pub(crate) relay_denied: Family<ReasonLabel, Counter>,
    /// `hub_relay_revocations_total{reason}`: peers disconnected because an entitlement ended.
    pub(crate) relay_revocations: Family<ReasonLabel, Counter>,
}

impl Metrics {
    /// Registers the hub's metrics in `registry`.
    pub(crate) fn register(registry: &mut Registry) -> Self {
        shared::server::register_build_info(registry, "hub");
        let metrics = Self {
            http: HttpMetrics::register(registry, "hub"),
            relay_reservations: Family::default(),
            relay_circuits: Gauge::default(),
            relay_denied: Family::default(),
            relay_revocations: Family::default(),
        };
        registry.register(
            "hub_relay_reservations",
            "Active relay reservations by tier",
            metrics.relay_reservations.clone(),
        );
        registry.register(
            "hub_relay_circuits",
            "Open relay circuits",
            metrics.relay_circuits.clone(),
        );
        registry.register(
            "hub_relay_denied",
            "Refused relay reservations and circuits by reason",
            metrics.relay_denied.clone(),
        );
        registry.register(
            "hub_relay_revocations",
            "Peers disconnected because their relay entitlement ended",
            metrics.relay_revocations.clone(),
        );
        metrics
    }
}

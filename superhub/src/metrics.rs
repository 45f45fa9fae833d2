//! The super hub's Prometheus metrics (superhub.md §12), served on `metrics.bind`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use shared::server::HttpMetrics;

/// Every metric the super hub exports.
#[derive(Debug, Clone)]
pub(crate) struct Metrics {
    /// `superhub_http_requests_total` and `superhub_http_request_duration_seconds`.
    pub(crate) http: HttpMetrics,
    /// `superhub_federation_*`, `superhub_changes_head`.
    pub(crate) federation: FederationMetrics,
}

impl Metrics {
    /// Registers the super hub's metrics in `registry`.
    pub(crate) fn register(registry: &mut Registry) -> Self {
        shared::server::register_build_info(registry, "superhub");
        Self {
            http: HttpMetrics::register(registry, "superhub"),
            federation: FederationMetrics::register(registry),
        }
    }
}

/// The federation metrics of §12: pulls, items, peer health and the change head.
#[derive(Debug, Clone, Default)]
pub(crate) struct FederationMetrics {
    pulls: Family<PeerOutcome, Counter>,
    items: Family<ItemLabels, Counter>,
    peer_up: Family<PeerLabel, Gauge>,
    last_success: Family<PeerLabel, Gauge>,
    changes_head: Gauge,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PeerOutcome {
    peer: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ItemLabels {
    peer: String,
    kind: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PeerLabel {
    peer: String,
}

impl FederationMetrics {
    /// Registers `superhub_federation_*` and `superhub_changes_head` in `registry`.
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "superhub_federation_pulls",
            "Pulls of a peer's change feed",
            metrics.pulls.clone(),
        );
        registry.register(
            "superhub_federation_items",
            "Items read from peers' feeds",
            metrics.items.clone(),
        );
        registry.register(
            "superhub_federation_peer_up",
            "1 when the last pull of the peer succeeded",
            metrics.peer_up.clone(),
        );
        registry.register(
            "superhub_federation_last_success_timestamp_seconds",
            "When the last pull of the peer succeeded",
            metrics.last_success.clone(),
        );
        registry.register(
            "superhub_changes_head",
            "The current change_seq",
            metrics.changes_head.clone(),
        );
        metrics
    }

    /// Counts a pull of `peer`; `ok` also marks it up at `now_secs`.
    pub(crate) fn pulled(&self, peer: &str, ok: bool, now_secs: i64) {
        let outcome = if ok { "ok" } else { "error" };
        self.pulls
            .get_or_create(&PeerOutcome {
                peer: peer.to_owned(),
                outcome,
            })
            .inc();
        let label = PeerLabel {
            peer: peer.to_owned(),
        };
        self.peer_up.get_or_create(&label).set(i64::from(ok));
        if ok {
            self.last_success.get_or_create(&label).set(now_secs);
        }
    }

    /// Counts an item of `kind` from `peer` with its `outcome`.
    pub(crate) fn item(&self, peer: &str, kind: &'static str, outcome: &'static str) {
        self.items
            .get_or_create(&ItemLabels {
                peer: peer.to_owned(),
                kind,
                outcome,
            })
            .inc();
    }

    /// Sets `superhub_changes_head`.
    pub(crate) fn set_changes_head(&self, head: i64) {
        self.changes_head.set(head);
    }
}

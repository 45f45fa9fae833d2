//! The super hub's Prometheus metrics (superhub.md §12), served on `metrics.bind`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use shared::server::HttpMetrics;

use crate::probe::{HttpOutcome, P2pOutcome};
use crate::store::{HubCounts, HubState, SearchSort};

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
    /// Registration, stored hubs and resolve.
    pub(crate) directory: DirectoryMetrics,
    /// `superhub_probes_total{kind,outcome}`.
    pub(crate) probes: Family<ProbeLabels, Counter>,
    /// `superhub_probe_duration_seconds{kind}`.
    pub(crate) probe_duration: DurationFamily,
    /// `superhub_probe_due`: probes due but not started.
    pub(crate) probe_due: Gauge,
    /// `superhub_federation_*`, `superhub_changes_head`.
    pub(crate) federation: FederationMetrics,
    /// `superhub_search_requests_total` and `superhub_search_duration_seconds`.
    pub(crate) search: SearchMetrics,
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
        let metrics = Self {
            http,
            directory: DirectoryMetrics::register(registry),
            federation: FederationMetrics::register(registry),
            search: SearchMetrics::register(registry),
            probes,
            probe_duration,
            probe_due,
        };
        metrics.prefill();
        metrics
    }

    /// Creates every series with known labels at 0, so that a fresh super hub already serves each
    /// family (dashboards and alerts then show zero, not "no data"). Per-peer federation series
    /// appear with their peer's first pull.
    fn prefill(&self) {
        let kinds = [
            ("http", HttpOutcome::ALL.map(HttpOutcome::as_str).to_vec()),
            ("p2p", P2pOutcome::ALL.map(P2pOutcome::as_str).to_vec()),
        ];
        for (kind, outcomes) in kinds {
            let _ = self.probe_duration.get_or_create(&KindLabel { kind });
            for outcome in outcomes {
                self.probes
                    .get_or_create(&ProbeLabels { kind, outcome })
                    .inc_by(0);
            }
        }
        self.directory.set_hubs(&HubCounts::default());
        for r#type in REGISTRATION_TYPES {
            for outcome in REGISTRATION_OUTCOMES {
                self.directory
                    .registrations
                    .get_or_create(&RegistrationLabels { r#type, outcome })
                    .inc_by(0);
            }
        }
        for outcome in ["found", "not_found"] {
            self.directory
                .resolve
                .get_or_create(&OutcomeLabel { outcome })
                .inc_by(0);
        }
        for sort in SearchSort::ALL {
            self.search
                .requests
                .get_or_create(&SortLabels {
                    sort: sort.as_str(),
                })
                .inc_by(0);
        }
    }
}

/// The `type` words of `superhub_registrations_total`.
const REGISTRATION_TYPES: [&str; 3] = ["hub-record", "hub-tombstone", "other"];

/// The `outcome` words of `superhub_registrations_total` (§12).
const REGISTRATION_OUTCOMES: [&str; 6] = [
    "accepted",
    "unchanged",
    "stale",
    "tombstoned",
    "invalid",
    "rate_limited",
];

/// Labels of `superhub_registrations_total`: `type` is `hub-record`, `hub-tombstone` or `other`,
/// so invented envelope types cannot grow the family.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RegistrationLabels {
    pub(crate) r#type: &'static str,
    pub(crate) outcome: &'static str,
}

/// `state` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct StateLabel {
    pub(crate) state: &'static str,
}

/// `outcome` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct OutcomeLabel {
    pub(crate) outcome: &'static str,
}

/// The directory's metrics: registrations, stored hubs per state and resolves.
#[derive(Debug, Clone, Default)]
pub(crate) struct DirectoryMetrics {
    /// `superhub_registrations_total{type,outcome}`.
    pub(crate) registrations: Family<RegistrationLabels, Counter>,
    /// `superhub_hubs{state}`: stored hubs per state, refreshed by the sweep.
    pub(crate) hubs: Family<StateLabel, Gauge>,
    /// `superhub_hubs_hidden`: hidden hubs, refreshed by the sweep.
    pub(crate) hubs_hidden: Gauge,
    /// `superhub_resolve_total{outcome}`: `found` or `not_found`.
    pub(crate) resolve: Family<OutcomeLabel, Counter>,
}

impl DirectoryMetrics {
    fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "superhub_registrations",
            "POST /api/v1/hubs by envelope type and outcome",
            metrics.registrations.clone(),
        );
        registry.register(
            "superhub_hubs",
            "Stored hubs per state",
            metrics.hubs.clone(),
        );
        registry.register(
            "superhub_hubs_hidden",
            "Hidden hubs",
            metrics.hubs_hidden.clone(),
        );
        registry.register(
            "superhub_resolve",
            "Slug resolves by outcome",
            metrics.resolve.clone(),
        );
        metrics
    }

    /// Counts one registration.
    pub(crate) fn registration(&self, r#type: &'static str, outcome: &'static str) {
        self.registrations
            .get_or_create(&RegistrationLabels { r#type, outcome })
            .inc();
    }

    /// Sets the hub gauges from `counts`, every state included (0 when none).
    pub(crate) fn set_hubs(&self, counts: &HubCounts) {
        for state in HubState::ALL {
            self.hubs
                .get_or_create(&StateLabel {
                    state: state.as_str(),
                })
                .set(counts.in_state(state));
        }
        self.hubs_hidden.set(counts.hidden());
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

    /// Creates the series of a configured `peer` at 0 (pulls, items of every kind and outcome,
    /// up, last success: 0 = none since start), so its families are served before its first pull.
    pub(crate) fn add_peer(&self, peer: &str) {
        for outcome in ["ok", "error"] {
            self.pulls
                .get_or_create(&PeerOutcome {
                    peer: peer.to_owned(),
                    outcome,
                })
                .inc_by(0);
        }
        for kind in ITEM_KINDS {
            for outcome in ITEM_OUTCOMES {
                self.items
                    .get_or_create(&ItemLabels {
                        peer: peer.to_owned(),
                        kind,
                        outcome,
                    })
                    .inc_by(0);
            }
        }
        let label = PeerLabel {
            peer: peer.to_owned(),
        };
        self.peer_up.get_or_create(&label).set(0);
        self.last_success.get_or_create(&label).set(0);
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

/// `kind` labels of `superhub_federation_items_total` (`federation::items::kind_label`).
const ITEM_KINDS: [&str; 5] = [
    "hub-record",
    "hub-tombstone",
    "slug-claim",
    "moderation-note",
    "unknown",
];

/// `outcome` labels of `superhub_federation_items_total` (§12).
const ITEM_OUTCOMES: [&str; 5] = ["stored", "stale", "expired", "invalid", "policy"];

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

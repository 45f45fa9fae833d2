//! The hub's Prometheus metrics (hub.md §15). One registry holds these and libp2p's own metrics;
//! it is served on `metrics.bind`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use shared::server::HttpMetrics;

use crate::billing::Outcome;
use crate::members::{State, Tier};
use crate::membership::TokenPurpose;

/// Every account state, in the order of hub.md §6.3.
pub(crate) const MEMBER_STATES: [State; 6] = [
    State::PendingEmail,
    State::PendingApproval,
    State::Active,
    State::Grace,
    State::Lapsed,
    State::Banned,
];
/// Every tier.
pub(crate) const MEMBER_TIERS: [Tier; 4] = [Tier::Guest, Tier::Member, Tier::Paid, Tier::Comped];
/// Tier labels of `hub_relay_reservations` and `hub_relay_bytes_total`.
pub(crate) const RELAY_TIERS: [&str; 5] = ["none", "guest", "member", "paid", "comped"];
/// `reason` labels of `hub_relay_denied_total`.
const DENIAL_REASONS: [&str; 5] = [
    "not_member",
    "source_not_allowed",
    "limit",
    "no_reservation",
    "other",
];
/// `transport` labels of the presence metrics.
const TRANSPORTS: [&str; 2] = ["ws", "sse"];
/// `class` labels of `hub_presence_subscribers`.
const CLASSES: [&str; 3] = ["admin", "participant", "public"];
/// `type` and `outcome` labels of `hub_presence_messages_total`.
const MESSAGE_TYPES: [&str; 4] = ["online", "update", "offline", "punch"];
const MESSAGE_OUTCOMES: [&str; 3] = ["changed", "unchanged", "rejected"];
/// `kind` labels of `hub_presence_frames_total`.
const FRAME_KINDS: [&str; 4] = ["event", "snapshot", "refresh", "punch"];
/// `outcome` labels of `hub_email_sent_total`.
const EMAIL_OUTCOMES: [&str; 3] = ["sent", "failed", "suppressed"];
/// `outcome` labels of `hub_billing_events_total`.
const BILLING_OUTCOMES: [Outcome; 7] = [
    Outcome::Processed,
    Outcome::Duplicate,
    Outcome::Stale,
    Outcome::Unmatched,
    Outcome::Ignored,
    Outcome::Error,
    Outcome::BadSignature,
];

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

/// `transport` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct TransportLabel {
    pub(crate) transport: &'static str,
}

/// Labels of `hub_presence_subscribers`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct SubscriberLabels {
    pub(crate) transport: &'static str,
    pub(crate) class: &'static str,
}

/// Labels of `hub_presence_messages_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct MessageLabels {
    pub(crate) r#type: &'static str,
    pub(crate) outcome: &'static str,
}

/// Labels of `hub_presence_frames_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct FrameLabels {
    pub(crate) transport: &'static str,
    pub(crate) kind: &'static str,
}

/// Labels of `hub_email_sent_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct EmailLabels {
    pub(crate) purpose: &'static str,
    pub(crate) outcome: &'static str,
}

/// Every metric the hub exports itself.
#[derive(Debug, Clone)]
pub(crate) struct Metrics {
    /// `hub_http_requests_total` and `hub_http_request_duration_seconds`.
    pub(crate) http: HttpMetrics,
    /// `hub_relay_reservations{tier}`: active reservations.
    pub(crate) relay_reservations: Family<TierLabel, Gauge>,
    /// `hub_relay_bytes_total{tier}`: bytes read and written on connections of peers of a tier.
    pub(crate) relay_bytes: Family<TierLabel, Counter>,
    /// `hub_relay_circuits`: open circuits.
    pub(crate) relay_circuits: Gauge,
    /// `hub_relay_denied_total{reason}`: refused reservations and circuits.
    pub(crate) relay_denied: Family<ReasonLabel, Counter>,
    /// `hub_relay_revocations_total{reason}`: peers disconnected because an entitlement ended.
    pub(crate) relay_revocations: Family<ReasonLabel, Counter>,
    /// `hub_email_sent_total{purpose,outcome}`: delivery attempts.
    pub(crate) email_sent: Family<EmailLabels, Counter>,
    /// `hub_email_outbox_pending`: messages waiting to be sent.
    pub(crate) email_pending: Gauge,
    /// `hub_presence_peers`: live peers.
    pub(crate) presence_peers: Gauge,
    /// `hub_presence_subscribers{transport,class}`: open subscriptions.
    pub(crate) presence_subscribers: Family<SubscriberLabels, Gauge>,
    /// `hub_presence_messages_total{type,outcome}`: inbound presence messages.
    pub(crate) presence_messages: Family<MessageLabels, Counter>,
    /// `hub_presence_frames_total{transport,kind}`: outbound frames.
    pub(crate) presence_frames: Family<FrameLabels, Counter>,
    /// `hub_presence_slow_consumers_total{transport}`: subscribers closed for queue overflow or an
    /// SSE write deadline.
    pub(crate) presence_slow_consumers: Family<TransportLabel, Counter>,
    /// `hub_vouchers_issued_total{tier}`.
    pub(crate) vouchers_issued: Family<TierLabel, Counter>,
    /// `hub_members{state,tier}`: accounts.
    pub(crate) members: Family<MemberLabels, Gauge>,
    /// `hub_billing_events_total{type,outcome}` (hub.md §8.5).
    pub(crate) billing_events: Family<BillingEventLabels, Counter>,
    /// `hub_webhook_seconds`: webhook handling time.
    pub(crate) webhook_seconds: Histogram,
}

/// Labels of `hub_billing_events_total`: `type` is one of the handled event types or `other`,
/// so a stream of invented types cannot grow the family.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct BillingEventLabels {
    pub(crate) r#type: &'static str,
    pub(crate) outcome: &'static str,
}

/// Labels of `hub_members`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct MemberLabels {
    pub(crate) state: &'static str,
    pub(crate) tier: &'static str,
}

impl Metrics {
    /// Registers the hub's metrics in `registry`.
    pub(crate) fn register(registry: &mut Registry) -> Self {
        shared::server::register_build_info(registry, "hub");
        let metrics = Self {
            http: HttpMetrics::register(registry, "hub"),
            relay_reservations: Family::default(),
            relay_bytes: Family::default(),
            relay_circuits: Gauge::default(),
            relay_denied: Family::default(),
            relay_revocations: Family::default(),
            email_sent: Family::default(),
            email_pending: Gauge::default(),
            presence_peers: Gauge::default(),
            presence_subscribers: Family::default(),
            presence_messages: Family::default(),
            presence_frames: Family::default(),
            presence_slow_consumers: Family::default(),
            vouchers_issued: Family::default(),
            members: Family::default(),
            billing_events: Family::default(),
            webhook_seconds: Histogram::new(exponential_buckets(0.005, 2.0, 12)),
        };
        registry.register(
            "hub_billing_events",
            "Stripe events by type and outcome (webhook and reconciliation)",
            metrics.billing_events.clone(),
        );
        registry.register(
            "hub_webhook_seconds",
            "Stripe webhook handling time",
            metrics.webhook_seconds.clone(),
        );
        registry.register(
            "hub_vouchers_issued",
            "Membership vouchers issued by tier",
            metrics.vouchers_issued.clone(),
        );
        registry.register(
            "hub_members",
            "Accounts by state and tier",
            metrics.members.clone(),
        );
        registry.register(
            "hub_presence_peers",
            "Live presence peers",
            metrics.presence_peers.clone(),
        );
        registry.register(
            "hub_presence_subscribers",
            "Open presence subscriptions",
            metrics.presence_subscribers.clone(),
        );
        registry.register(
            "hub_presence_messages",
            "Inbound presence messages by type and outcome",
            metrics.presence_messages.clone(),
        );
        registry.register(
            "hub_presence_frames",
            "Outbound presence frames by transport and kind",
            metrics.presence_frames.clone(),
        );
        registry.register(
            "hub_presence_slow_consumers",
            "Presence subscribers closed because their queue overflowed",
            metrics.presence_slow_consumers.clone(),
        );
        registry.register(
            "hub_relay_reservations",
            "Active relay reservations by tier",
            metrics.relay_reservations.clone(),
        );
        registry.register(
            "hub_email_sent",
            "Email delivery attempts by purpose and outcome",
            metrics.email_sent.clone(),
        );
        registry.register(
            "hub_email_outbox_pending",
            "Messages in the outbox waiting to be sent",
            metrics.email_pending.clone(),
        );
        registry.register(
            "hub_relay_bytes",
            "Bytes read and written on libp2p connections by the tier of their peer",
            metrics.relay_bytes.clone(),
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
        metrics.prefill();
        metrics
    }

    /// Creates every series with known labels at 0, so that a fresh hub already serves each
    /// family (dashboards and alerts then show zero, not "no data"). Revocation reasons are open
    /// and appear with their first use.
    fn prefill(&self) {
        for tier in RELAY_TIERS {
            self.relay_reservations
                .get_or_create(&TierLabel { tier })
                .set(0);
            self.relay_bytes
                .get_or_create(&TierLabel { tier })
                .inc_by(0);
        }
        for reason in DENIAL_REASONS {
            self.relay_denied
                .get_or_create(&ReasonLabel { reason })
                .inc_by(0);
        }
        for transport in TRANSPORTS {
            self.presence_slow_consumers
                .get_or_create(&TransportLabel { transport })
                .inc_by(0);
            for class in CLASSES {
                self.presence_subscribers
                    .get_or_create(&SubscriberLabels { transport, class })
                    .set(0);
            }
            for kind in FRAME_KINDS {
                self.presence_frames
                    .get_or_create(&FrameLabels { transport, kind })
                    .inc_by(0);
            }
        }
        for r#type in MESSAGE_TYPES {
            for outcome in MESSAGE_OUTCOMES {
                self.presence_messages
                    .get_or_create(&MessageLabels { r#type, outcome })
                    .inc_by(0);
            }
        }
        for purpose in TokenPurpose::ALL.map(TokenPurpose::as_str) {
            for outcome in EMAIL_OUTCOMES {
                self.email_sent
                    .get_or_create(&EmailLabels { purpose, outcome })
                    .inc_by(0);
            }
        }
        for tier in MEMBER_TIERS {
            self.vouchers_issued
                .get_or_create(&TierLabel { tier: tier.label() })
                .inc_by(0);
        }
        self.zero_members();
        let types = crate::billing::client::EVENT_TYPES.iter().copied();
        for r#type in types.chain(["other"]) {
            for outcome in BILLING_OUTCOMES {
                self.billing_events
                    .get_or_create(&BillingEventLabels {
                        r#type,
                        outcome: outcome.as_str(),
                    })
                    .inc_by(0);
            }
        }
    }

    /// Sets `hub_members{state,tier}` to 0 for every state and tier.
    pub(crate) fn zero_members(&self) {
        for state in MEMBER_STATES {
            for tier in MEMBER_TIERS {
                self.members
                    .get_or_create(&MemberLabels {
                        state: state.label(),
                        tier: tier.label(),
                    })
                    .set(0);
            }
        }
    }
}

//! Billing (hub.md §8): plans sold through Stripe Checkout, the customer portal, and the webhook
//! and reconciliation that turn Stripe's events into subscription rows, each committed with its
//! dedupe row and followed by the membership change path (§6.4–§6.6).
//!
//! - [`client`]: the six outgoing Stripe calls of §8.3.
//! - [`objects`]: the fields read from Stripe's events, subscriptions, sessions and invoices.
//! - [`signature`]: `Stripe-Signature` parsing, verification and signing (§8.4).
//! - `events`: one event in one transaction, with its outcome (§8.5).
//! - `reconcile`: the periodic walk of `GET /v1/events` and the sweep's re-fetch (§8.6, §6.7).
//! - `checkout`: checkout, donations and the portal for an account (§8.2).
//! - `cancel`: a ban's cancellation of the account's subscriptions (§9).

mod cancel;
mod checkout;
pub mod client;
mod error;
mod events;
pub mod objects;
mod reconcile;
mod serial;
pub mod signature;

use std::sync::Arc;

use crate::membership::Membership;
use crate::metrics::Metrics;

pub(crate) use checkout::{LIVE_STATUSES, Ledger};
pub use client::{StripeClient, StripeError};
pub(crate) use error::{Error, Result};

/// What became of one Stripe event (the `outcome` label of `hub_billing_events_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Applied (its effects and dedupe row committed together).
    Processed,
    /// Its dedupe row already existed: nothing done.
    Duplicate,
    /// Older than what the subscription row already reflects: nothing changed.
    Stale,
    /// No account matched: recorded, nothing changed.
    Unmatched,
    /// A type the hub does not handle: recorded.
    Ignored,
    /// Processing failed and rolled back; Stripe retries.
    Error,
    /// The signature did not verify; nothing parsed.
    BadSignature,
}

impl Outcome {
    /// The metric label and `stripe_events.outcome` text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Processed => "processed",
            Self::Duplicate => "duplicate",
            Self::Stale => "stale",
            Self::Unmatched => "unmatched",
            Self::Ignored => "ignored",
            Self::Error => "error",
            Self::BadSignature => "bad_signature",
        }
    }
}

/// Where an event came from (`stripe_events.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Delivered to the webhook.
    Webhook,
    /// Found by reconciliation in `GET /v1/events`.
    Reconcile,
}

impl Source {
    /// The `stripe_events.source` text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Reconcile => "reconcile",
        }
    }
}

/// Billing, present only when `billing.enabled`. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Billing {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: StripeClient,
    membership: Membership,
    metrics: Metrics,
    webhook_secrets: Vec<String>,
    /// Serializes fetch-and-write per subscription (`serial`).
    locks: serial::SubscriptionLocks,
}

impl Billing {
    /// Billing for `membership`'s config, or `None` when `billing.enabled` is false.
    pub(crate) fn new(membership: &Membership, metrics: &Metrics) -> Option<Self> {
        let config = &membership.config().billing;
        if !config.enabled {
            return None;
        }
        let secret = config.secret_key.clone().unwrap_or_default();
        Some(Self {
            inner: Arc::new(Inner {
                client: StripeClient::new(&config.api_base, secret),
                membership: membership.clone(),
                metrics: metrics.clone(),
                webhook_secrets: config.webhook_secrets(),
                locks: serial::SubscriptionLocks::default(),
            }),
        })
    }

    pub(crate) fn client(&self) -> &StripeClient {
        &self.inner.client
    }

    pub(crate) fn membership(&self) -> &Membership {
        &self.inner.membership
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub(crate) fn webhook_secrets(&self) -> &[String] {
        &self.inner.webhook_secrets
    }

    /// Holds off every other event of subscription `id` until the guard drops.
    pub(crate) async fn lock_subscription(&self, id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        self.inner.locks.lock(id).await
    }

    /// Now, on the hub's clock (tests move it).
    pub(crate) fn now_ms(&self) -> i64 {
        self.inner.membership.now_ms()
    }
}

/// The `type` label of an event type: one of the handled types, else `other`.
pub(crate) fn type_label(kind: &str) -> &'static str {
    client::EVENT_TYPES
        .iter()
        .find(|t| **t == kind)
        .copied()
        .unwrap_or("other")
}

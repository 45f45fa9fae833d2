//! One Stripe event in one transaction (hub.md §8.5). Whatever the event needs from Stripe is
//! fetched first; then one write transaction inserts the `stripe_events` dedupe row, decides
//! (rule 2 order independence, rule 3 account lookup) and writes every effect, and only after
//! its commit does the membership change path run. No transaction stays open across a Stripe
//! call: SQLite's write lock would stall the hub.

mod apply;

use serde::Deserialize as _;

use super::objects::{CheckoutSession, Event, Invoice, Subscription};
use super::{Billing, Error, Outcome, Result, Source, type_label};
use crate::metrics::BillingEventLabels;
use crate::store::{self, StoreError, StripeEvent, SubscriptionRecord};

/// The longest event type stored in `stripe_events.type`.
const MAX_TYPE_CHARS: usize = 100;

/// What an event is about, read from `data.object` before any transaction.
#[derive(Debug)]
enum Subject {
    /// `checkout.session.completed`.
    Checkout(CheckoutSession),
    /// `customer.subscription.created` / `.updated` / `.deleted`: the embedded object.
    Subscription(Subscription),
    /// `invoice.paid` / `invoice.payment_failed`.
    Invoice(Invoice),
    /// Any other type: recorded as `ignored`.
    Other,
}

impl Subject {
    fn read(event: &Event) -> Result<Self> {
        let object = &event.data.object;
        let invalid = |e: serde_json::Error| Error::InvalidEvent(format!("{}: {e}", event.kind));
        Ok(match event.kind.as_str() {
            "checkout.session.completed" => {
                Self::Checkout(CheckoutSession::deserialize(object).map_err(invalid)?)
            }
            "customer.subscription.created"
            | "customer.subscription.updated"
            | "customer.subscription.deleted" => {
                Self::Subscription(Subscription::from_value(object).map_err(invalid)?)
            }
            "invoice.paid" | "invoice.payment_failed" => Self::Invoice(Invoice::from_value(object)),
            _ => Self::Other,
        })
    }

    /// The subscription the event is about, if any.
    fn subscription_id(&self) -> Option<&str> {
        match self {
            Self::Checkout(session) => session.subscription.as_deref(),
            Self::Subscription(object) => Some(&object.id),
            Self::Invoice(invoice) => invoice.subscription.as_deref(),
            Self::Other => None,
        }
    }

    /// The subscription that the event's type always re-fetches (rule 2, other types).
    fn always_refetched(&self) -> Option<&str> {
        match self {
            Self::Checkout(session) if session.mode == "subscription" => {
                session.subscription.as_deref()
            }
            Self::Invoice(invoice) => invoice.subscription.as_deref(),
            _ => None,
        }
    }
}

/// Where one transaction left the event.
#[derive(Debug)]
enum Step {
    /// Committed (or a duplicate); the account to enforce, if one changed.
    Done(Outcome, Option<String>),
    /// Rolled back: the current subscription is needed (rule 2, an event as old as the row), or
    /// the row moved since it was fetched, so the fetched object may be older than the row.
    Refetch(String),
}

/// Fetches of one subscription per event at most: each repeat means another event of the
/// same subscription committed in between; past this the event fails and Stripe retries it.
const MAX_FETCHES: usize = 4;

/// A subscription read from Stripe with its stored row as it stood just before the read: the
/// object may be written only while the row is still that (else a newer event committed).
#[derive(Debug)]
pub(super) struct Fetched {
    pub(super) current: Subscription,
    pub(super) seen: Option<SubscriptionRecord>,
}

impl Billing {
    /// Processes one event (hub.md §8.5) and counts its outcome in
    /// `hub_billing_events_total{type,outcome}`; a failure is counted as `error` and nothing of
    /// the event is stored, so a redelivery processes it.
    ///
    /// # Errors
    /// [`Error::InvalidEvent`] for an object of a handled type that cannot be read,
    /// [`Error::Stripe`] when a re-fetch failed, [`Error::Store`] when the database failed.
    pub(crate) async fn process(&self, event: &Event, source: Source) -> Result<Outcome> {
        let result = self.process_event(event, source).await;
        let outcome = result.as_ref().map_or(Outcome::Error, |o| *o);
        self.count(&event.kind, outcome);
        result
    }

    /// Counts one event in `hub_billing_events_total`.
    pub(crate) fn count(&self, kind: &str, outcome: Outcome) {
        self.metrics()
            .billing_events
            .get_or_create(&BillingEventLabels {
                r#type: type_label(kind),
                outcome: outcome.as_str(),
            })
            .inc();
    }

    #[tracing::instrument(skip_all, fields(event = %event.id, kind = %event.kind, source = source.as_str()))]
    async fn process_event(&self, event: &Event, source: Source) -> Result<Outcome> {
        // A redelivery is answered without asking Stripe again; the dedupe row inside the
        // transaction still decides between concurrent deliveries.
        if self
            .membership()
            .store()
            .find_stripe_event(&event.id)
            .await?
            .is_some()
        {
            return Ok(Outcome::Duplicate);
        }
        let subject = Subject::read(event)?;
        // No other event of this subscription commits between a fetch and the write of its
        // result; the row check in the transaction stays as the backstop.
        let _serial = match subject.subscription_id() {
            Some(id) => Some(self.lock_subscription(id).await),
            None => None,
        };
        let mut fetched = match subject.always_refetched() {
            Some(id) => Some(self.fetch(id).await?),
            None => None,
        };
        for _ in 0..MAX_FETCHES {
            match self
                .apply_event(event, source, &subject, fetched.as_ref())
                .await?
            {
                Step::Done(outcome, account) => {
                    if let Some(account) = account {
                        self.enforce(&account).await;
                    }
                    tracing::debug!(outcome = outcome.as_str(), "stripe event");
                    return Ok(outcome);
                }
                Step::Refetch(id) => fetched = Some(self.fetch(&id).await?),
            }
        }
        tracing::warn!(
            "the subscription kept changing while this event re-read it; Stripe retries it"
        );
        Err(StoreError::Conflict.into())
    }

    /// Reads the stored row, then the subscription from Stripe (outside any transaction).
    pub(super) async fn fetch(&self, id: &str) -> Result<Fetched> {
        let seen = self
            .membership()
            .store()
            .find_subscription_record(id)
            .await?;
        let current = self.client().get_subscription(id).await?;
        Ok(Fetched { current, seen })
    }

    /// The event's transaction: dedupe row, decision and effects, then commit.
    async fn apply_event(
        &self,
        event: &Event,
        source: Source,
        subject: &Subject,
        fetched: Option<&Fetched>,
    ) -> Result<Step> {
        let now = self.now_ms();
        let mut tx = self.membership().store().begin_write().await?;
        let row = StripeEvent {
            event_id: event.id.clone(),
            kind: event.kind.chars().take(MAX_TYPE_CHARS).collect(),
            created: event.created_ms(),
            source: source.as_str().to_owned(),
            outcome: Outcome::Processed.as_str().to_owned(),
            received_at: now,
        };
        if !store::insert_stripe_event(&mut tx, &row).await? {
            return Ok(Step::Done(Outcome::Duplicate, None));
        }
        let created = event.created_ms();
        let applied = match subject {
            Subject::Other => apply::Applied::ignored(),
            Subject::Checkout(session) => {
                match self
                    .apply_checkout(&mut tx, session, fetched, created, now)
                    .await?
                {
                    Some(applied) => applied,
                    None => return Ok(Step::Refetch(refetched_id(fetched))),
                }
            }
            Subject::Subscription(embedded) => {
                match self
                    .apply_subscription_event(&mut tx, embedded, fetched, created, now)
                    .await?
                {
                    Some(applied) => applied,
                    None => return Ok(Step::Refetch(embedded.id.clone())),
                }
            }
            // An invoice of no subscription (a one-off payment) changes nothing here.
            Subject::Invoice(_) => match fetched {
                Some(current) => match self.apply_current(&mut tx, current, created, now).await? {
                    Some(applied) => applied,
                    None => return Ok(Step::Refetch(refetched_id(fetched))),
                },
                None => apply::Applied::ignored(),
            },
        };
        if applied.outcome != Outcome::Processed {
            store::update_stripe_event_outcome(&mut tx, &event.id, applied.outcome.as_str())
                .await?;
        }
        if let Some(account) = &applied.changed {
            self.membership()
                .recompute_in(&mut tx, account, now)
                .await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        Ok(Step::Done(applied.outcome, applied.changed))
    }

    /// Writes a subscription fetched outside any event (the sweep's re-fetch, §6.7) in its own
    /// transaction, keeping `last_event_created`, then enforces its account. `Stale` when an
    /// event changed the row since the fetch (the next run looks again).
    ///
    /// # Errors
    /// [`Error::Store`].
    pub(super) async fn apply_refetched(&self, fetched: &Fetched) -> Result<Outcome> {
        let now = self.now_ms();
        let mut tx = self.membership().store().begin_write().await?;
        let Some(applied) = self.apply_current(&mut tx, fetched, 0, now).await? else {
            return Ok(Outcome::Stale);
        };
        if let Some(account) = &applied.changed {
            self.membership()
                .recompute_in(&mut tx, account, now)
                .await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        if let Some(account) = &applied.changed {
            self.enforce(account).await;
        }
        Ok(applied.outcome)
    }

    /// The membership change path after a commit (§6.6); a failure here is repaired by the
    /// sweep's reconciliation of the entitlement table, so it is logged, not returned.
    pub(crate) async fn enforce(&self, account_id: &str) {
        if let Err(error) = self
            .membership()
            .apply_account(account_id, &[], "billing")
            .await
        {
            tracing::warn!(account_id, %error, "billing change committed but not enforced yet");
        }
    }
}

/// The subscription id of an event's fetched object (present whenever a fetch was compared).
fn refetched_id(fetched: Option<&Fetched>) -> String {
    fetched.map(|f| f.current.id.clone()).unwrap_or_default()
}

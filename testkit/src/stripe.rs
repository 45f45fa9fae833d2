//! A Stripe double: a real HTTP server on a loopback port that answers the calls of hub.md §8.3
//! like Stripe (bearer auth, form bodies, idempotency keys, Stripe's error shape), keeps
//! customers, Checkout Sessions, subscriptions and events, and delivers each event to a webhook
//! signed exactly as Stripe signs (hub.md §8.7). Tests steer it: complete a checkout, change a
//! subscription's status, hold events back and flush them reordered or duplicated, slow down or
//! fail the API, and move its clock with the hub's.
//!
//! ```no_run
//! # async fn demo() {
//! let stripe = testkit::StripeMock::start("sk_test_123").await;
//! stripe.add_price("price_monthly", 500, "usd", Some("month"));
//! stripe.set_webhook("http://127.0.0.1:8787/api/v1/billing/stripe-webhook", "whsec_test");
//! // point `billing.api_base` at `stripe.url()`, create a session through the hub, then follow
//! // its `url`: that completes the checkout and delivers three signed events.
//! # }
//! ```
//!
//! # Layout
//! - `api`: the HTTP routes; `checkout`: validating a session's form; `list`: `GET /v1/events`.
//! - `state`: what the double remembers, `subscriptions`: their changes; `objects`: Stripe's JSON
//!   shapes; `error`: Stripe's errors.
//! - `delivery`: the webhook outbox and its worker.
//! - `community`: a hub config selling a yearly plan through it.

mod api;
mod checkout;
mod community;
mod delivery;
mod error;
mod list;
mod objects;
mod state;
mod subscriptions;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use shared::clock::Clock;
use tokio::task::JoinHandle;

pub use community::{StripeAccount, sell_yearly_plan};
pub use delivery::Delivery;
use delivery::{Order, Webhook};
use objects::Price;
use state::{CompleteError, Shared, State};

/// One request the double received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, `DELETE`.
    pub method: String,
    /// E.g. `/v1/checkout/sessions`.
    pub path: String,
    /// Every header, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
    /// The form body's pairs, bracketed keys as sent (`metadata[plan]`).
    pub form: Vec<(String, String)>,
    /// The query's pairs.
    pub query: Vec<(String, String)>,
}

impl RecordedRequest {
    /// The first form value of `key`.
    pub fn param(&self, key: &str) -> Option<&str> {
        checkout::param(&self.form, key)
    }
}

/// The running double; dropping it stops the server and the webhook worker.
#[derive(Debug)]
pub struct StripeMock {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
    worker: JoinHandle<()>,
}

impl Drop for StripeMock {
    fn drop(&mut self) {
        self.server.abort();
        self.worker.abort();
    }
}

impl StripeMock {
    /// Starts the double on 127.0.0.1 on a free port, accepting `secret_key`, on the system clock.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(secret_key: &str) -> Self {
        Self::start_with_clock(secret_key, Clock::system()).await
    }

    /// Starts the double on `clock` (share the hub's so event times and signatures move with it).
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start_with_clock(secret_key: &str, clock: Clock) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Stripe double");
        let addr = listener.local_addr().expect("the Stripe double's address");
        let state = State::new(
            secret_key.to_owned(),
            format!("http://{addr}"),
            clock.clone(),
        );
        let shared = Arc::new(Shared::new(state, clock));
        let app = api::router(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let worker = tokio::spawn(delivery::run(shared.clone()));
        Self {
            addr,
            shared,
            server,
            worker,
        }
    }

    /// The API base, for `billing.api_base` (`http://127.0.0.1:<port>`, no trailing `/`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Delivers every later event to `url`, signed with `secret`. Events emitted before any
    /// webhook was set are listed but never delivered (unless [`Self::redeliver`]ed).
    pub fn set_webhook(&self, url: &str, secret: &str) {
        self.shared.lock().outbox.webhook = Some(Webhook {
            url: url.to_owned(),
            secret: secret.to_owned(),
        });
    }

    /// Registers a price for `line_items[0][price]`: `amount` in minor units, `interval` `day`,
    /// `week`, `month` or `year` for a recurring price, `None` for a one-time price.
    pub fn add_price(&self, price_id: &str, amount: i64, currency: &str, interval: Option<&str>) {
        let price = Price {
            id: price_id.to_owned(),
            unit_amount: amount,
            currency: currency.to_owned(),
            interval: interval.map(str::to_owned),
        };
        self.shared.lock().prices.insert(price_id.to_owned(), price);
    }

    /// Renders later objects in the shape of API versions before 2025-03-31: an invoice's
    /// subscription at its top level, a subscription's `current_period_end` at its top level.
    pub fn set_legacy_shapes(&self, legacy: bool) {
        self.shared.lock().legacy = legacy;
    }

    /// Completes a Checkout Session as a member's browser would by visiting its `url`, and
    /// waits until its events were delivered (or withheld).
    ///
    /// # Panics
    /// When the session does not exist or was completed before.
    pub async fn complete_checkout(&self, session_id: &str) {
        let result = self.shared.lock().complete_session(session_id);
        match result {
            Ok(_) => self.settle().await,
            Err(CompleteError::Unknown) => panic!("no checkout session {session_id}"),
            Err(CompleteError::Completed) => {
                panic!("checkout session {session_id} completed before")
            }
        }
    }

    /// Moves a subscription to `status` (`active`, `past_due`, `unpaid`, `canceled`, …) and
    /// emits what Stripe does: `customer.subscription.updated` (`past_due` also
    /// `invoice.payment_failed`), or `customer.subscription.deleted` for `canceled`. Returns once
    /// the events were delivered (or withheld).
    ///
    /// # Panics
    /// When the subscription does not exist.
    pub async fn set_subscription_status(&self, sub_id: &str, status: &str) {
        let known = self.shared.lock().set_status(sub_id, status);
        assert!(known, "no subscription {sub_id}");
        self.settle().await;
    }

    /// Sets a subscription's `cancel_at_period_end` and emits `customer.subscription.updated`;
    /// returns once delivered (or withheld).
    ///
    /// # Panics
    /// When the subscription does not exist.
    pub async fn set_cancel_at_period_end(&self, sub_id: &str, on: bool) {
        let known = self.shared.lock().set_cancel_at_period_end(sub_id, on);
        assert!(known, "no subscription {sub_id}");
        self.settle().await;
    }

    /// Renews a subscription for one more period (it becomes `active`, the new period starts at
    /// the old end) and emits `customer.subscription.updated` and `invoice.paid`; returns once
    /// delivered (or withheld).
    ///
    /// # Panics
    /// When the subscription does not exist.
    pub async fn renew_subscription(&self, sub_id: &str) {
        let known = self.shared.lock().renew(sub_id);
        assert!(known, "no subscription {sub_id}");
        self.settle().await;
    }

    /// Emits an event of any `kind` about `object` (e.g. a type the hub ignores) and returns its
    /// id once delivered (or withheld).
    pub async fn emit(&self, kind: &str, object: Value) -> String {
        let id = self.shared.lock().emit(kind, object);
        self.settle().await;
        id
    }

    /// Waits until every event emitted so far was delivered, unless withheld.
    pub async fn settle(&self) {
        self.shared.wake.notify_one();
        delivery::settle(&self.shared).await;
    }

    /// Holds every later event back (listed by `/v1/events`, not delivered) until a flush.
    pub fn withhold(&self) {
        self.shared.lock().outbox.withhold = true;
    }

    /// Flushes the withheld events in order and delivers later events at once again.
    pub async fn resume(&self) {
        self.shared.lock().outbox.resume();
        self.settle().await;
    }

    /// Delivers the withheld events in emission order, one after the other.
    pub async fn flush(&self) {
        self.flush_in(Order::Emitted).await;
    }

    /// Delivers the withheld events newest first.
    pub async fn flush_reversed(&self) {
        self.flush_in(Order::Reversed).await;
    }

    /// Delivers the withheld events in an order shuffled by `seed` (the same seed, the same order).
    pub async fn flush_shuffled(&self, seed: u64) {
        self.flush_in(Order::Shuffled(seed)).await;
    }

    /// Delivers the withheld events (and their duplicates, when duplicating) all at once.
    pub async fn flush_concurrently(&self) {
        self.settle().await;
        let held = self.shared.lock().outbox.take_held(Order::Emitted);
        delivery::deliver_concurrently(&self.shared, &held).await;
    }

    async fn flush_in(&self, order: Order) {
        self.settle().await;
        let held = self.shared.lock().outbox.take_held(order);
        for event in &held {
            delivery::deliver_copies(&self.shared, event).await;
        }
    }

    /// Delivers every event twice in a row (Stripe delivers at least once).
    pub fn duplicate(&self, on: bool) {
        self.shared.lock().outbox.duplicate = on;
    }

    /// Waits `delay` before each delivery.
    pub fn delay(&self, delay: Duration) {
        self.shared.lock().outbox.delay = delay;
    }

    /// Delivers the event `event_id` once more, as Stripe's retry would, and returns the attempt.
    ///
    /// # Panics
    /// When the event does not exist or no webhook is set.
    pub async fn redeliver(&self, event_id: &str) -> Delivery {
        let event = self.shared.lock().event(event_id);
        let event = event.unwrap_or_else(|| panic!("no event {event_id}"));
        delivery::deliver(&self.shared, &event)
            .await
            .expect("a webhook is set")
    }

    /// Delays every API call by `latency` (zero to stop).
    pub fn set_api_latency(&self, latency: Duration) {
        self.shared.lock().api_latency = latency;
    }

    /// Answers every API call with `status` in Stripe's error shape (`None` to stop).
    pub fn set_api_failure(&self, status: Option<u16>) {
        self.shared.lock().api_failure = status;
    }

    /// Every event emitted, oldest first, delivered or not.
    pub fn events(&self) -> Vec<Value> {
        self.shared.lock().events.clone()
    }

    /// A subscription object as `GET /v1/subscriptions/{id}` answers it.
    pub fn subscription(&self, id: &str) -> Option<Value> {
        self.shared.lock().subscription(id)
    }

    /// A Checkout Session object.
    pub fn checkout_session(&self, id: &str) -> Option<Value> {
        self.shared.lock().session(id)
    }

    /// Every customer, oldest first.
    pub fn customers(&self) -> Vec<Value> {
        self.shared.lock().customers.clone()
    }

    /// Every request received, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Every delivery attempt, oldest first.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.lock().outbox.deliveries.clone()
    }
}

//! Webhook delivery: every emitted event goes to the configured endpoint as a JSON POST signed
//! with `Stripe-Signature` exactly as Stripe signs (`t` is the attempt's time on the double's
//! clock). Immediate delivery runs on one worker task in emission order; withheld events wait in
//! the outbox until a test flushes them, in order, reordered or all at once.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng as _;
use rand::seq::SliceRandom as _;
use serde_json::Value;

use super::state::Shared;

/// Deliveries remembered at most (the oldest go first).
const MAX_DELIVERIES: usize = 10_000;
/// Events held back or queued at most; beyond it the oldest queued event is dropped undelivered.
const MAX_QUEUED: usize = 10_000;

/// Where events go.
#[derive(Debug, Clone)]
pub(super) struct Webhook {
    pub(super) url: String,
    pub(super) secret: String,
}

/// One delivery attempt of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// `evt_…`.
    pub event_id: String,
    /// The event's `type`.
    pub event_type: String,
    /// The `Stripe-Signature` header sent.
    pub signature: String,
    /// `t` of the signature: the attempt's time in unix seconds.
    pub timestamp: i64,
    /// The endpoint's status, or `None` when the request failed (see `error`).
    pub status: Option<u16>,
    /// Why the request failed, when it did.
    pub error: Option<String>,
}

/// The order in which withheld events are flushed.
#[derive(Debug, Clone, Copy)]
pub(super) enum Order {
    Emitted,
    Reversed,
    Shuffled(u64),
}

/// Events waiting for delivery and the delivery settings.
#[derive(Debug, Default)]
pub(super) struct Outbox {
    pub(super) webhook: Option<Webhook>,
    pub(super) withhold: bool,
    pub(super) duplicate: bool,
    pub(super) delay: Duration,
    /// Withheld events, oldest first.
    held: VecDeque<Value>,
    /// Events for the worker, oldest first.
    pending: VecDeque<Value>,
    /// How many events were ever given to the worker.
    pub(super) queued: u64,
    pub(super) deliveries: Vec<Delivery>,
}

impl Outbox {
    /// Queues an emitted event; without a webhook it is only listed, never delivered.
    pub(super) fn push(&mut self, event: Value) {
        if self.webhook.is_none() {
            return;
        }
        if self.withhold {
            if self.held.len() == MAX_QUEUED {
                self.held.pop_front();
            }
            self.held.push_back(event);
        } else {
            self.enqueue(event);
        }
    }

    /// Gives `event` to the worker.
    pub(super) fn enqueue(&mut self, event: Value) {
        if self.pending.len() == MAX_QUEUED {
            self.pending.pop_front();
            self.queued = self.queued.saturating_sub(1);
        }
        self.pending.push_back(event);
        self.queued += 1;
    }

    /// Stops withholding: the withheld events go to the worker first, in emission order.
    pub(super) fn resume(&mut self) {
        self.withhold = false;
        while let Some(event) = self.held.pop_front() {
            self.enqueue(event);
        }
    }

    /// Takes the withheld events in `order`.
    pub(super) fn take_held(&mut self, order: Order) -> Vec<Value> {
        let mut held: Vec<Value> = self.held.drain(..).collect();
        match order {
            Order::Emitted => {}
            Order::Reversed => held.reverse(),
            Order::Shuffled(seed) => held.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed)),
        }
        held
    }

    fn remember(&mut self, delivery: Delivery) {
        if self.deliveries.len() == MAX_DELIVERIES {
            self.deliveries.remove(0);
        }
        self.deliveries.push(delivery);
    }
}

/// The worker: delivers queued events one after the other, in emission order, until aborted.
pub(super) async fn run(shared: Arc<Shared>) {
    loop {
        let next = shared.lock().outbox.pending.pop_front();
        match next {
            Some(event) => {
                deliver_copies(&shared, &event).await;
                shared.done.send_modify(|n| *n += 1);
            }
            None => shared.wake.notified().await,
        }
    }
}

/// Waits until the worker has delivered every event queued so far.
pub(super) async fn settle(shared: &Shared) {
    let target = shared.lock().outbox.queued;
    let mut done = shared.done.subscribe();
    // The sender lives in `shared`, which outlives this wait, so this cannot fail.
    let _ = done.wait_for(|n| *n >= target).await;
}

/// Delivers `event` once, or twice in a row when duplicating.
pub(super) async fn deliver_copies(shared: &Shared, event: &Value) {
    let twice = shared.lock().outbox.duplicate;
    deliver(shared, event).await;
    if twice {
        deliver(shared, event).await;
    }
}

/// Delivers every event of `events` (and its duplicate) at the same time.
pub(super) async fn deliver_concurrently(shared: &Shared, events: &[Value]) {
    let copies = if shared.lock().outbox.duplicate { 2 } else { 1 };
    let all = events
        .iter()
        .flat_map(|event| std::iter::repeat_n(event, copies))
        .map(|event| deliver(shared, event));
    futures::future::join_all(all).await;
}

/// One signed POST of `event` to the webhook, recorded with the status it got.
pub(super) async fn deliver(shared: &Shared, event: &Value) -> Option<Delivery> {
    let (webhook, delay) = {
        let state = shared.lock();
        (state.outbox.webhook.clone()?, state.outbox.delay)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let body = serde_json::to_vec(event).expect("invariant: a JSON value serializes");
    let timestamp = shared.clock.now_secs();
    let signature = hub::billing::signature::sign(&webhook.secret, timestamp, &body);
    let result = shared
        .http
        .post(&webhook.url)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/json; charset=utf-8",
        )
        .header("Stripe-Signature", &signature)
        .body(body)
        .send()
        .await;
    let delivery = Delivery {
        event_id: event["id"].as_str().unwrap_or_default().to_owned(),
        event_type: event["type"].as_str().unwrap_or_default().to_owned(),
        signature,
        timestamp,
        status: result.as_ref().ok().map(|r| r.status().as_u16()),
        error: result.err().map(|e| e.to_string()),
    };
    shared.lock().outbox.remember(delivery.clone());
    Some(delivery)
}

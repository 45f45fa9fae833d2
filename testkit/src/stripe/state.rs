//! What the double remembers: prices, customers, checkout sessions, subscriptions, events,
//! recorded requests and stored idempotent answers, behind one mutex that is never held across an
//! `.await`. Every change that Stripe announces emits its events here, into the event log and the
//! webhook outbox.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use shared::clock::Clock;
use tokio::sync::{Notify, watch};

use super::RecordedRequest;
use super::checkout::{self, NewSession, param};
use super::delivery::Outbox;
use super::error::StripeFailure;
use super::objects::{self, Price, Subscription, new_id};

/// Objects of each kind (customers, sessions, subscriptions, events) the double keeps at most.
const MAX_OBJECTS: usize = 10_000;
/// Recorded requests and idempotent answers kept at most (the oldest go first).
const MAX_RECORDS: usize = 10_000;

/// The state and the delivery machinery shared by the handle, the server and the worker.
#[derive(Debug)]
pub(super) struct Shared {
    state: Mutex<State>,
    /// Wakes the delivery worker when the outbox has events to deliver.
    pub(super) wake: Notify,
    /// How many outbox events the worker has finished with.
    pub(super) done: watch::Sender<u64>,
    pub(super) http: reqwest::Client,
    pub(super) clock: Clock,
}

impl Shared {
    pub(super) fn new(state: State, clock: Clock) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("Stripe/1.0 (+https://stripe.com/docs/webhooks)")
            .build()
            .expect("invariant: the rustls client builds");
        Self {
            state: Mutex::new(state),
            wake: Notify::new(),
            done: watch::Sender::new(0),
            http,
            clock,
        }
    }

    /// The state; a panic in another holder does not hide it.
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A checkout session: its object and what completing it needs.
#[derive(Debug, Clone)]
struct Session {
    object: Value,
    request: NewSession,
    completed: bool,
}

/// A stored answer to an `Idempotency-Key`.
#[derive(Debug, Clone)]
pub(super) struct StoredAnswer {
    /// Method, path and form of the first request.
    pub(super) fingerprint: String,
    pub(super) status: u16,
    pub(super) body: Value,
}

/// Everything the double knows.
#[derive(Debug)]
pub(super) struct State {
    pub(super) secret_key: String,
    pub(super) base_url: String,
    pub(super) clock: Clock,
    pub(super) legacy: bool,
    pub(super) api_latency: Duration,
    pub(super) api_failure: Option<u16>,
    pub(super) prices: HashMap<String, Price>,
    pub(super) customers: Vec<Value>,
    sessions: HashMap<String, Session>,
    portal_sessions: HashMap<String, Value>,
    pub(super) subscriptions: HashMap<String, Subscription>,
    /// Every event, oldest first.
    pub(super) events: Vec<Value>,
    pub(super) requests: Vec<RecordedRequest>,
    pub(super) idempotency: HashMap<String, StoredAnswer>,
    idempotency_order: Vec<String>,
    pub(super) outbox: Outbox,
}

/// Why a checkout could not be completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CompleteError {
    /// No such session.
    Unknown,
    /// Completed before.
    Completed,
}

impl State {
    pub(super) fn new(secret_key: String, base_url: String, clock: Clock) -> Self {
        Self {
            secret_key,
            base_url,
            clock,
            legacy: false,
            api_latency: Duration::ZERO,
            api_failure: None,
            prices: HashMap::new(),
            customers: Vec::new(),
            sessions: HashMap::new(),
            portal_sessions: HashMap::new(),
            subscriptions: HashMap::new(),
            events: Vec::new(),
            requests: Vec::new(),
            idempotency: HashMap::new(),
            idempotency_order: Vec::new(),
            outbox: Outbox::default(),
        }
    }

    pub(super) fn now(&self) -> i64 {
        self.clock.now_secs()
    }

    /// Keeps `request`, dropping the oldest beyond the bound.
    pub(super) fn record(&mut self, request: RecordedRequest) {
        if self.requests.len() == MAX_RECORDS {
            self.requests.remove(0);
        }
        self.requests.push(request);
    }

    /// Stores the answer to `key`, dropping the oldest beyond the bound.
    pub(super) fn store_answer(&mut self, key: String, answer: StoredAnswer) {
        if self.idempotency_order.len() == MAX_RECORDS {
            let oldest = self.idempotency_order.remove(0);
            self.idempotency.remove(&oldest);
        }
        self.idempotency_order.push(key.clone());
        self.idempotency.insert(key, answer);
    }

    /// Appends an event about `object` to the log and the outbox.
    pub(super) fn emit(&mut self, kind: &str, object: Value) -> String {
        let event = objects::event(kind, object, self.now(), self.legacy);
        if self.events.len() == MAX_OBJECTS {
            self.events.remove(0);
        }
        let id = event["id"].as_str().unwrap_or_default().to_owned();
        self.events.push(event.clone());
        self.outbox.push(event);
        id
    }

    fn full(len: usize, what: &str) -> Result<(), StripeFailure> {
        if len >= MAX_OBJECTS {
            return Err(StripeFailure::invalid(
                what,
                format!("the Stripe double holds at most {MAX_OBJECTS} of these"),
            ));
        }
        Ok(())
    }

    pub(super) fn customer_exists(&self, id: &str) -> bool {
        self.customers.iter().any(|c| c["id"] == id)
    }

    /// `POST /v1/checkout/sessions`.
    pub(super) fn create_session(
        &mut self,
        form: &[(String, String)],
    ) -> Result<Value, StripeFailure> {
        Self::full(self.sessions.len(), "checkout session")?;
        let request = checkout::parse(form, &self.prices, |id| self.customer_exists(id))?;
        let id = new_id("cs");
        let now = self.now();
        let amount = request.price.unit_amount.saturating_mul(request.quantity);
        let object = json!({
            "id": id,
            "object": "checkout.session",
            "created": now,
            "expires_at": now + 86_400,
            "livemode": false,
            "mode": request.mode,
            "status": "open",
            "payment_status": "unpaid",
            "url": format!("{}/checkout/{id}", self.base_url),
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
            "client_reference_id": request.client_reference_id,
            "customer": request.customer,
            "customer_email": request.customer_email,
            "submit_type": request.submit_type,
            "metadata": request.metadata,
            "amount_subtotal": amount,
            "amount_total": amount,
            "currency": request.price.currency,
            "subscription": null,
            "payment_intent": null,
        });
        self.sessions.insert(
            id,
            Session {
                object: object.clone(),
                request,
                completed: false,
            },
        );
        Ok(object)
    }

    /// The member paid: creates the customer (unless the session named one or the email has
    /// one) and for `subscription` mode the subscription, and emits the events. Returns the
    /// success URL with `{CHECKOUT_SESSION_ID}` filled in.
    pub(super) fn complete_session(&mut self, id: &str) -> Result<String, CompleteError> {
        let session = self.sessions.get(id).ok_or(CompleteError::Unknown)?;
        if session.completed {
            return Err(CompleteError::Completed);
        }
        let request = session.request.clone();
        let now = self.now();
        let customer = self.customer_for(&request, now);
        let subscription = (request.mode == "subscription").then(|| Subscription {
            id: new_id("sub"),
            item_id: new_id("si"),
            customer: customer.clone(),
            status: "active".to_owned(),
            cancel_at_period_end: false,
            created: now,
            current_period_start: now,
            current_period_end: now + request.price.period_secs(),
            canceled_at: None,
            price: request.price.clone(),
            quantity: request.quantity,
            metadata: request.subscription_metadata.clone(),
        });
        let session = self.sessions.get_mut(id).ok_or(CompleteError::Unknown)?;
        session.completed = true;
        let object = &mut session.object;
        object["status"] = "complete".into();
        object["payment_status"] = "paid".into();
        object["customer"] = customer.clone().into();
        object["subscription"] = subscription.as_ref().map(|s| s.id.clone()).into();
        object["customer_details"] = json!({"email": request.customer_email});
        if request.mode == "payment" {
            object["payment_intent"] = new_id("pi").into();
        }
        let completed = object.clone();
        self.emit("checkout.session.completed", completed);
        if let Some(sub) = subscription {
            let legacy = self.legacy;
            self.emit("customer.subscription.created", sub.to_json(legacy));
            self.emit("invoice.paid", sub.invoice(true, true, now, legacy));
            self.subscriptions.insert(sub.id.clone(), sub);
        }
        Ok(request.success_url.replace("{CHECKOUT_SESSION_ID}", id))
    }

    fn customer_for(&mut self, request: &NewSession, now: i64) -> String {
        if let Some(id) = &request.customer {
            return id.clone();
        }
        let email = request.customer_email.as_deref();
        if let Some(found) = email.and_then(|e| self.customers.iter().find(|c| c["email"] == e)) {
            return found["id"].as_str().unwrap_or_default().to_owned();
        }
        let customer = objects::customer(email, now);
        let id = customer["id"].as_str().unwrap_or_default().to_owned();
        if self.customers.len() == MAX_OBJECTS {
            self.customers.remove(0);
        }
        self.customers.push(customer);
        id
    }

    /// `POST /v1/billing_portal/sessions`.
    pub(super) fn create_portal_session(
        &mut self,
        form: &[(String, String)],
    ) -> Result<Value, StripeFailure> {
        Self::full(self.portal_sessions.len(), "portal session")?;
        let customer = param(form, "customer")
            .filter(|c| !c.is_empty())
            .ok_or_else(|| StripeFailure::missing("customer"))?;
        if !self.customer_exists(customer) {
            return Err(StripeFailure::no_such(
                400, "customer", customer, "customer",
            ));
        }
        let id = new_id("bps");
        let object = json!({
            "id": id,
            "object": "billing_portal.session",
            "created": self.now(),
            "livemode": false,
            "customer": customer,
            "return_url": param(form, "return_url"),
            "url": format!("{}/portal/{id}", self.base_url),
        });
        self.portal_sessions.insert(id, object.clone());
        Ok(object)
    }

    /// The return URL of a portal session, when it exists.
    pub(super) fn portal_return_url(&self, id: &str) -> Option<Option<String>> {
        self.portal_sessions
            .get(id)
            .map(|s| s["return_url"].as_str().map(str::to_owned))
    }

    /// An event by id.
    pub(super) fn event(&self, id: &str) -> Option<Value> {
        self.events.iter().find(|e| e["id"] == id).cloned()
    }

    pub(super) fn session(&self, id: &str) -> Option<Value> {
        self.sessions.get(id).map(|s| s.object.clone())
    }
}

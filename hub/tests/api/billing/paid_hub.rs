//! A hub of a paid community selling a yearly plan through Stripe, its members, and Stripe's
//! side of the webhook: events in Stripe's shapes, signed as Stripe signs them.

use std::time::Duration;

use hub::billing::{StripeClient, signature};
use reqwest::Response;
use serde_json::{Value, json};
use shared::clock::Clock;
use testkit::{StripeAccount, StripeMock, TestDb, TestHub, TestPeer, json_of};

/// How long a test waits for an effect.
pub(super) const DEADLINE: Duration = Duration::from_secs(15);
/// The Stripe secret key the hub and the double share.
pub(super) const SECRET_KEY: &str = "sk_test_goop_webhook";
/// The webhook signing secret.
pub(super) const WEBHOOK_SECRET: &str = "whsec_goop_current";
/// The price of the yearly plan.
pub(super) const PRICE: &str = "price_goop_yearly";
/// Nothing listens there: for tests in which the hub must not need Stripe.
pub(super) const NO_STRIPE: &str = "http://127.0.0.1:9";
/// The webhook route.
pub(super) const WEBHOOK: &str = "/api/v1/billing/stripe-webhook";

/// Turns billing on against the Stripe API at `api_base`, sells [`PRICE`] as plan `yearly`,
/// makes access paid and joins open (signed joins bind without mail).
pub(super) fn enable_billing(c: &mut hub::Config, api_base: &str) {
    let account = StripeAccount {
        api_base,
        secret_key: SECRET_KEY,
        webhook_secret: WEBHOOK_SECRET,
        price: PRICE,
    };
    testkit::sell_yearly_plan(c, account);
}

/// A paid-community hub on `db` with `adjust` applied after [`enable_billing`].
pub(super) async fn paid_hub(
    db: &TestDb,
    api_base: &str,
    adjust: impl FnOnce(&mut hub::Config),
) -> TestHub {
    let api_base = api_base.to_owned();
    TestHub::spawn_with(db, move |c| {
        enable_billing(c, &api_base);
        adjust(c);
    })
    .await
}

/// A new member (signed open join): the peer and its account id.
pub(super) async fn member(hub: &TestHub) -> (TestPeer, String) {
    let peer = TestPeer::new();
    let (status, body) = json_of(peer.join(hub, &json!({})).await).await;
    assert_eq!(status, 201, "{body}");
    let account = body["account_id"]
        .as_str()
        .expect("an account id")
        .to_owned();
    (peer, account)
}

/// The tier and state `peer`'s account stands at.
pub(super) async fn standing(hub: &TestHub, peer: &TestPeer) -> (String, String) {
    let body = peer.membership(hub).await;
    (
        body["state"].as_str().unwrap_or_default().to_owned(),
        body["tier"].as_str().unwrap_or_default().to_owned(),
    )
}

/// An event as Stripe delivers it.
pub(super) fn event(id: &str, kind: &str, created: i64, object: Value) -> Value {
    json!({"id": id, "object": "event", "type": kind, "created": created,
           "livemode": false, "data": {"object": object}})
}

/// A subscription of the yearly plan for `account` in the current API shape (period end on the
/// item).
pub(super) fn subscription(id: &str, account: &str, status: &str) -> Value {
    json!({"id": id, "object": "subscription", "customer": format!("cus_{id}"), "status": status,
           "cancel_at_period_end": false, "metadata": {"account_id": account, "plan": "yearly"},
           "items": {"data": [{"current_period_end": testkit::now_ms() / 1000 + 86_400 * 365,
                               "price": {"id": PRICE}}]}})
}

/// `POST` of `body` to the webhook with `Stripe-Signature: signature`.
pub(super) async fn post_webhook(hub: &TestHub, body: Vec<u8>, signature: &str) -> Response {
    hub.client
        .post(hub.url(WEBHOOK))
        .header("content-type", "application/json")
        .header("stripe-signature", signature)
        .body(body)
        .send()
        .await
        .expect("the webhook answers")
}

/// Delivers `event` signed now with [`WEBHOOK_SECRET`], as Stripe does.
pub(super) async fn deliver(hub: &TestHub, event: &Value) -> Response {
    let body = event.to_string().into_bytes();
    let header = signature::sign(WEBHOOK_SECRET, testkit::now_ms() / 1000, &body);
    post_webhook(hub, body, &header).await
}

/// `hub_billing_events_total{type,outcome}` as the metrics listener reports it (0 when absent).
pub(super) async fn counted(hub: &TestHub, kind: &str, outcome: &str) -> u64 {
    let prefix = format!("hub_billing_events_total{{type=\"{kind}\",outcome=\"{outcome}\"}} ");
    hub.metrics()
        .await
        .lines()
        .find_map(|line| line.strip_prefix(&prefix).map(str::to_owned))
        .and_then(|n| n.trim().parse::<f64>().ok())
        .map_or(0, |n| n as u64)
}

/// A paid community whose Stripe is the test double: both on one clock, the double delivering
/// to the hub's webhook.
pub(super) struct Community {
    pub(super) hub: TestHub,
    pub(super) stripe: StripeMock,
    pub(super) clock: Clock,
}

/// A [`Community`] on `db` with `adjust` applied after [`enable_billing`].
pub(super) async fn community(db: &TestDb, adjust: impl FnOnce(&mut hub::Config)) -> Community {
    let clock = Clock::system();
    let stripe = StripeMock::start_with_clock(SECRET_KEY, clock.clone()).await;
    stripe.add_price(PRICE, 999, "usd", Some("year"));
    let hub_clock = clock.clone();
    let hub = paid_hub(db, &stripe.url(), move |c| {
        c.clock = hub_clock;
        adjust(c);
    })
    .await;
    stripe.set_webhook(&hub.url(WEBHOOK), WEBHOOK_SECRET);
    Community { hub, stripe, clock }
}

impl Community {
    /// `account` buys the yearly plan: a subscription Checkout Session with the parameters of
    /// hub.md §8.3, completed at the double (its events delivered or withheld). The subscription id.
    pub(super) async fn subscribe(&self, account: &str) -> String {
        let session = self
            .checkout(
                account,
                &[
                    ("mode", "subscription"),
                    ("line_items[0][price]", PRICE),
                    ("subscription_data[metadata][account_id]", account),
                    ("subscription_data[metadata][plan]", "yearly"),
                ],
            )
            .await;
        self.stripe.complete_checkout(&session).await;
        self.stripe.checkout_session(&session).expect("the session")["subscription"]
            .as_str()
            .expect("a subscription")
            .to_owned()
    }

    /// `account` donates `amount` cents: a payment Checkout Session, completed. The session id.
    pub(super) async fn donate(&self, account: &str, amount: i64) -> String {
        let amount = amount.to_string();
        let session = self
            .checkout(
                account,
                &[
                    ("mode", "payment"),
                    ("submit_type", "donate"),
                    ("line_items[0][price_data][currency]", "usd"),
                    ("line_items[0][price_data][unit_amount]", &amount),
                    ("line_items[0][price_data][product_data][name]", "Donation"),
                    ("payment_intent_data[metadata][account_id]", account),
                ],
            )
            .await;
        self.stripe.complete_checkout(&session).await;
        session
    }

    async fn checkout(&self, account: &str, mode: &[(&str, &str)]) -> String {
        let client = StripeClient::new(&self.stripe.url(), SECRET_KEY.to_owned().into());
        let mut form: Vec<(String, String)> = [
            ("line_items[0][quantity]", "1"),
            ("success_url", "http://hub.test/account?checkout=success"),
            ("cancel_url", "http://hub.test/account?checkout=cancel"),
            ("client_reference_id", account),
            ("metadata[account_id]", account),
        ]
        .iter()
        .chain(mode)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        if mode.contains(&("mode", "subscription")) {
            form.push(("metadata[plan]".to_owned(), "yearly".to_owned()));
        }
        client
            .create_checkout_session(&form)
            .await
            .expect("the double creates the session")
            .id
    }
}

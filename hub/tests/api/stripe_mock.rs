//! The Stripe double of the test kit (hub.md §8.7) driven over real HTTP by the hub's own
//! `StripeClient`, with a webhook receiver that checks every signature with the hub's `verify`.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use hub::billing::objects::{CheckoutSession, Invoice, Subscription};
use hub::billing::{StripeClient, signature};
use secrecy::SecretString;
use serde_json::Value;
use shared::clock::Clock;
use testkit::StripeMock;

mod calls;
mod delivery;
mod refusals;

const SECRET_KEY: &str = "sk_test_double";
const WEBHOOK_SECRET: &str = "whsec_double";
const PRICE: &str = "price_monthly";
/// The events of a completed subscription checkout, in order.
const COMPLETED: [&str; 3] = [
    "checkout.session.completed",
    "customer.subscription.created",
    "invoice.paid",
];

/// A webhook endpoint that keeps each event it got and whether its signature verified.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<(Value, bool)>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Receiver {
    async fn start(clock: Clock) -> Self {
        Self::start_gated(clock, None).await
    }

    /// A receiver whose answers each wait until `gate` (a barrier) is full: only deliveries
    /// that are in flight together get through.
    async fn start_gated(clock: Clock, gate: Option<Arc<tokio::sync::Barrier>>) -> Self {
        let got = Arc::new(Mutex::new(Vec::new()));
        let keep = got.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let keep = keep.clone();
                let clock = clock.clone();
                let gate = gate.clone();
                async move {
                    if let Some(gate) = gate {
                        gate.wait().await;
                    }
                    let header = headers
                        .get("stripe-signature")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    let secrets = [WEBHOOK_SECRET.to_owned()];
                    let valid = signature::verify(header, &body, &secrets, clock.now_secs())
                        .is_ok()
                        && headers["content-type"]
                            .to_str()
                            .unwrap()
                            .starts_with("application/json");
                    let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    keep.lock().unwrap().push((event, valid));
                    if valid {
                        StatusCode::OK
                    } else {
                        StatusCode::BAD_REQUEST
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { url, got, server }
    }

    fn types(&self) -> Vec<String> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(e, _)| e["type"].as_str().unwrap().to_owned())
            .collect()
    }

    fn all_valid(&self) -> bool {
        self.got.lock().unwrap().iter().all(|(_, valid)| *valid)
    }

    fn ids(&self) -> Vec<String> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(e, _)| e["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// A double with one monthly price, its client and a receiver on `clock`.
async fn arrange(clock: Clock) -> (StripeMock, StripeClient, Receiver) {
    let stripe = StripeMock::start_with_clock(SECRET_KEY, clock.clone()).await;
    stripe.add_price(PRICE, 500, "usd", Some("month"));
    let receiver = Receiver::start(clock).await;
    stripe.set_webhook(&receiver.url, WEBHOOK_SECRET);
    let client = StripeClient::new(&stripe.url(), SecretString::from(SECRET_KEY));
    (stripe, client, receiver)
}

fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The hub's subscription form (§8.3).
fn subscription_form() -> Vec<(String, String)> {
    form(&[
        ("mode", "subscription"),
        ("line_items[0][price]", PRICE),
        ("line_items[0][quantity]", "1"),
        ("success_url", "http://hub.test/account?checkout=success"),
        ("cancel_url", "http://hub.test/account?checkout=cancel"),
        ("client_reference_id", "acc_1"),
        ("metadata[account_id]", "acc_1"),
        ("metadata[hub_id]", "hub_1"),
        ("metadata[plan]", "monthly"),
        ("subscription_data[metadata][account_id]", "acc_1"),
        ("subscription_data[metadata][plan]", "monthly"),
        ("customer_email", "member@example.org"),
    ])
}

/// A raw call with the right key: status and JSON body.
async fn raw(request: reqwest::RequestBuilder) -> (u16, Value) {
    let answer = request.bearer_auth(SECRET_KEY).send().await.unwrap();
    (
        answer.status().as_u16(),
        answer.json().await.unwrap_or(Value::Null),
    )
}

fn code(body: &Value) -> (&str, &str) {
    (
        body["error"]["type"].as_str().unwrap_or_default(),
        body["error"]["code"].as_str().unwrap_or_default(),
    )
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Creates a subscription checkout through the client and completes it as the browser would;
/// returns the session's id and the subscription's id.
async fn subscribe(stripe: &StripeMock, client: &StripeClient) -> (String, String) {
    let link = client
        .create_checkout_session(&subscription_form())
        .await
        .unwrap();
    let answer = browser().get(&link.url).send().await.unwrap();
    assert_eq!(answer.status(), 303);
    assert_eq!(
        answer.headers()["location"],
        "http://hub.test/account?checkout=success"
    );
    let session = stripe.checkout_session(&link.id).unwrap();
    (
        link.id,
        session["subscription"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn stripe_mock_checkout_completion_delivers_three_signed_events_in_order() {
    let (stripe, client, receiver) = arrange(Clock::system()).await;

    let (session_id, sub_id) = subscribe(&stripe, &client).await;

    assert_eq!(receiver.types(), COMPLETED);
    assert!(receiver.all_valid());
    assert!(stripe.deliveries().iter().all(|d| d.status == Some(200)));
    let got = receiver.got.lock().unwrap().clone();
    let session: CheckoutSession =
        serde_json::from_value(got[0].0["data"]["object"].clone()).unwrap();
    assert_eq!(session.id, session_id);
    assert_eq!(
        (session.mode.as_str(), session.payment_status.as_deref()),
        ("subscription", Some("paid"))
    );
    assert_eq!(
        (session.amount_total, session.currency.as_deref()),
        (Some(500), Some("usd"))
    );
    assert_eq!(session.client_reference_id.as_deref(), Some("acc_1"));
    assert_eq!(session.metadata.unwrap()["plan"], "monthly");
    assert_eq!(session.subscription.as_deref(), Some(sub_id.as_str()));
    let customer = session.customer.unwrap();
    assert_eq!(stripe.customers()[0]["email"], "member@example.org");
    let created = Subscription::from_value(&got[1].0["data"]["object"]).unwrap();
    let invoice = Invoice::from_value(&got[2].0["data"]["object"]);
    assert_eq!(
        got[2].0["data"]["object"]["billing_reason"],
        "subscription_create"
    );
    assert_eq!(
        (created.id.as_str(), created.customer.as_str()),
        (sub_id.as_str(), customer.as_str())
    );
    assert_eq!(
        (invoice.subscription.as_deref(), invoice.customer.as_deref()),
        (Some(sub_id.as_str()), Some(customer.as_str()))
    );
    let fetched = client.get_subscription(&sub_id).await.unwrap();
    assert!(fetched.is_paying());
    assert_eq!(fetched.price_id.as_deref(), Some(PRICE));
    assert_eq!(fetched.metadata["account_id"], "acc_1");
    let period_end = fetched.current_period_end.unwrap();
    assert!(period_end > testkit::now_ms() + 29 * 86_400_000);
}

#[tokio::test]
async fn stripe_mock_lists_events_newest_first_with_paging() {
    let (stripe, client, receiver) = arrange(Clock::system()).await;
    subscribe(&stripe, &client).await;
    let delivered = receiver.ids();

    let all = client.list_events(0, None, None).await.unwrap();
    let page = reqwest::Client::new()
        .get(format!("{}/v1/events?limit=2", stripe.url()))
        .bearer_auth(SECRET_KEY)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let rest = client
        .list_events(0, None, Some(page["data"][1]["id"].as_str().unwrap()))
        .await
        .unwrap();

    let newest_first: Vec<String> = delivered.iter().rev().cloned().collect();
    let ids = |data: &[Value]| {
        data.iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        (ids(&all.data), all.has_more),
        (newest_first.clone(), false)
    );
    assert_eq!(
        (page["object"].as_str(), page["url"].as_str()),
        (Some("list"), Some("/v1/events"))
    );
    assert_eq!(
        (
            ids(page["data"].as_array().unwrap()),
            page["has_more"].as_bool()
        ),
        (newest_first[..2].to_vec(), Some(true))
    );
    assert_eq!(
        (ids(&rest.data), rest.has_more),
        (newest_first[2..].to_vec(), false)
    );
    let later = client
        .list_events(testkit::now_ms() / 1000 + 60, None, None)
        .await
        .unwrap();
    assert!(later.data.is_empty());
}

#[tokio::test]
async fn stripe_mock_withheld_events_are_listed_but_not_delivered_until_flush() {
    let (stripe, client, receiver) = arrange(Clock::system()).await;
    stripe.withhold();

    subscribe(&stripe, &client).await;
    let listed = client.list_events(0, None, None).await.unwrap();
    let before = receiver.types();
    stripe.flush().await;

    assert_eq!((listed.data.len(), before.len()), (3, 0));
    assert_eq!(receiver.types(), COMPLETED);
    assert!(receiver.all_valid());
}

#[tokio::test]
async fn stripe_mock_resume_delivers_the_withheld_events_then_each_new_one_at_once() {
    let (stripe, client, receiver) = arrange(Clock::system()).await;
    let (_, sub_id) = subscribe(&stripe, &client).await;
    stripe.withhold();

    stripe.set_subscription_status(&sub_id, "unpaid").await;
    let held = receiver.types().len();
    stripe.resume().await;
    let resumed = receiver.types().len();
    stripe.set_subscription_status(&sub_id, "active").await;

    assert_eq!((held, resumed, receiver.types().len()), (3, 4, 5));
    assert_eq!(
        receiver.ids(),
        stripe
            .events()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn stripe_mock_complete_checkout_pays_without_a_browser() {
    let (stripe, client, receiver) = arrange(Clock::system()).await;
    let link = client
        .create_checkout_session(&subscription_form())
        .await
        .unwrap();

    stripe.complete_checkout(&link.id).await;

    assert_eq!(receiver.types(), COMPLETED);
    assert_eq!(
        stripe.checkout_session(&link.id).unwrap()["status"],
        "complete"
    );
    let again = browser().get(&link.url).send().await.unwrap();
    assert_eq!(again.status(), 409);
}

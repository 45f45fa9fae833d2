//! Checkout, donations and the portal (hub.md §8.1–§8.3, §11.1, §13.2): billing off answers 404
//! `billing_disabled`; plan and amount rules; the membership codes; the `billing_account` bucket;
//! the CSRF rule for the cookie; Stripe unreachable → 502 with nothing stored; plans in the info
//! document without their Stripe prices. The pages are in [`pages`]; what needs the Stripe double
//! (the exact forms, Stripe failing, the page forms' redirects, the ban) in [`stripe`].

mod pages;
mod stripe;

use std::time::Instant;

use hub::config::{Plan, PlanInterval, PlanKind};
use hub::members::{Access, State, Tier};
use hub::store::{self, Account, Binding, Session, Store};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use sha2::Digest as _;
use testkit::{TestDb, TestHub, TestPeer, code_of, each_backend, json_of};

each_backend!(
    billing_routes_return_404_billing_disabled_when_billing_is_off,
    checkout_returns_400_when_plan_is_unknown_or_amount_is_invalid,
    checkout_returns_409_when_a_subscription_is_live,
    checkout_refuses_malformed_oversized_and_hostile_bodies,
    checkout_returns_403_with_the_membership_code_when_pending_or_banned,
    checkout_returns_429_when_the_account_bucket_is_empty,
    checkout_returns_403_csrf_when_the_cookie_comes_without_origin,
    checkout_returns_502_and_stores_nothing_when_stripe_is_unreachable,
    portal_returns_404_no_customer_when_the_account_never_paid,
);

/// The Stripe secret key of every billing hub in these tests.
pub(super) const SECRET_KEY: &str = "sk_test_checkout_0123456789";
/// The webhook secret.
pub(super) const WEBHOOK_SECRET: &str = "whsec_checkout_0123456789";
/// An address nothing listens on: Stripe unreachable.
const NOWHERE: &str = "http://127.0.0.1:9";

/// The plans: a yearly subscription, a fixed donation with a Stripe price, a fixed donation
/// without one and a custom donation.
pub(super) fn plans() -> Vec<Plan> {
    let plan = |id: &str, kind, name: &str| Plan {
        id: id.to_owned(),
        kind,
        name: name.to_owned(),
        description: String::new(),
        amount: None,
        currency: Some("usd".to_owned()),
        interval: None,
        stripe_price_id: None,
        min_amount: None,
        max_amount: None,
    };
    vec![
        Plan {
            amount: Some(999),
            interval: Some(PlanInterval::Year),
            stripe_price_id: Some("price_yearly".to_owned()),
            description: "A <b>year</b> of relay & presence".to_owned(),
            ..plan("yearly", PlanKind::Subscription, "Member")
        },
        Plan {
            amount: Some(500),
            stripe_price_id: Some("price_coffee".to_owned()),
            ..plan("coffee", PlanKind::Donation, "Coffee")
        },
        Plan {
            amount: Some(300),
            ..plan("cake", PlanKind::Donation, "Cake")
        },
        Plan {
            min_amount: Some(200),
            max_amount: Some(5_000),
            ..plan("tip", PlanKind::Donation, "Tip jar")
        },
    ]
}

/// A paid community with billing on against the Stripe API at `api_base`.
pub(super) async fn billing_hub(db: &TestDb, api_base: &str) -> TestHub {
    let api_base = api_base.to_owned();
    TestHub::spawn_with(db, move |config| {
        config.billing.enabled = true;
        config.billing.api_base = api_base;
        config.billing.secret_key = Some(SECRET_KEY.to_owned().into());
        config.billing.webhook_secret = Some(WEBHOOK_SECRET.to_owned().into());
        config.plans = plans();
        config.membership.access = Access::Paid;
        config.admin.token = Some(crate::admin::TOKEN.to_owned().into());
    })
    .await
}

/// A seeded account with a bound peer and a browser session.
pub(super) struct Member {
    pub(super) id: String,
    pub(super) peer: TestPeer,
    /// `goop_hub_session=<value>`.
    pub(super) cookie: String,
}

/// Seeds an account in `state`/`tier` with `email`, a bound peer and a session; with `customer`,
/// the Stripe customer a completed checkout leaves.
pub(super) async fn member(
    store: &Store,
    email: &str,
    state: State,
    tier: Tier,
    customer: Option<&str>,
) -> Member {
    let now = testkit::now_ms();
    let id = uuid::Uuid::now_v7().to_string();
    let peer = TestPeer::new();
    // A cookie value shaped like the hub's: 43 b64u characters.
    let value = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )[..43]
        .to_owned();
    let mut tx = store.begin_write().await.unwrap();
    let account = Account {
        id: id.clone(),
        email: Some(email.to_owned()),
        email_verified_at: Some(now),
        state,
        tier,
        created_at: now,
    };
    store::insert_account(&mut tx, &account, now).await.unwrap();
    let binding = Binding {
        peer_id: peer.peer_id().to_string(),
        account_id: id.clone(),
        label: Some("laptop".to_owned()),
        bound_via: "join".to_owned(),
        proof_ts: now,
        proof_sig: "sig".to_owned(),
        bound_at: now,
    };
    store::insert_binding(&mut tx, &binding).await.unwrap();
    let session = Session {
        id_hash: hex(&sha2::Sha256::digest(value.as_bytes())),
        account_id: id.clone(),
        created_at: now,
        expires_at: now + 86_400_000,
        last_used_at: now,
        ip: None,
        user_agent: None,
    };
    store::insert_session(&mut tx, &session).await.unwrap();
    if let Some(customer) = customer {
        sqlx::query("update accounts set stripe_customer_id = $1 where id = $2")
            .bind(customer)
            .bind(&id)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    Member {
        id,
        peer,
        cookie: format!("goop_hub_session={value}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Seeds a subscription row of `account_id` in `status`, ending its period at `period_end`.
pub(super) async fn subscription(
    store: &Store,
    account_id: &str,
    id: &str,
    status: &str,
    period_end: i64,
) {
    let now = testkit::now_ms();
    let mut conn = store.acquire().await.unwrap();
    sqlx::query(
        "insert into subscriptions (id, account_id, customer_id, plan_id, price_id, status, \
         current_period_end, last_event_created, created_at, updated_at) \
         values ($1, $2, 'cus_seeded', 'yearly', 'price_yearly', $3, $4, $5, $5, $5)",
    )
    .bind(id)
    .bind(account_id)
    .bind(status)
    .bind(period_end)
    .bind(now)
    .execute(&mut *conn)
    .await
    .unwrap();
}

/// `POST path` with the member's session cookie and the hub's `Origin`.
pub(super) async fn post_with_cookie(
    hub: &TestHub,
    path: &str,
    body: &Value,
    member: &Member,
) -> reqwest::Response {
    hub.client
        .post(hub.url(path))
        .header(header::COOKIE, &member.cookie)
        .header(header::ORIGIN, &hub.base_url)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// `POST /api/v1/billing/checkout` with `body`, signed by `who`'s peer.
pub(super) async fn checkout(hub: &TestHub, who: &Member, body: Value) -> reqwest::Response {
    hub.post_signed("/api/v1/billing/checkout", &body, &who.peer)
        .await
}

/// The account page as `member` sees it at `path`.
pub(super) async fn account_page(hub: &TestHub, member: &Member, path: &str) -> String {
    let response = hub
        .client
        .get(hub.url(path))
        .header(header::COOKIE, &member.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// Asserts an error answer's status and code.
pub(super) async fn assert_refused(response: reqwest::Response, status: StatusCode, code: &str) {
    assert_eq!(code_of(response).await, (status, code.to_owned()));
}

/// Counts rows of `table` (payments, subscriptions) and the accounts with a Stripe customer.
pub(super) async fn stored_billing(store: &Store) -> (i64, i64, i64) {
    let mut conn = store.acquire().await.unwrap();
    let mut counts = [0; 3];
    for (count, sql) in counts.iter_mut().zip([
        "select cast(count(*) as bigint) from payments",
        "select cast(count(*) as bigint) from subscriptions",
        "select cast(count(*) as bigint) from accounts where stripe_customer_id is not null",
    ]) {
        *count = sqlx::query_scalar(sql).fetch_one(&mut *conn).await.unwrap();
    }
    (counts[0], counts[1], counts[2])
}

async fn billing_routes_return_404_billing_disabled_when_billing_is_off(db: TestDb) {
    let hub = TestHub::spawn(&db).await;
    let store = db.hub_store().await;
    let ann = member(&store, "ann@example.org", State::Active, Tier::Member, None).await;

    let checkout = checkout(&hub, &ann, json!({"plan": "free"})).await;
    let portal = post_with_cookie(&hub, "/api/v1/billing/portal", &json!({}), &ann).await;
    let page = hub
        .client
        .post(hub.url("/account/checkout"))
        .header(header::COOKIE, &ann.cookie)
        .header(header::ORIGIN, &hub.base_url)
        .form(&[("plan", "free")])
        .send()
        .await
        .unwrap();
    let (_, capabilities) = json_of(hub.get("/api/capabilities").await).await;

    assert_refused(checkout, StatusCode::NOT_FOUND, "billing_disabled").await;
    assert_refused(portal, StatusCode::NOT_FOUND, "billing_disabled").await;
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("does not take payments")
    );
    assert_eq!(capabilities["billing"], false);
    let account = account_page(&hub, &ann, "/account").await;
    assert!(
        !account.contains("id=\"billing\""),
        "no billing section when billing is off"
    );
}

async fn checkout_returns_400_when_plan_is_unknown_or_amount_is_invalid(db: TestDb) {
    let hub = billing_hub(&db, NOWHERE).await;
    let store = db.hub_store().await;
    let ann = member(&store, "ann@example.org", State::Active, Tier::Guest, None).await;
    let bob = member(&store, "bob@example.org", State::Lapsed, Tier::Guest, None).await;
    // Three cases per account: each stays inside its `billing_account` bucket (5).
    let cases = [
        (&ann, json!({"plan": "nope"}), "unknown_plan", "plan"),
        (&ann, json!({"plan": "free"}), "unknown_plan", "plan"),
        (
            &ann,
            json!({"plan": "tip", "amount": 199}),
            "invalid_amount",
            "amount",
        ),
        (
            &bob,
            json!({"plan": "tip", "amount": 5_001}),
            "invalid_amount",
            "amount",
        ),
        (&bob, json!({"plan": "tip"}), "invalid_amount", "amount"),
        (
            &bob,
            json!({"plan": "yearly", "amount": 999}),
            "invalid_amount",
            "amount",
        ),
    ];

    for (who, body, code, field) in cases {
        let response = hub
            .post_signed("/api/v1/billing/checkout", &body, &who.peer)
            .await;
        let (status, answer) = json_of(response).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(answer["error"]["code"], code, "{body}");
        assert_eq!(answer["error"]["field"], field, "{body}");
    }
}

async fn checkout_refuses_malformed_oversized_and_hostile_bodies(db: TestDb) {
    let hub = billing_hub(&db, NOWHERE).await;
    let store = db.hub_store().await;
    let ann = member(&store, "ann@example.org", State::Active, Tier::Guest, None).await;
    let bob = member(&store, "bob@example.org", State::Active, Tier::Guest, None).await;
    let raw = |who: &Member, body: &str, content_type: &str| {
        hub.client
            .post(hub.url("/api/v1/billing/checkout"))
            .header(header::COOKIE, &who.cookie)
            .header(header::ORIGIN, &hub.base_url)
            .header(header::CONTENT_TYPE, content_type)
            .body(body.to_owned())
            .send()
    };
    let json = "application/json";
    let long_plan = "x".repeat(10_000);

    let not_json = raw(&ann, "{\"plan\":", json).await.unwrap();
    let no_type = raw(&ann, "{\"plan\":\"tip\",\"amount\":500}", "text/plain")
        .await
        .unwrap();
    let unknown_field = raw(&ann, "{\"plan\":\"tip\",\"price\":\"price_x\"}", json)
        .await
        .unwrap();
    let text_amount = raw(&ann, "{\"plan\":\"tip\",\"amount\":\"500\"}", json)
        .await
        .unwrap();
    let huge_amount = raw(&bob, "{\"plan\":\"tip\",\"amount\":1e30}", json)
        .await
        .unwrap();
    let oversized = raw(
        &bob,
        &format!("{{\"plan\":\"{}\"}}", "y".repeat(17 * 1024)),
        json,
    )
    .await
    .unwrap();
    let hostile = checkout(&hub, &bob, json!({"plan": long_plan})).await;

    for response in [not_json, unknown_field, text_amount, huge_amount] {
        assert_refused(response, StatusCode::BAD_REQUEST, "invalid_json").await;
    }
    assert_eq!(no_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(oversized.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let (status, answer) = json_of(hostile).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"]["code"], "unknown_plan");
    assert!(
        answer.to_string().len() < 400,
        "the plan is not echoed whole: {answer}"
    );
}

async fn checkout_returns_409_when_a_subscription_is_live(db: TestDb) {
    let hub = billing_hub(&db, NOWHERE).await;
    let store = db.hub_store().await;
    let ann = member(&store, "ann@example.org", State::Active, Tier::Paid, None).await;
    let bob = member(&store, "bob@example.org", State::Grace, Tier::Paid, None).await;
    let far = testkit::now_ms() + 86_400_000;
    subscription(&store, &ann.id, "sub_ann", "active", far).await;
    subscription(&store, &bob.id, "sub_bob", "past_due", far).await;

    let active = checkout(&hub, &ann, json!({"plan": "yearly"})).await;
    let past_due = post_with_cookie(
        &hub,
        "/api/v1/billing/checkout",
        &json!({"plan": "yearly"}),
        &bob,
    )
    .await;

    assert_refused(active, StatusCode::CONFLICT, "already_subscribed").await;
    assert_refused(past_due, StatusCode::CONFLICT, "already_subscribed").await;
}

async fn checkout_returns_403_with_the_membership_code_when_pending_or_banned(db: TestDb) {
    let hub = billing_hub(&db, NOWHERE).await;
    let store = db.hub_store().await;
    let pending = member(
        &store,
        "pat@example.org",
        State::PendingApproval,
        Tier::Guest,
        None,
    )
    .await;
    let banned = member(&store, "ban@example.org", State::Banned, Tier::Guest, None).await;
    let stranger = TestPeer::new();
    let body = json!({"plan": "yearly"});

    let refused_pending = hub
        .post_signed("/api/v1/billing/checkout", &body, &pending.peer)
        .await;
    let refused_banned = hub
        .post_signed("/api/v1/billing/checkout", &body, &banned.peer)
        .await;
    let unbound = hub
        .post_signed("/api/v1/billing/checkout", &body, &stranger)
        .await;
    let anonymous = hub.post("/api/v1/billing/checkout", &body).await;

    assert_refused(refused_pending, StatusCode::FORBIDDEN, "membership_pending").await;
    assert_refused(refused_banned, StatusCode::FORBIDDEN, "banned").await;
    assert_refused(unbound, StatusCode::NOT_FOUND, "not_bound").await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

async fn checkout_returns_429_when_the_account_bucket_is_empty(db: TestDb) {
    let hub = billing_hub(&db, NOWHERE).await;
    let store = db.hub_store().await;
    let ann = member(&store, "ann@example.org", State::Active, Tier::Guest, None).await;
    let bob = member(&store, "bob@example.org", State::Active, Tier::Guest, None).await;
    let body = json!({"plan": "nope"});

    for _ in 0..5 {
        let allowed = hub
            .post_signed("/api/v1/billing/checkout", &body, &ann.peer)
            .await;
        assert_eq!(allowed.status(), 400);
    }
    let portal = post_with_cookie(&hub, "/api/v1/billing/portal", &json!({}), &ann).await;
    let other = hub
        .post_signed("/api/v1/billing/checkout", &body, &bob.peer)
        .await;

    assert_eq!(portal.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = portal.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(other.status(), 400, "another account has its own bucket");
}

async fn checkout_returns_403_csrf_when_the_cookie_comes_without_origin(db: TestDb) {
    let hub = billing_hub(&db, NOWHERE).await;
    let store = db.hub_store().await;
    let ann = member(&store, "ann@example.org", State::Active, Tier::Guest, None).await;
    let send = |origin: Option<&str>| {
        let mut request = hub
            .client
            .post(hub.url("/api/v1/billing/checkout"))
            .header(header::COOKIE, &ann.cookie)
            .json(&json!({"plan": "nope"}));
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        request.send()
    };

    let missing = send(None).await.unwrap();
    let foreign = send(Some("https://evil.example")).await.unwrap();
    let own = send(Some(&hub.base_url)).await.unwrap();

    assert_refused(missing, StatusCode::FORBIDDEN, "csrf").await;
    assert_refused(foreign, StatusCode::FORBIDDEN, "csrf").await;
    assert_eq!(
        code_of(own).await.1,
        "unknown_plan",
        "the cookie with the hub's Origin passes"
    );
}

async fn checkout_returns_502_and_stores_nothing_when_stripe_is_unreachable(db: TestDb) {
    let hub = billing_hub(&db, NOWHERE).await;
    let store = db.hub_store().await;
    let ann = member(&store, "ann@example.org", State::Lapsed, Tier::Guest, None).await;
    let bob = member(
        &store,
        "bob@example.org",
        State::Active,
        Tier::Guest,
        Some("cus_bob"),
    )
    .await;
    // A cancelled subscription does not block a new one.
    subscription(&store, &ann.id, "sub_old", "canceled", testkit::now_ms()).await;
    let before = stored_billing(&store).await;
    let started = Instant::now();

    let subscribe = checkout(&hub, &ann, json!({"plan": "yearly"})).await;
    let donate = checkout(&hub, &ann, json!({"plan": "tip", "amount": 700})).await;
    let portal = hub
        .post_signed("/api/v1/billing/portal", &json!({}), &bob.peer)
        .await;

    assert!(started.elapsed() < hub::billing::client::TIMEOUT);
    for response in [subscribe, donate, portal] {
        assert_refused(response, StatusCode::BAD_GATEWAY, "upstream_error").await;
    }
    assert_eq!(stored_billing(&store).await, before);
}

async fn portal_returns_404_no_customer_when_the_account_never_paid(db: TestDb) {
    let hub = billing_hub(&db, NOWHERE).await;
    let store = db.hub_store().await;
    let ann = member(&store, "ann@example.org", State::Active, Tier::Guest, None).await;

    let signed = hub
        .post_signed("/api/v1/billing/portal", &json!({}), &ann.peer)
        .await;
    let cookie = post_with_cookie(&hub, "/api/v1/billing/portal", &json!({}), &ann).await;

    assert_refused(signed, StatusCode::NOT_FOUND, "no_customer").await;
    assert_refused(cookie, StatusCode::NOT_FOUND, "no_customer").await;
}

#[tokio::test]
async fn billing_info_lists_plans_without_stripe_prices_and_capabilities_say_billing() {
    let db = TestDb::sqlite();
    let hub = billing_hub(&db, NOWHERE).await;

    let response = hub.get("/api/v1/info").await;
    let text = response.text().await.unwrap();
    let (_, capabilities) = json_of(hub.get("/api/capabilities").await).await;

    assert!(
        !text.contains("price_"),
        "no Stripe price is published: {text}"
    );
    let info: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(info["access"], "paid");
    assert_eq!(
        info["plans"],
        json!([
            {"id": "yearly", "kind": "subscription", "name": "Member",
             "description": "A <b>year</b> of relay & presence",
             "amount": 999, "currency": "usd", "interval": "year"},
            {"id": "coffee", "kind": "donation", "name": "Coffee", "amount": 500, "currency": "usd"},
            {"id": "cake", "kind": "donation", "name": "Cake", "amount": 300, "currency": "usd"},
            {"id": "tip", "kind": "donation", "name": "Tip jar", "currency": "usd",
             "min_amount": 200, "max_amount": 5000},
        ])
    );
    assert_eq!(capabilities["billing"], true);
}

/// Loads a hub config from `toml` and `env` as the binary would.
fn load(toml: &str, env: &[(&str, &str)]) -> Result<hub::Config, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.toml");
    std::fs::write(&path, toml).unwrap();
    let sources = shared::config::Sources {
        file: Some(path),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    hub::Config::load(&sources, &shared::config::Overrides::default()).map_err(|e| e.to_string())
}

#[test]
fn billing_config_is_refused_when_a_subscription_plan_lacks_billing_or_billing_lacks_its_keys() {
    let plan = "[[plans]]\nid = \"yearly\"\nkind = \"subscription\"\nname = \"Member\"\n\
                amount = 999\ncurrency = \"usd\"\ninterval = \"year\"\nstripe_price_id = \"price_1\"\n";
    let on = "[billing]\nenabled = true\n";
    let url = "[http]\nexternal_url = \"https://hub.example.org\"\n[email]\ntransport = \"log\"\n";
    let keys = [
        ("HUB_BILLING__SECRET_KEY", "sk_test_1"),
        ("HUB_BILLING__WEBHOOK_SECRET", "whsec_1"),
    ];

    let off = load(plan, &[]).unwrap_err();
    let no_url = load(&format!("{on}{plan}"), &keys).unwrap_err();
    let no_secret = load(&format!("{url}{on}{plan}"), &keys[1..]).unwrap_err();
    let no_webhook_secret = load(&format!("{url}{on}{plan}"), &keys[..1]).unwrap_err();
    let key_in_file = load(
        &format!("{url}{on}secret_key = \"sk_test_1\"\n{plan}"),
        &keys[1..],
    );
    let complete = load(&format!("{url}{on}{plan}"), &keys).unwrap();

    assert!(off.contains("billing.enabled"), "{off}");
    assert!(no_url.contains("http.external_url"), "{no_url}");
    assert!(no_secret.contains("billing.secret_key"), "{no_secret}");
    assert!(
        no_webhook_secret.contains("billing.webhook_secret"),
        "{no_webhook_secret}"
    );
    assert!(
        key_in_file.is_err(),
        "the secret key is never read from the file"
    );
    assert_eq!(
        complete.plans[0].stripe_price_id.as_deref(),
        Some("price_1")
    );
}

//! Checkout, the portal, the page forms and the ban against the Stripe double (hub.md §8.3, §9,
//! §10): the exact form of each Checkout Session, a fresh `Idempotency-Key` per POST, the
//! customer once known, Stripe failing or slow → 502 with nothing stored, the forms' 303 to
//! Stripe under the CSRF rule, and a ban's `DELETE /v1/subscriptions/{id}`.

use std::time::{Duration, Instant};

use hub::billing::client::TIMEOUT;
use hub::members::{State, Tier};
use hub::store::Store;
use reqwest::{StatusCode, header, redirect};
use serde_json::{Value, json};
use testkit::{RecordedRequest, StripeMock, TestDb, TestHub, each_backend, json_of};

use super::{
    Member, SECRET_KEY, account_page, assert_refused, billing_hub, checkout, member,
    post_with_cookie, stored_billing, subscription,
};

each_backend!(
    checkout_sends_the_spec_parameters_when_subscribing_or_donating,
    checkout_and_portal_name_the_customer_once_stripe_knows_it,
    checkout_returns_502_and_stores_nothing_when_stripe_fails_or_is_slow,
    billing_page_forms_redirect_to_stripe_when_they_pass_the_csrf_rule,
    ban_cancels_live_subscriptions_at_stripe_and_audits_the_outcome,
);

/// The double with the plans' prices, and a billing hub using it.
async fn stripe_and_hub(db: &TestDb) -> (StripeMock, TestHub) {
    let stripe = StripeMock::start(SECRET_KEY).await;
    stripe.add_price("price_yearly", 999, "usd", Some("year"));
    stripe.add_price("price_coffee", 500, "usd", None);
    let hub = billing_hub(db, &stripe.url()).await;
    (stripe, hub)
}

/// The requests to `path` the double received.
fn posts_to(stripe: &StripeMock, path: &str) -> Vec<RecordedRequest> {
    stripe
        .requests()
        .into_iter()
        .filter(|r| r.path == path)
        .collect()
}

/// A pair list from string pairs.
fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A 200 `{"id","url"}` from Stripe's session, else a panic naming the answer.
async fn session_of(response: reqwest::Response, stripe: &StripeMock) -> (String, String) {
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let url = body["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&stripe.url()), "{url}");
    (body["id"].as_str().unwrap().to_owned(), url)
}

/// Completes a checkout of `plan` for `who` at the double; the Stripe customer it created and
/// the session object.
async fn pay(hub: &TestHub, stripe: &StripeMock, who: &Member, plan: &str) -> (String, Value) {
    let response = checkout(hub, who, json!({"plan": plan})).await;
    let (id, _) = session_of(response, stripe).await;
    stripe.complete_checkout(&id).await;
    let session = stripe.checkout_session(&id).unwrap();
    (session["customer"].as_str().unwrap().to_owned(), session)
}

/// Stores the Stripe customer on the account, as the webhook does after a checkout.
async fn set_customer(store: &Store, account_id: &str, customer: &str) {
    let mut conn = store.acquire().await.unwrap();
    sqlx::query("update accounts set stripe_customer_id = $1 where id = $2")
        .bind(customer)
        .bind(account_id)
        .execute(&mut *conn)
        .await
        .unwrap();
}

async fn checkout_sends_the_spec_parameters_when_subscribing_or_donating(db: TestDb) {
    let (stripe, hub) = stripe_and_hub(&db).await;
    let store = db.hub_store().await;
    let ann = member(&store, "ann@example.org", State::Active, Tier::Guest, None).await;
    let base = hub.base_url.clone();
    let hub_id = hub.hub_id().to_string();

    let yearly = checkout(&hub, &ann, json!({"plan": "yearly"})).await;
    let coffee = post_with_cookie(
        &hub,
        "/api/v1/billing/checkout",
        &json!({"plan": "coffee"}),
        &ann,
    )
    .await;
    let tip = checkout(&hub, &ann, json!({"plan": "tip", "amount": 700})).await;
    let cake = checkout(&hub, &ann, json!({"plan": "cake"})).await;

    for response in [yearly, coffee, tip, cake] {
        let (id, _) = session_of(response, &stripe).await;
        assert!(id.starts_with("cs_"), "{id}");
    }
    let sent = posts_to(&stripe, "/v1/checkout/sessions");
    assert_eq!(sent.len(), 4);
    let success = format!("{base}/account?checkout=success");
    let cancel = format!("{base}/account?checkout=cancel");
    let common = |plan: &str| {
        pairs(&[
            ("success_url", &success),
            ("cancel_url", &cancel),
            ("client_reference_id", &ann.id),
            ("metadata[account_id]", &ann.id),
            ("metadata[hub_id]", &hub_id),
            ("metadata[plan]", plan),
        ])
    };
    let email = pairs(&[("customer_email", "ann@example.org")]);
    let subscription = [
        pairs(&[
            ("mode", "subscription"),
            ("line_items[0][price]", "price_yearly"),
            ("line_items[0][quantity]", "1"),
        ]),
        common("yearly"),
        pairs(&[
            ("subscription_data[metadata][account_id]", &ann.id),
            ("subscription_data[metadata][plan]", "yearly"),
        ]),
        email.clone(),
    ]
    .concat();
    let donation = |plan: &str, price: Vec<(String, String)>| {
        [
            pairs(&[("mode", "payment"), ("submit_type", "donate")]),
            price,
            pairs(&[
                ("line_items[0][quantity]", "1"),
                ("payment_intent_data[metadata][account_id]", &ann.id),
            ]),
            common(plan),
            email.clone(),
        ]
        .concat()
    };
    let custom = |amount: &str| {
        pairs(&[
            ("line_items[0][price_data][currency]", "usd"),
            ("line_items[0][price_data][unit_amount]", amount),
            (
                "line_items[0][price_data][product_data][name]",
                "Donation to Goop² community",
            ),
        ])
    };
    assert_eq!(sent[0].form, subscription);
    assert_eq!(
        sent[1].form,
        donation("coffee", pairs(&[("line_items[0][price]", "price_coffee")]))
    );
    assert_eq!(sent[2].form, donation("tip", custom("700")));
    assert_eq!(sent[3].form, donation("cake", custom("300")));
    let mut keys: Vec<&str> = sent
        .iter()
        .map(|r| r.idempotency_key.as_deref().expect("an Idempotency-Key"))
        .collect();
    for key in &keys {
        let uuid = uuid::Uuid::parse_str(key).expect("a UUID");
        assert_eq!(uuid.get_version_num(), 4);
    }
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 4, "a fresh key per POST");
    let auth = sent[0].headers.iter().find(|(k, _)| k == "authorization");
    assert_eq!(
        auth.map(|(_, v)| v.as_str()),
        Some(format!("Bearer {SECRET_KEY}").as_str())
    );
}

async fn checkout_and_portal_name_the_customer_once_stripe_knows_it(db: TestDb) {
    let (stripe, hub) = stripe_and_hub(&db).await;
    let store = db.hub_store().await;
    let ann = member(&store, "ann@example.org", State::Active, Tier::Guest, None).await;
    let (customer, _) = pay(&hub, &stripe, &ann, "coffee").await;
    set_customer(&store, &ann.id, &customer).await;

    let again = checkout(&hub, &ann, json!({"plan": "yearly"})).await;
    let portal = post_with_cookie(&hub, "/api/v1/billing/portal", &json!({}), &ann).await;

    session_of(again, &stripe).await;
    let (portal_id, _) = session_of(portal, &stripe).await;
    assert!(portal_id.starts_with("bps_"), "{portal_id}");
    let last = posts_to(&stripe, "/v1/checkout/sessions").pop().unwrap();
    assert_eq!(last.param("customer"), Some(customer.as_str()));
    assert_eq!(
        last.param("customer_email"),
        None,
        "the customer, not the address"
    );
    assert_eq!(last.form.last().unwrap().0, "customer");
    let portal_request = posts_to(&stripe, "/v1/billing_portal/sessions")
        .pop()
        .unwrap();
    assert_eq!(
        portal_request.form,
        pairs(&[
            ("customer", &customer),
            ("return_url", &format!("{}/account", hub.base_url)),
        ])
    );
    assert!(portal_request.idempotency_key.is_some());
}

async fn checkout_returns_502_and_stores_nothing_when_stripe_fails_or_is_slow(db: TestDb) {
    let (stripe, hub) = stripe_and_hub(&db).await;
    let store = db.hub_store().await;
    let ann = member(
        &store,
        "ann@example.org",
        State::Active,
        Tier::Guest,
        Some("cus_ann"),
    )
    .await;
    let before = stored_billing(&store).await;
    let body = json!({"plan": "yearly"});
    let subscribe = || hub.post_signed("/api/v1/billing/checkout", &body, &ann.peer);

    stripe.set_api_failure(Some(500));
    let failing = subscribe().await;
    let failing_portal = hub
        .post_signed("/api/v1/billing/portal", &json!({}), &ann.peer)
        .await;
    stripe.set_api_failure(None);
    stripe.set_api_latency(TIMEOUT + Duration::from_secs(1));
    let started = Instant::now();
    let slow = subscribe().await;
    let waited = started.elapsed();

    assert_refused(failing, StatusCode::BAD_GATEWAY, "upstream_error").await;
    assert_refused(failing_portal, StatusCode::BAD_GATEWAY, "upstream_error").await;
    assert_refused(slow, StatusCode::BAD_GATEWAY, "upstream_error").await;
    // The double answers only after the timeout, so the 502 above is the client giving up;
    // it cannot have given up sooner than its timeout.
    assert!(
        waited >= TIMEOUT,
        "gave up only at the client timeout: {waited:?}"
    );
    assert_eq!(stored_billing(&store).await, before);
}

async fn billing_page_forms_redirect_to_stripe_when_they_pass_the_csrf_rule(db: TestDb) {
    let (stripe, hub) = stripe_and_hub(&db).await;
    let store = db.hub_store().await;
    let ann = member(&store, "ann@example.org", State::Lapsed, Tier::Guest, None).await;
    let client = reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap();
    let post = |path: &str, fields: &[(&str, &str)], origin: Option<&str>| {
        let mut request = client
            .post(hub.url(path))
            .header(header::COOKIE, &ann.cookie)
            .form(fields);
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        request.send()
    };
    let own = Some(hub.base_url.as_str());

    let missing = post("/account/checkout", &[("plan", "yearly")], None)
        .await
        .unwrap();
    let foreign = post(
        "/account/checkout",
        &[("plan", "yearly")],
        Some("https://evil.example"),
    )
    .await
    .unwrap();
    let refused_before = posts_to(&stripe, "/v1/checkout/sessions").len();
    let tip = post(
        "/account/checkout",
        &[("plan", "tip"), ("amount", "5.50")],
        own,
    )
    .await
    .unwrap();
    let garbled = post(
        "/account/checkout",
        &[("plan", "tip"), ("amount", "5,50")],
        own,
    )
    .await
    .unwrap();
    let yearly = post(
        "/account/checkout",
        &[("plan", "yearly"), ("amount", "")],
        own,
    )
    .await
    .unwrap();

    for refused in [missing, foreign] {
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(
            refused
                .text()
                .await
                .unwrap()
                .contains("did not come from this hub")
        );
    }
    assert_eq!(refused_before, 0, "a refused form reaches no Stripe call");
    for sent in [&tip, &yearly] {
        assert_eq!(sent.status(), StatusCode::SEE_OTHER);
        let location = sent.headers()[header::LOCATION].to_str().unwrap();
        assert!(location.starts_with(&stripe.url()), "{location}");
    }
    assert_eq!(garbled.status(), StatusCode::BAD_REQUEST);
    let sent = posts_to(&stripe, "/v1/checkout/sessions");
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[0].param("line_items[0][price_data][unit_amount]"),
        Some("550")
    );
    assert_eq!(sent[1].param("line_items[0][price]"), Some("price_yearly"));

    let (customer, _) = pay(&hub, &stripe, &ann, "coffee").await;
    set_customer(&store, &ann.id, &customer).await;
    let page = account_page(&hub, &ann, "/account").await;
    let portal = post("/account/billing-portal", &[], own).await.unwrap();
    assert!(page.contains("Manage billing"));
    assert_eq!(portal.status(), StatusCode::SEE_OTHER);
    let location = portal.headers()[header::LOCATION].to_str().unwrap();
    assert!(
        location.starts_with(&format!("{}/portal/", stripe.url())),
        "{location}"
    );
}

async fn ban_cancels_live_subscriptions_at_stripe_and_audits_the_outcome(db: TestDb) {
    let (stripe, hub) = stripe_and_hub(&db).await;
    let store = db.hub_store().await;
    let ann = member(&store, "ann@example.org", State::Active, Tier::Guest, None).await;
    let bob = member(&store, "bob@example.org", State::Active, Tier::Guest, None).await;
    let carol = member(
        &store,
        "carol@example.org",
        State::Active,
        Tier::Guest,
        None,
    )
    .await;
    let mut subs = Vec::new();
    for who in [&ann, &bob, &carol] {
        let (_, session) = pay(&hub, &stripe, who, "yearly").await;
        let id = session["subscription"].as_str().unwrap().to_owned();
        let end = testkit::now_ms() + 86_400_000;
        subscription(&store, &who.id, &id, "active", end).await;
        subs.push(id);
    }
    let ban = |id: &str, body: Value| {
        hub.client
            .post(hub.url(&format!("/api/v1/admin/members/{id}/ban")))
            .bearer_auth(crate::admin::TOKEN)
            .json(&body)
            .send()
    };
    let audit = async |id: &str| -> Value {
        let detail: Value = hub
            .client
            .get(hub.url(&format!("/api/v1/admin/members/{id}")))
            .bearer_auth(crate::admin::TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        detail["audit"][0]["details"].clone()
    };

    let by_default = ban(&ann.id, json!({"reason": "abuse"})).await.unwrap();
    let kept = ban(
        &bob.id,
        json!({"reason": "abuse", "cancel_subscription": false}),
    )
    .await
    .unwrap();
    stripe.set_api_failure(Some(500));
    let failing = ban(&carol.id, json!({"reason": "abuse"})).await.unwrap();
    stripe.set_api_failure(None);

    for response in [by_default, kept, failing] {
        let (status, member) = json_of(response).await;
        assert_eq!(status, StatusCode::OK, "{member}");
        assert_eq!(member["state"], "banned", "the ban stands");
    }
    let deletes: Vec<String> = stripe
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| r.path)
        .collect();
    assert_eq!(
        deletes,
        [
            format!("/v1/subscriptions/{}", subs[0]),
            format!("/v1/subscriptions/{}", subs[2]),
        ]
    );
    assert_eq!(stripe.subscription(&subs[0]).unwrap()["status"], "canceled");
    assert_eq!(stripe.subscription(&subs[1]).unwrap()["status"], "active");
    let ann_audit = audit(&ann.id).await;
    assert_eq!(ann_audit["cancel_subscription"], true);
    assert_eq!(
        ann_audit["stripe_cancel"],
        json!([{"subscription": subs[0], "status": "canceled"}])
    );
    let bob_audit = audit(&bob.id).await;
    assert_eq!(bob_audit["cancel_subscription"], false);
    assert!(bob_audit.get("stripe_cancel").is_none());
    let carol_audit = audit(&carol.id).await;
    assert_eq!(
        carol_audit["stripe_cancel"][0]["subscription"],
        subs[2].as_str()
    );
    assert!(
        carol_audit["stripe_cancel"][0]["error"]
            .as_str()
            .unwrap()
            .contains("500")
    );
}

//! The double's API: bearer auth, Stripe's validation of a Checkout Session, idempotency keys,
//! the portal, subscriptions, the events list's bad queries, and the injected faults.

use std::time::Duration;

use hub::billing::StripeClient;
use secrecy::SecretString;
use serde_json::{Value, json};

use super::{PRICE, SECRET_KEY, arrange, browser, form, subscribe, subscription_form};
use shared::clock::Clock;

/// A form, the `param` Stripe blames and the error `code`.
type Case = (Vec<(String, String)>, &'static str, &'static str);

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

#[tokio::test]
async fn stripe_mock_refuses_a_wrong_or_missing_bearer_with_401() {
    let (stripe, _, _) = arrange(Clock::system()).await;
    let wrong = StripeClient::new(&stripe.url(), SecretString::from("sk_test_other"));

    let refused = wrong.get_subscription("sub_x").await.unwrap_err();
    let bare = reqwest::get(format!("{}/v1/events", stripe.url()))
        .await
        .unwrap();
    let status = bare.status();
    let body: Value = bare.json().await.unwrap();

    assert!(
        matches!(
            refused,
            hub::billing::StripeError::Status { status: 401, .. }
        ),
        "{refused:?}"
    );
    assert_eq!(status, 401);
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("API key")
    );
    assert_eq!(stripe.requests().len(), 2, "refused calls are recorded too");
}

#[tokio::test]
async fn stripe_mock_refuses_checkout_sessions_stripe_would_refuse() {
    let (stripe, client, _) = arrange(Clock::system()).await;
    stripe.add_price("price_once", 700, "usd", None);
    let without = |key: &str| {
        subscription_form()
            .into_iter()
            .filter(|(k, _)| k != key)
            .collect::<Vec<_>>()
    };
    let with = |extra: &[(&str, &str)]| {
        let mut form = subscription_form();
        for (key, value) in extra {
            form.retain(|(k, _)| k != key);
            form.push(((*key).to_owned(), (*value).to_owned()));
        }
        form
    };
    let long_value = "v".repeat(501);
    let cases: Vec<Case> = vec![
        (without("mode"), "mode", "parameter_missing"),
        (with(&[("mode", "setup")]), "mode", "parameter_invalid"),
        (without("success_url"), "success_url", "parameter_missing"),
        (
            with(&[("success_url", "javascript:alert(1)")]),
            "success_url",
            "parameter_invalid",
        ),
        (
            without("line_items[0][price]"),
            "line_items[0][price]",
            "parameter_missing",
        ),
        (
            with(&[("line_items[0][price]", "price_nope")]),
            "line_items[0][price]",
            "resource_missing",
        ),
        (
            with(&[("line_items[0][price]", "price_once")]),
            "line_items[0][price]",
            "parameter_invalid",
        ),
        (
            without("line_items[0][quantity]"),
            "line_items[0][quantity]",
            "parameter_missing",
        ),
        (
            with(&[("line_items[0][quantity]", "0")]),
            "line_items[0][quantity]",
            "parameter_invalid",
        ),
        (
            with(&[("line_items[0][quantity]", "-1")]),
            "line_items[0][quantity]",
            "parameter_invalid",
        ),
        (
            with(&[("line_items[0][price_data][currency]", "usd")]),
            "line_items[0][price]",
            "parameter_invalid",
        ),
        (
            with(&[("line_items[1][price]", PRICE)]),
            "line_items[1][price]",
            "parameter_invalid",
        ),
        (
            with(&[("customer", "cus_nope")]),
            "customer_email",
            "parameter_invalid",
        ),
        (
            without("customer_email")
                .into_iter()
                .chain(form(&[("customer", "cus_nope")]))
                .collect(),
            "customer",
            "resource_missing",
        ),
        (with(&[("surprise", "1")]), "surprise", "parameter_invalid"),
        (
            with(&[("metadata[plan]", long_value.as_str())]),
            "metadata[plan]",
            "parameter_invalid",
        ),
        (
            with(&[("metadata[]", "x")]),
            "metadata[]",
            "parameter_invalid",
        ),
    ];

    for (form, param, expected) in cases {
        let error = client.create_checkout_session(&form).await.unwrap_err();
        let (status, body) = raw(reqwest::Client::new()
            .post(format!("{}/v1/checkout/sessions", stripe.url()))
            .form(&form))
        .await;
        assert!(
            matches!(error, hub::billing::StripeError::Status { status: 400, .. }),
            "{param}: {error:?}"
        );
        assert_eq!(
            (status, body["error"]["param"].as_str(), code(&body)),
            (400, Some(param), ("invalid_request_error", expected)),
            "{body}"
        );
    }
    let oversized = "x".repeat(100 * 1024);
    let (status, _) = raw(reqwest::Client::new()
        .post(format!("{}/v1/checkout/sessions", stripe.url()))
        .body(oversized))
    .await;
    let (bad_form, body) = raw(reqwest::Client::new()
        .post(format!("{}/v1/checkout/sessions", stripe.url()))
        .body("a=%ZZ&&="))
    .await;
    assert_eq!(status, 413);
    assert_eq!(bad_form, 400, "{body}");
    assert!(stripe.events().is_empty() && stripe.customers().is_empty());
}

#[tokio::test]
async fn stripe_mock_completes_a_donation_with_one_event_and_refuses_a_second_completion() {
    let (stripe, client, receiver) = arrange(Clock::system()).await;
    let donation = form(&[
        ("mode", "payment"),
        ("submit_type", "donate"),
        ("line_items[0][price_data][currency]", "eur"),
        ("line_items[0][price_data][unit_amount]", "1500"),
        (
            "line_items[0][price_data][product_data][name]",
            "Donation to Go Developers",
        ),
        ("line_items[0][quantity]", "1"),
        ("payment_intent_data[metadata][account_id]", "acc_1"),
        (
            "success_url",
            "http://hub.test/account?checkout=success&id={CHECKOUT_SESSION_ID}",
        ),
        ("client_reference_id", "acc_1"),
        ("metadata[account_id]", "acc_1"),
        ("customer_email", "member@example.org"),
    ]);
    subscribe(&stripe, &client).await;

    let link = client.create_checkout_session(&donation).await.unwrap();
    let first = browser().get(&link.url).send().await.unwrap();
    let second = browser().get(&link.url).send().await.unwrap();
    let unknown = browser()
        .get(format!("{}/checkout/cs_nope", stripe.url()))
        .send()
        .await
        .unwrap();

    assert_eq!(first.status(), 303);
    assert_eq!(
        first.headers()["location"].to_str().unwrap(),
        format!("http://hub.test/account?checkout=success&id={}", link.id)
    );
    assert_eq!(
        (second.status().as_u16(), unknown.status().as_u16()),
        (409, 404)
    );
    let types = receiver.types();
    assert_eq!(types.len(), 4);
    assert_eq!(types[3], "checkout.session.completed");
    let session = &stripe.events()[3]["data"]["object"];
    assert_eq!(
        (
            session["mode"].as_str(),
            session["amount_total"].as_i64(),
            session["currency"].as_str()
        ),
        (Some("payment"), Some(1500), Some("eur"))
    );
    assert_eq!(session["payment_status"], "paid");
    assert_eq!(
        stripe.customers().len(),
        1,
        "the email's customer is reused"
    );
    assert_eq!(session["customer"], stripe.customers()[0]["id"]);
}

#[tokio::test]
async fn stripe_mock_replays_the_first_answer_to_a_repeated_idempotency_key() {
    let (stripe, client, _) = arrange(Clock::system()).await;
    let post = |key: &str, form: &[(String, String)]| {
        reqwest::Client::new()
            .post(format!("{}/v1/checkout/sessions", stripe.url()))
            .header("Idempotency-Key", key)
            .form(form)
    };

    let (first_status, first) = raw(post("key-1", &subscription_form())).await;
    let (again_status, again) = raw(post("key-1", &subscription_form())).await;
    let (other_status, other) = raw(post("key-1", &form(&[("mode", "payment")]))).await;
    let (bad_status, bad) = raw(post("key-2", &form(&[("mode", "payment")]))).await;
    let (bad_again_status, bad_again) = raw(post("key-2", &form(&[("mode", "payment")]))).await;
    client
        .create_checkout_session(&subscription_form())
        .await
        .unwrap();

    assert_eq!((first_status, again_status), (200, 200));
    assert_eq!(first["id"], again["id"]);
    assert_eq!(
        (other_status, other["error"]["type"].as_str()),
        (400, Some("idempotency_error"))
    );
    assert_eq!(
        (bad_status, bad_again_status, bad == bad_again),
        (400, 400, true)
    );
    let requests = stripe.requests();
    let keys: Vec<_> = requests.iter().map(|r| r.idempotency_key.clone()).collect();
    assert_eq!(
        &keys[..5],
        [
            Some("key-1".to_owned()),
            Some("key-1".to_owned()),
            Some("key-1".to_owned()),
            Some("key-2".to_owned()),
            Some("key-2".to_owned())
        ]
    );
    let client_key = keys[5].clone().expect("the client sends a key");
    assert!(uuid::Uuid::parse_str(&client_key).is_ok());
    assert_eq!(requests[5].param("metadata[plan]"), Some("monthly"));
    assert_eq!(
        (requests[5].method.as_str(), requests[5].path.as_str()),
        ("POST", "/v1/checkout/sessions")
    );
}

#[tokio::test]
async fn stripe_mock_opens_a_portal_only_for_a_known_customer() {
    let (stripe, client, _) = arrange(Clock::system()).await;
    subscribe(&stripe, &client).await;
    let customer = stripe.customers()[0]["id"].as_str().unwrap().to_owned();

    let link = client
        .create_portal_session(&customer, "http://hub.test/account")
        .await
        .unwrap();
    let missing = client
        .create_portal_session("cus_nope", "http://hub.test/account")
        .await
        .unwrap_err();
    let (status, body) = raw(reqwest::Client::new()
        .post(format!("{}/v1/billing_portal/sessions", stripe.url()))
        .form(&[("customer", "cus_nope")]))
    .await;
    let visit = browser().get(&link.url).send().await.unwrap();

    assert!(
        link.id.starts_with("bps_") && link.url == format!("{}/portal/{}", stripe.url(), link.id)
    );
    assert!(matches!(
        missing,
        hub::billing::StripeError::Status { status: 400, .. }
    ));
    assert_eq!((status, code(&body).1), (400, "resource_missing"));
    assert_eq!(
        (
            visit.status().as_u16(),
            visit.headers()["location"].to_str().unwrap()
        ),
        (303, "http://hub.test/account")
    );
}

#[tokio::test]
async fn stripe_mock_cancels_a_subscription_and_answers_404_for_an_unknown_one() {
    let (stripe, client, receiver) = arrange(Clock::system()).await;
    let (_, sub_id) = subscribe(&stripe, &client).await;

    let canceled = client.cancel_subscription(&sub_id).await.unwrap();
    let twice = client.cancel_subscription(&sub_id).await.unwrap_err();
    let unknown = client.get_subscription("sub_nope").await.unwrap_err();
    let hostile = client.get_subscription("../events?x=1").await.unwrap_err();
    stripe.settle().await;

    assert_eq!(canceled.status, "canceled");
    assert!(matches!(
        twice,
        hub::billing::StripeError::Status { status: 400, .. }
    ));
    assert!(
        unknown.is_not_found() && hostile.is_not_found(),
        "{hostile:?}"
    );
    assert_eq!(stripe.subscription(&sub_id).unwrap()["status"], "canceled");
    assert_eq!(
        receiver.types().last().map(String::as_str),
        Some("customer.subscription.deleted")
    );
    assert_eq!(stripe.events().len(), 4);
}

#[tokio::test]
async fn stripe_mock_refuses_bad_event_list_queries() {
    let (stripe, client, _) = arrange(Clock::system()).await;
    subscribe(&stripe, &client).await;
    let list =
        |query: &str| reqwest::Client::new().get(format!("{}/v1/events?{query}", stripe.url()));

    for query in [
        "limit=0",
        "limit=101",
        "limit=x",
        "created[gte]=soon",
        "starting_after=evt_nope",
        "colour=red",
        "type=a&types[]=b",
    ] {
        let (status, body) = raw(list(query)).await;
        assert_eq!(
            (status, code(&body).0),
            (400, "invalid_request_error"),
            "{query}: {body}"
        );
    }
    let (_, only) = raw(list(
        "types[]=invoice.paid&types[]=customer.subscription.created",
    ))
    .await;
    let (_, wildcard) = raw(list("type=customer.subscription.*")).await;
    let (_, everything) = raw(list("")).await;
    let (status, _) = raw(reqwest::Client::new().get(format!("{}/v1/charges", stripe.url()))).await;

    let kinds = |page: &Value| {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        kinds(&only),
        [
            json!("invoice.paid"),
            json!("customer.subscription.created")
        ]
    );
    assert_eq!(kinds(&wildcard), [json!("customer.subscription.created")]);
    assert_eq!(everything["data"].as_array().unwrap().len(), 3);
    assert_eq!(status, 404);
}

#[tokio::test]
async fn stripe_mock_injected_failure_and_latency_reach_the_client() {
    let (stripe, client, _) = arrange(Clock::system()).await;
    let (_, sub_id) = subscribe(&stripe, &client).await;

    stripe.set_api_failure(Some(500));
    let failed = client.get_subscription(&sub_id).await.unwrap_err();
    let failed_post = client
        .create_checkout_session(&subscription_form())
        .await
        .unwrap_err();
    stripe.set_api_failure(None);
    let recovered = client.get_subscription(&sub_id).await;
    stripe.set_api_latency(Duration::from_secs(5));
    let slow =
        tokio::time::timeout(Duration::from_millis(200), client.get_subscription(&sub_id)).await;
    stripe.set_api_latency(Duration::ZERO);
    let fast = tokio::time::timeout(Duration::from_secs(5), client.get_subscription(&sub_id)).await;

    assert!(
        matches!(
            failed,
            hub::billing::StripeError::Status { status: 500, .. }
        ),
        "{failed:?}"
    );
    assert!(matches!(
        failed_post,
        hub::billing::StripeError::Status { status: 500, .. }
    ));
    assert!(recovered.is_ok());
    assert!(slow.is_err(), "the call outlived the latency");
    assert!(fast.unwrap().is_ok());
    assert_eq!(stripe.events().len(), 3, "failed calls change nothing");
}

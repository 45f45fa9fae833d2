//! What the double refuses as Stripe would: Checkout Sessions that miss or break what Stripe
//! requires, malformed and oversized bodies, bad `GET /v1/events` queries, unknown routes.

use serde_json::{Value, json};
use shared::clock::Clock;

use super::{PRICE, arrange, code, form, raw, subscribe, subscription_form};

/// A form, the `param` Stripe blames and the error `code`.
type Case = (Vec<(String, String)>, &'static str, &'static str);

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

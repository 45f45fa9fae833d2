//! The double's API: bearer auth, a donation checkout, idempotency keys, the portal,
//! subscriptions, and the injected faults.

use std::time::Duration;

use hub::billing::StripeClient;
use secrecy::SecretString;
use serde_json::Value;

use super::{arrange, browser, code, form, raw, subscribe, subscription_form};
use shared::clock::Clock;

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
    let (long_status, _) = raw(post(&"k".repeat(256), &subscription_form())).await;
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
    assert_eq!(long_status, 400);
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
    let client_key = keys[6].clone().expect("the client sends a key");
    assert!(uuid::Uuid::parse_str(&client_key).is_ok());
    assert_eq!(requests[6].param("metadata[plan]"), Some("monthly"));
    assert_eq!(
        (requests[6].method.as_str(), requests[6].path.as_str()),
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

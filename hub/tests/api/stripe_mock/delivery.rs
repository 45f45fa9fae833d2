//! The double's webhook controls: status changes, withholding and reordering, duplicates (in a
//! row and concurrent), retries, delays, the legacy shapes and a clock shared with the hub.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hub::billing::objects::{Invoice, Subscription};
use hub::billing::signature::{self, SignatureError};
use shared::clock::Clock;
use testkit::StripeMock;

use super::{COMPLETED, PRICE, Receiver, WEBHOOK_SECRET, arrange, subscribe};

#[tokio::test]
async fn stripe_mock_status_changes_emit_the_events_stripe_emits() {
    let (stripe, client, receiver) = arrange(Clock::system()).await;
    let (_, sub_id) = subscribe(&stripe, &client).await;

    stripe.set_subscription_status(&sub_id, "past_due").await;
    let past_due = client.get_subscription(&sub_id).await.unwrap();
    stripe.set_subscription_status(&sub_id, "unpaid").await;
    stripe.set_subscription_status(&sub_id, "active").await;
    stripe.set_subscription_status(&sub_id, "canceled").await;

    assert!(past_due.is_past_due());
    assert_eq!(
        receiver.types()[3..],
        [
            "customer.subscription.updated",
            "invoice.payment_failed",
            "customer.subscription.updated",
            "customer.subscription.updated",
            "customer.subscription.deleted",
        ]
    );
    assert!(receiver.all_valid());
    let events = stripe.events();
    let statuses: Vec<_> = [3, 5, 6, 7]
        .iter()
        .map(|i| {
            Subscription::from_value(&events[*i]["data"]["object"])
                .unwrap()
                .status
        })
        .collect();
    assert_eq!(statuses, ["past_due", "unpaid", "active", "canceled"]);
    let failed = Invoice::from_value(&events[4]["data"]["object"]);
    assert_eq!(failed.subscription.as_deref(), Some(sub_id.as_str()));
    assert_eq!(events[4]["data"]["object"]["paid"], false);
    assert_eq!(
        client.get_subscription(&sub_id).await.unwrap().status,
        "canceled"
    );
}

#[tokio::test]
async fn stripe_mock_flushes_withheld_events_reversed_or_shuffled_by_seed() {
    let mut orders = Vec::new();
    for flush in 0..3 {
        let (stripe, client, receiver) = arrange(Clock::system()).await;
        stripe.withhold();
        subscribe(&stripe, &client).await;
        match flush {
            0 => stripe.flush_reversed().await,
            _ => stripe.flush_shuffled(7).await,
        }
        assert!(receiver.all_valid());
        orders.push(receiver.types());
    }

    let mut reversed = COMPLETED.to_vec();
    reversed.reverse();
    assert_eq!(orders[0], reversed);
    assert_eq!(orders[1], orders[2], "one seed, one order");
    let mut sorted = orders[1].clone();
    sorted.sort();
    let mut expected = COMPLETED.to_vec();
    expected.sort_unstable();
    assert_eq!(sorted, expected);
}

#[tokio::test]
async fn stripe_mock_delivers_each_event_twice_when_duplicating() {
    let (stripe, client, receiver) = arrange(Clock::system()).await;
    stripe.duplicate(true);

    subscribe(&stripe, &client).await;

    let ids = receiver.ids();
    assert_eq!(ids.len(), 6);
    assert!(ids.chunks(2).all(|pair| pair[0] == pair[1]));
    assert_eq!(stripe.deliveries().len(), 6);
}

#[tokio::test]
async fn stripe_mock_flushes_duplicates_concurrently() {
    let clock = Clock::system();
    let stripe = StripeMock::start_with_clock("sk_test_double", clock.clone()).await;
    stripe.add_price(PRICE, 500, "usd", Some("month"));
    // Six answers wait for each other: sequential deliveries would never get one.
    let receiver = Receiver::start_gated(clock, Some(Arc::new(tokio::sync::Barrier::new(6)))).await;
    stripe.set_webhook(&receiver.url, WEBHOOK_SECRET);
    let client = hub::billing::StripeClient::new(&stripe.url(), "sk_test_double".into());
    stripe.withhold();
    stripe.duplicate(true);
    subscribe(&stripe, &client).await;

    tokio::time::timeout(Duration::from_secs(10), stripe.flush_concurrently())
        .await
        .expect("six deliveries in flight at once");

    assert_eq!(receiver.ids().len(), 6);
    assert!(stripe.deliveries().iter().all(|d| d.status == Some(200)));
}

#[tokio::test]
async fn stripe_mock_redelivers_an_event_as_a_retry_and_records_refusals() {
    let (stripe, client, receiver) = arrange(Clock::system()).await;
    subscribe(&stripe, &client).await;
    let first = receiver.ids()[0].clone();

    let retry = stripe.redeliver(&first).await;
    stripe.set_webhook(&receiver.url, "whsec_wrong");
    let refused = stripe.redeliver(&first).await;

    assert_eq!(
        (retry.event_id.as_str(), retry.status),
        (first.as_str(), Some(200))
    );
    assert_eq!(refused.status, Some(400));
    assert_eq!(receiver.ids()[3], first);
    let statuses: Vec<_> = stripe.deliveries().iter().map(|d| d.status).collect();
    assert_eq!(
        statuses,
        [Some(200), Some(200), Some(200), Some(200), Some(400)]
    );
}

#[tokio::test]
async fn stripe_mock_waits_the_delay_before_each_delivery() {
    let (stripe, client, receiver) = arrange(Clock::system()).await;
    stripe.delay(Duration::from_millis(100));

    let started = Instant::now();
    subscribe(&stripe, &client).await;

    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(receiver.types(), COMPLETED);
}

#[tokio::test]
async fn stripe_mock_legacy_shapes_put_the_subscription_and_period_at_the_top() {
    let (stripe, client, _) = arrange(Clock::system()).await;
    stripe.set_legacy_shapes(true);

    let (_, sub_id) = subscribe(&stripe, &client).await;
    let fetched = client.get_subscription(&sub_id).await.unwrap();

    let events = stripe.events();
    let invoice = &events[2]["data"]["object"];
    let subscription = &events[1]["data"]["object"];
    assert_eq!(invoice["subscription"], sub_id.as_str());
    assert!(invoice.get("parent").is_none());
    assert!(subscription["current_period_end"].is_i64());
    assert!(
        subscription["items"]["data"][0]
            .get("current_period_end")
            .is_none()
    );
    assert_eq!(events[0]["api_version"], "2024-12-18.acacia");
    assert!(fetched.current_period_end.is_some());
    assert_eq!(
        Invoice::from_value(invoice).subscription.as_deref(),
        Some(sub_id.as_str())
    );
}

#[tokio::test]
async fn stripe_mock_events_and_signatures_follow_a_shared_clock() {
    let clock = Clock::system();
    let (stripe, client, receiver) = arrange(clock.clone()).await;
    let (_, sub_id) = subscribe(&stripe, &client).await;

    clock.advance(Duration::from_secs(8 * 86_400));
    stripe.set_subscription_status(&sub_id, "past_due").await;

    let event = &stripe.events()[3];
    let delivery = stripe.deliveries().pop().unwrap();
    let body = serde_json::to_vec(&stripe.events()[4]).unwrap();
    let real_now = testkit::now_ms() / 1000;
    assert!(event["created"].as_i64().unwrap() >= real_now + 8 * 86_400 - 5);
    assert!(delivery.timestamp >= real_now + 8 * 86_400 - 5);
    assert!(
        receiver.all_valid(),
        "the receiver on the shared clock accepts them"
    );
    let secrets = [WEBHOOK_SECRET.to_owned()];
    assert_eq!(
        signature::verify(&delivery.signature, &body, &secrets, real_now),
        Err(SignatureError::Stale)
    );
    assert!(signature::verify(&delivery.signature, &body, &secrets, clock.now_secs()).is_ok());
}

#[tokio::test]
async fn stripe_mock_renews_flags_and_emits_as_a_test_asks() {
    let (stripe, client, receiver) = arrange(Clock::system()).await;
    let (_, sub_id) = subscribe(&stripe, &client).await;
    let first_end = client
        .get_subscription(&sub_id)
        .await
        .unwrap()
        .current_period_end
        .unwrap();

    stripe.set_cancel_at_period_end(&sub_id, true).await;
    let flagged = client.get_subscription(&sub_id).await.unwrap();
    stripe.renew_subscription(&sub_id).await;
    let renewed = client.get_subscription(&sub_id).await.unwrap();
    let other = stripe
        .emit(
            "customer.created",
            serde_json::json!({"id": "cus_x", "object": "customer"}),
        )
        .await;

    assert!(flagged.cancel_at_period_end);
    assert_eq!(
        renewed.current_period_end,
        Some(first_end + 30 * 86_400_000)
    );
    assert_eq!(
        receiver.types()[3..],
        [
            "customer.subscription.updated",
            "customer.subscription.updated",
            "invoice.paid",
            "customer.created"
        ]
    );
    assert_eq!(receiver.ids()[6], other);
    assert!(receiver.all_valid());
}

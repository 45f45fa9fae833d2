//! Webhooks from the Stripe double (hub.md §8.5, §18 check 14): a completed checkout makes the
//! member paid, deliveries reordered or duplicated end in the state of an in-order delivery,
//! a donation is recorded once, a re-fetch that fails at Stripe applies nothing until Stripe's
//! retry, and a cancellation drops presence at once.

use std::time::{Duration, Instant};

use hub::store;
use reqwest::StatusCode;
use testkit::{TestDb, each_backend, eventually};

use super::paid_hub::{DEADLINE, community, member, standing};

each_backend!(
    checkout_completed_on_the_double_makes_the_member_paid,
    deliveries_reversed_end_in_the_state_of_an_in_order_delivery,
    deliveries_shuffled_and_duplicated_end_in_the_state_of_an_in_order_delivery,
    deliveries_all_at_once_with_duplicates_are_each_answered_200_and_applied_once,
    donation_is_recorded_once_when_its_event_is_delivered_twice,
    webhook_applies_nothing_when_the_re_fetch_fails_and_the_retry_applies_it,
    cancellation_closes_presence_within_5_s,
);

fn paid() -> (String, String) {
    ("active".to_owned(), "paid".to_owned())
}

fn grace() -> (String, String) {
    ("grace".to_owned(), "paid".to_owned())
}

/// The outcome recorded for each event the double emitted, in emission order.
async fn outcomes(db: &TestDb, events: &[serde_json::Value]) -> Vec<String> {
    let store = db.hub_store().await;
    let mut outcomes = Vec::new();
    for event in events {
        let id = event["id"].as_str().unwrap();
        let row = store.find_stripe_event(id).await.unwrap();
        outcomes.push(row.map_or_else(|| "missing".to_owned(), |r| r.outcome));
    }
    store.close().await;
    outcomes
}

async fn checkout_completed_on_the_double_makes_the_member_paid(db: TestDb) {
    let paid_community = community(&db, |_| {}).await;
    let (peer, account) = member(&paid_community.hub).await;

    let subscription = paid_community.subscribe(&account).await;

    assert_eq!(standing(&paid_community.hub, &peer).await, paid());
    let deliveries = paid_community.stripe.deliveries();
    assert_eq!(deliveries.len(), 3, "{deliveries:?}");
    assert!(
        deliveries.iter().all(|d| d.status == Some(200)),
        "{deliveries:?}"
    );
    let store = db.hub_store().await;
    let mut conn = store.acquire().await.unwrap();
    let rows = store::list_subscriptions(&mut conn, &account)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id, subscription);
    assert_eq!(rows[0].plan_id.as_deref(), Some("yearly"));
    assert_eq!(rows[0].status, "active");
    assert!(rows[0].current_period_end.is_some());
}

/// §18 check 14 on the double: `customer.subscription.updated` (and a failed payment) delivered
/// before `.created` and before `checkout.session.completed` end in the newer state.
async fn deliveries_reversed_end_in_the_state_of_an_in_order_delivery(db: TestDb) {
    let paid_community = community(&db, |_| {}).await;
    let (peer, account) = member(&paid_community.hub).await;
    let stripe = &paid_community.stripe;
    stripe.withhold();
    let subscription = paid_community.subscribe(&account).await;
    stripe
        .set_subscription_status(&subscription, "past_due")
        .await;

    stripe.flush_reversed().await;

    assert_eq!(standing(&paid_community.hub, &peer).await, grace());
    let deliveries = stripe.deliveries();
    assert!(
        deliveries.iter().all(|d| d.status == Some(200)),
        "{deliveries:?}"
    );
    let events = stripe.events();
    let created = events
        .iter()
        .position(|e| e["type"] == "customer.subscription.created")
        .unwrap();
    let recorded = outcomes(&db, &events).await;
    assert!(
        recorded[created] == "stale" || recorded[created] == "processed",
        "{recorded:?}"
    );
    assert!(!recorded.contains(&"missing".to_owned()), "{recorded:?}");
}

async fn deliveries_shuffled_and_duplicated_end_in_the_state_of_an_in_order_delivery(db: TestDb) {
    let paid_community = community(&db, |_| {}).await;
    let stripe = &paid_community.stripe;
    let (in_order, in_order_account) = member(&paid_community.hub).await;
    let (shuffled, shuffled_account) = member(&paid_community.hub).await;
    // A lifecycle: paid, a failed renewal, paid again for another period, failed again.
    let lifecycle = |subscription: String| async move {
        stripe
            .set_subscription_status(&subscription, "past_due")
            .await;
        stripe.renew_subscription(&subscription).await;
        stripe.set_cancel_at_period_end(&subscription, true).await;
        stripe
            .set_subscription_status(&subscription, "past_due")
            .await;
    };
    lifecycle(paid_community.subscribe(&in_order_account).await).await;
    stripe.withhold();
    stripe.duplicate(true);
    lifecycle(paid_community.subscribe(&shuffled_account).await).await;

    stripe.flush_shuffled(7).await;

    let hub = &paid_community.hub;
    assert_eq!(standing(hub, &in_order).await, grace());
    assert_eq!(standing(hub, &shuffled).await, grace());
    let store = db.hub_store().await;
    let mut conn = store.acquire().await.unwrap();
    let a = store::list_subscriptions(&mut conn, &in_order_account)
        .await
        .unwrap();
    let b = store::list_subscriptions(&mut conn, &shuffled_account)
        .await
        .unwrap();
    let shape = |row: &store::SubscriptionRow| {
        (
            row.status.clone(),
            row.plan_id.clone(),
            row.cancel_scheduled_at.is_some(),
            row.current_period_end.is_some(),
            row.past_due_since.is_some(),
        )
    };
    assert_eq!((a.len(), b.len()), (1, 1));
    assert_eq!(shape(&b[0]), shape(&a[0]));
    assert_eq!(
        shape(&a[0]),
        (
            "past_due".to_owned(),
            Some("yearly".to_owned()),
            true,
            true,
            true
        )
    );
    assert!(
        stripe.deliveries().iter().all(|d| d.status == Some(200)),
        "duplicates are answered 200"
    );
}

/// Every event of a checkout and a failed payment, each twice, delivered at the same moment:
/// concurrent transactions on one account and one dedupe row end in 200s, never a 500.
async fn deliveries_all_at_once_with_duplicates_are_each_answered_200_and_applied_once(db: TestDb) {
    let paid_community = community(&db, |_| {}).await;
    let (peer, account) = member(&paid_community.hub).await;
    let stripe = &paid_community.stripe;
    stripe.withhold();
    stripe.duplicate(true);
    let subscription = paid_community.subscribe(&account).await;
    stripe
        .set_subscription_status(&subscription, "past_due")
        .await;

    stripe.flush_concurrently().await;

    let deliveries = stripe.deliveries();
    let events = stripe.events();
    assert_eq!(deliveries.len(), 2 * events.len(), "{deliveries:?}");
    assert!(
        deliveries.iter().all(|d| d.status == Some(200)),
        "{deliveries:?}"
    );
    assert_eq!(standing(&paid_community.hub, &peer).await, grace());
    let recorded = outcomes(&db, &events).await;
    assert!(!recorded.contains(&"missing".to_owned()), "{recorded:?}");
}

async fn donation_is_recorded_once_when_its_event_is_delivered_twice(db: TestDb) {
    let paid_community = community(&db, |_| {}).await;
    let (_, account) = member(&paid_community.hub).await;
    paid_community.stripe.duplicate(true);

    let session = paid_community.donate(&account, 500).await;

    let store = db.hub_store().await;
    let mut conn = store.acquire().await.unwrap();
    let payments = store::list_payments(&mut conn, &account, 10).await.unwrap();
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(payments[0].id, session);
    assert_eq!(
        (payments[0].amount, payments[0].currency.as_str()),
        (500, "usd")
    );
    assert_eq!(payments[0].kind, "donation");
}

/// A processing error (here Stripe failing the re-fetch) answers non-2xx with nothing applied;
/// Stripe's retry then applies the event.
async fn webhook_applies_nothing_when_the_re_fetch_fails_and_the_retry_applies_it(db: TestDb) {
    let paid_community = community(&db, |_| {}).await;
    let (peer, account) = member(&paid_community.hub).await;
    let stripe = &paid_community.stripe;
    stripe.withhold();
    paid_community.subscribe(&account).await;
    let checkout = stripe
        .events()
        .into_iter()
        .find(|e| e["type"] == "checkout.session.completed")
        .unwrap();
    let id = checkout["id"].as_str().unwrap().to_owned();

    stripe.set_api_failure(Some(500));
    let failed = stripe.redeliver(&id).await;
    let during = outcomes(&db, std::slice::from_ref(&checkout)).await;
    let before = standing(&paid_community.hub, &peer).await;
    stripe.set_api_failure(None);
    let retried = stripe.redeliver(&id).await;

    assert!(
        failed.status.is_some_and(|s| s >= 500),
        "a failed re-fetch is no success: {failed:?}"
    );
    assert_eq!(during, ["missing"]);
    assert_eq!(before.1, "guest");
    assert_eq!(retried.status, Some(StatusCode::OK.as_u16()));
    eventually(DEADLINE, "the retry to make the member paid", || async {
        (standing(&paid_community.hub, &peer).await == paid()).then_some(())
    })
    .await;
}

/// After the commit the membership change path runs: a canceled subscription closes the
/// member's presence session with 4003 within 5 s (hub.md §6.6).
async fn cancellation_closes_presence_within_5_s(db: TestDb) {
    let paid_community = community(&db, |_| {}).await;
    let (peer, account) = member(&paid_community.hub).await;
    let subscription = paid_community.subscribe(&account).await;
    let (mut socket, _) = peer.open_v2(&paid_community.hub).await;

    let started = Instant::now();
    paid_community
        .stripe
        .set_subscription_status(&subscription, "canceled")
        .await;
    let close = tokio::time::timeout(Duration::from_secs(5), testkit::ws::close_of(&mut socket))
        .await
        .expect("presence closed within 5 s");

    assert_eq!(close.0, 4003, "{close:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        standing(&paid_community.hub, &peer).await,
        ("lapsed".to_owned(), "guest".to_owned())
    );
}

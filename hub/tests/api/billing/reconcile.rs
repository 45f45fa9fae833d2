//! Reconciliation (hub.md §8.6, §18 check 16) and the sweep's re-fetch (§6.7) against the Stripe
//! double: withheld webhooks are repaired from `GET /v1/events`, every page is read, the cursor
//! is kept in `hub_state`, and a subscription still active a day after its period end is read
//! again.

use std::time::Duration;

use testkit::{TestDb, each_backend, eventually};

use super::paid_hub::{DEADLINE, community, member, standing};

each_backend!(
    reconciliation_repairs_webhooks_that_were_never_delivered,
    reconciliation_reads_every_page_of_events,
    overdue_subscription_is_fetched_again_a_day_after_its_period_end,
);

/// Reconciliation every second, so tests wait on its effect rather than on its period.
fn every_second(c: &mut hub::Config) {
    c.billing.reconcile_interval = Duration::from_secs(1);
}

/// §18 check 16: a checkout whose webhooks never arrive still makes the member paid, through
/// reconciliation; the late deliveries are then duplicates.
async fn reconciliation_repairs_webhooks_that_were_never_delivered(db: TestDb) {
    let paid_community = community(&db, every_second).await;
    let (peer, account) = member(&paid_community.hub).await;
    let stripe = &paid_community.stripe;
    stripe.withhold();

    paid_community.subscribe(&account).await;

    eventually(
        DEADLINE,
        "reconciliation to make the member paid",
        || async { (standing(&paid_community.hub, &peer).await.1 == "paid").then_some(()) },
    )
    .await;
    let store = db.hub_store().await;
    for event in stripe.events() {
        let id = event["id"].as_str().unwrap();
        let row = eventually(DEADLINE, "every event reconciled", || async {
            store.find_stripe_event(id).await.unwrap()
        })
        .await;
        assert_eq!(row.source, "reconcile", "{id}");
    }
    let newest = stripe
        .events()
        .iter()
        .filter_map(|e| e["created"].as_i64())
        .max()
        .unwrap()
        .to_string();
    eventually(DEADLINE, "the cursor at the newest event", || async {
        (store.find_state("reconcile_cursor").await.unwrap() == Some(newest.clone())).then_some(())
    })
    .await;
    let lookback = testkit::now_ms() / 1000 - 259_200;
    let first = listed_since(stripe)[0];
    assert!(
        (lookback - 60..=lookback).contains(&first),
        "the first run reads the lookback: {first}"
    );
    let overlap = newest.parse::<i64>().unwrap() - 300;
    eventually(DEADLINE, "a later run from the cursor − 300 s", || async {
        listed_since(stripe).contains(&overlap).then_some(())
    })
    .await;
    stripe.flush().await;
    assert!(
        stripe.deliveries().iter().all(|d| d.status == Some(200)),
        "late deliveries are answered 200: {:?}",
        stripe.deliveries()
    );
    store.close().await;
}

/// The `created[gte]` of every `GET /v1/events` the double received, in order.
fn listed_since(stripe: &testkit::StripeMock) -> Vec<i64> {
    stripe
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == "/v1/events")
        .filter_map(|r| r.query.iter().find(|(k, _)| k == "created[gte]"))
        .filter_map(|(_, v)| v.parse().ok())
        .collect()
}

async fn reconciliation_reads_every_page_of_events(db: TestDb) {
    let paid_community = community(&db, every_second).await;
    let (_, account) = member(&paid_community.hub).await;
    let stripe = &paid_community.stripe;
    let subscription = paid_community.subscribe(&account).await;
    stripe.withhold();

    for flip in 0..120 {
        stripe
            .set_cancel_at_period_end(&subscription, flip % 2 == 0)
            .await;
    }

    let store = db.hub_store().await;
    let events = stripe.events();
    assert!(events.len() > 100, "more than one page: {}", events.len());
    for event in &events {
        let id = event["id"].as_str().unwrap();
        eventually(DEADLINE, "every listed event reconciled", || async {
            store.find_stripe_event(id).await.unwrap()
        })
        .await;
    }
    store.close().await;
}

/// hub.md §6.7: with no event in sight, a subscription still `active` more than a day after its
/// `current_period_end` is read from Stripe again.
async fn overdue_subscription_is_fetched_again_a_day_after_its_period_end(db: TestDb) {
    let paid_community = community(&db, every_second).await;
    let (_, account) = member(&paid_community.hub).await;
    let subscription = paid_community.subscribe(&account).await;
    let path = format!("/v1/subscriptions/{subscription}");
    let fetches = || {
        paid_community
            .stripe
            .requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path == path)
            .count()
    };
    let before = fetches();

    paid_community
        .clock
        .advance(Duration::from_secs(367 * 86_400));

    eventually(
        DEADLINE,
        "the overdue subscription fetched again",
        || async { (fetches() > before).then_some(()) },
    )
    .await;
}

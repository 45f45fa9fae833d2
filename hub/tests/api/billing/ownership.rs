//! The corner rules of an event's effects (hub.md §8.5 rules 2, 3 and 5): a subscription stays
//! with the account it was first applied to, whatever later metadata says; grace starts when
//! the failure happened, not when a late delivery reached the hub; and an event as old as the
//! stored row re-reads the subscription from Stripe, whose current state wins.

use reqwest::StatusCode;
use serde_json::json;
use testkit::{TestDb, each_backend, eventually, json_of};

use super::paid_hub::{
    DEADLINE, NO_STRIPE, community, deliver, event, member, paid_hub, standing, subscription,
};

each_backend!(
    subscription_stays_with_its_account_when_later_metadata_names_another,
    grace_is_counted_from_the_failure_when_its_event_arrives_late,
    event_as_old_as_the_row_applies_the_subscription_stripe_has_now,
);

fn now_secs() -> i64 {
    testkit::now_ms() / 1000
}

/// `(account_id, status, past_due_since, last_event_created)` of the stored subscription `id`.
async fn stored(db: &TestDb, id: &str) -> (String, String, Option<i64>, i64) {
    let store = db.hub_store().await;
    let mut conn = store.acquire().await.unwrap();
    let row = hub::store::find_subscription(&mut conn, id)
        .await
        .unwrap()
        .expect("the subscription is stored");
    drop(conn);
    store.close().await;
    (
        row.account_id,
        row.status,
        row.past_due_since,
        row.last_event_created,
    )
}

async fn subscription_stays_with_its_account_when_later_metadata_names_another(db: TestDb) {
    let hub = paid_hub(&db, NO_STRIPE, |_| {}).await;
    let ((owner, owner_account), (other, other_account)) = (member(&hub).await, member(&hub).await);
    let t = now_secs();
    let first = event(
        "evt_own_1",
        "customer.subscription.created",
        t,
        subscription("sub_own", &owner_account, "active"),
    );
    assert_eq!(deliver(&hub, &first).await.status(), StatusCode::OK);

    let mut moved = subscription("sub_own", &other_account, "active");
    moved["customer"] = json!("cus_sub_own");
    let later = event("evt_own_2", "customer.subscription.updated", t + 1, moved);
    assert_eq!(deliver(&hub, &later).await.status(), StatusCode::OK);

    assert_eq!(stored(&db, "sub_own").await.0, owner_account);
    assert_eq!(
        standing(&hub, &owner).await,
        ("active".to_owned(), "paid".to_owned())
    );
    assert_eq!(
        standing(&hub, &other).await,
        ("active".to_owned(), "guest".to_owned())
    );
}

async fn grace_is_counted_from_the_failure_when_its_event_arrives_late(db: TestDb) {
    let hub = paid_hub(&db, NO_STRIPE, |_| {}).await;
    let (peer, account) = member(&hub).await;
    let failed_at = now_secs() - 2 * 86_400;
    let created = event(
        "evt_late_1",
        "customer.subscription.created",
        failed_at - 60,
        subscription("sub_late", &account, "active"),
    );
    let failed = event(
        "evt_late_2",
        "customer.subscription.updated",
        failed_at,
        subscription("sub_late", &account, "past_due"),
    );

    for delivery in [created, failed] {
        assert_eq!(deliver(&hub, &delivery).await.status(), StatusCode::OK);
    }

    assert_eq!(stored(&db, "sub_late").await.2, Some(failed_at * 1000));
    let (status, me) = json_of(hub.get_signed("/api/v1/me", &peer).await).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["account"]["state"], "grace");
    assert_eq!(
        me["account"]["grace_until"],
        json!((failed_at + 7 * 86_400) * 1000)
    );
}

async fn event_as_old_as_the_row_applies_the_subscription_stripe_has_now(db: TestDb) {
    let community = community(&db, |_| {}).await;
    let (peer, account) = member(&community.hub).await;
    let sub = community.subscribe(&account).await;
    let (_, _, _, last) = stored(&db, &sub).await;
    community.stripe.withhold();
    community
        .stripe
        .set_subscription_status(&sub, "past_due")
        .await;
    let gets_before = subscription_gets(&community, &sub);

    // Embedded `canceled`, but as old as the row: Stripe's current `past_due` must win.
    let mut embedded = community
        .stripe
        .subscription(&sub)
        .expect("the double has it");
    embedded["status"] = json!("canceled");
    let tie = event(
        "evt_tie",
        "customer.subscription.updated",
        last / 1000,
        embedded,
    );
    assert_eq!(deliver(&community.hub, &tie).await.status(), StatusCode::OK);

    assert!(
        subscription_gets(&community, &sub) > gets_before,
        "the tie re-reads Stripe"
    );
    assert_eq!(stored(&db, &sub).await.1, "past_due");
    eventually(DEADLINE, "grace after the re-read", || async {
        (standing(&community.hub, &peer).await == ("grace".to_owned(), "paid".to_owned()))
            .then_some(())
    })
    .await;
}

/// `GET /v1/subscriptions/{sub}` requests the double received.
fn subscription_gets(community: &super::paid_hub::Community, sub: &str) -> usize {
    let path = format!("/v1/subscriptions/{sub}");
    community
        .stripe
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == path)
        .count()
}

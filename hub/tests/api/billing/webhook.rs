//! The Stripe webhook (hub.md §8.4–§8.5, §18 check 14) against signed deliveries: forged, rotated
//! and stale signatures, bodies that are too large or not events, duplicates sequential and
//! concurrent, events out of order, unknown types and customers, the customer's one account, and
//! the metrics.

use hub::billing::signature;
use reqwest::StatusCode;
use serde_json::json;
use testkit::{TestDb, TestHub, code_of, each_backend, json_of};

use super::paid_hub::{
    NO_STRIPE, WEBHOOK_SECRET, counted, deliver, event, member, paid_hub, post_webhook, standing,
    subscription,
};

each_backend!(
    webhook_applies_a_subscription_after_a_valid_signature,
    webhook_rejects_forged_signatures_and_changes_nothing,
    webhook_accepts_either_secret_during_a_rotation,
    webhook_rejects_a_stale_signature,
    webhook_applies_an_event_once_when_delivered_twice,
    webhook_applies_an_event_once_when_delivered_concurrently,
    webhook_keeps_the_newer_state_when_updated_arrives_before_created,
    webhook_records_unknown_types_as_ignored,
    webhook_rejects_malformed_json_with_a_valid_signature,
    webhook_records_an_unknown_customer_as_unmatched,
    webhook_takes_bodies_up_to_one_mebibyte,
    webhook_stores_a_customer_on_one_account_only,
);

/// The `stripe_events` row of `event_id`: (source, outcome).
async fn recorded(db: &TestDb, event_id: &str) -> Option<(String, String)> {
    let store = db.hub_store().await;
    let row = store.find_stripe_event(event_id).await.unwrap();
    store.close().await;
    row.map(|r| (r.source, r.outcome))
}

fn now_secs() -> i64 {
    testkit::now_ms() / 1000
}

/// `customer.subscription.created` now, of an active `sub_1` for `account`.
fn paying(event_id: &str, account: &str) -> serde_json::Value {
    event(
        event_id,
        "customer.subscription.created",
        now_secs(),
        subscription("sub_1", account, "active"),
    )
}

/// A paid-community hub needing no Stripe, and a member of it.
async fn hub_and_member(db: &TestDb) -> (TestHub, testkit::TestPeer, String) {
    let hub = paid_hub(db, NO_STRIPE, |_| {}).await;
    let (peer, account) = member(&hub).await;
    (hub, peer, account)
}

async fn webhook_applies_a_subscription_after_a_valid_signature(db: TestDb) {
    let (hub, peer, account) = hub_and_member(&db).await;
    let before = standing(&hub, &peer).await;
    let created = paying("evt_created", &account);

    let (status, body) = json_of(deliver(&hub, &created).await).await;

    assert_eq!(
        (status, &body),
        (StatusCode::OK, &json!({"received": true}))
    );
    assert_eq!(before, ("active".to_owned(), "guest".to_owned()));
    assert_eq!(
        standing(&hub, &peer).await,
        ("active".to_owned(), "paid".to_owned())
    );
    assert_eq!(
        recorded(&db, "evt_created").await,
        Some(("webhook".to_owned(), "processed".to_owned()))
    );
    let metrics = hub.metrics().await;
    assert!(
        metrics.contains(
            "hub_billing_events_total{type=\"customer.subscription.created\",outcome=\"processed\"} 1"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("hub_webhook_seconds_count 1"), "{metrics}");
}

async fn webhook_rejects_forged_signatures_and_changes_nothing(db: TestDb) {
    let (hub, peer, account) = hub_and_member(&db).await;
    let body = paying("evt_forged", &account).to_string();
    let signed = signature::sign(WEBHOOK_SECRET, now_secs(), body.as_bytes());
    let tampered = body.replace("\"active\"", "\"trialing\"").into_bytes();
    let wrong_secret = signature::sign("whsec_someone_else", now_secs(), body.as_bytes());

    let answers = [
        code_of(post_webhook(&hub, tampered, &signed).await).await,
        code_of(post_webhook(&hub, body.clone().into_bytes(), &wrong_secret).await).await,
        code_of(post_webhook(&hub, body.clone().into_bytes(), "").await).await,
        code_of(post_webhook(&hub, body.into_bytes(), "t=1,v1=zz").await).await,
    ];

    for answer in answers {
        assert_eq!(
            answer,
            (StatusCode::BAD_REQUEST, "bad_signature".to_owned())
        );
    }
    assert_eq!(recorded(&db, "evt_forged").await, None);
    assert_eq!(standing(&hub, &peer).await.1, "guest");
    assert_eq!(counted(&hub, "other", "bad_signature").await, 4);
}

async fn webhook_accepts_either_secret_during_a_rotation(db: TestDb) {
    let hub = paid_hub(&db, NO_STRIPE, |c| {
        c.billing.webhook_secret = Some("whsec_old, whsec_new".to_owned().into());
    })
    .await;
    let (_, account) = member(&hub).await;
    // Stripe signs with every active secret: `t=…,v1=…,v1=…`.
    let delivery = |id: &str, secrets: &[&str]| {
        let t = now_secs();
        let body = event(
            id,
            "customer.subscription.updated",
            t,
            subscription(id, &account, "active"),
        )
        .to_string()
        .into_bytes();
        let v1s: Vec<String> = secrets
            .iter()
            .map(|secret| {
                let header = signature::sign(secret, t, &body);
                header.split_once(',').expect("t=…,v1=…").1.to_owned()
            })
            .collect();
        (body, format!("t={t},{}", v1s.join(",")))
    };

    let mut answers = Vec::new();
    for (id, secrets) in [
        ("evt_old", &["whsec_old"][..]),
        ("evt_new", &["whsec_new"][..]),
        ("evt_both", &["whsec_unknown", "whsec_new"][..]),
    ] {
        let (body, header) = delivery(id, secrets);
        answers.push(post_webhook(&hub, body, &header).await.status());
    }

    assert_eq!(answers, [StatusCode::OK; 3]);
    for id in ["evt_old", "evt_new", "evt_both"] {
        assert!(recorded(&db, id).await.is_some(), "{id}");
    }
}

async fn webhook_rejects_a_stale_signature(db: TestDb) {
    let (hub, _, account) = hub_and_member(&db).await;
    let body = paying("evt_stale", &account).to_string().into_bytes();
    let old = signature::sign(WEBHOOK_SECRET, now_secs() - 301, &body);

    let answer = code_of(post_webhook(&hub, body, &old).await).await;

    assert_eq!(
        answer,
        (StatusCode::BAD_REQUEST, "stale_signature".to_owned())
    );
    assert_eq!(recorded(&db, "evt_stale").await, None);
}

async fn webhook_applies_an_event_once_when_delivered_twice(db: TestDb) {
    let (hub, peer, account) = hub_and_member(&db).await;
    let created = paying("evt_twice", &account);

    let first = deliver(&hub, &created).await.status();
    let second = deliver(&hub, &created).await.status();

    assert_eq!((first, second), (StatusCode::OK, StatusCode::OK));
    assert_eq!(standing(&hub, &peer).await.1, "paid");
    assert_eq!(
        recorded(&db, "evt_twice").await.map(|r| r.1),
        Some("processed".to_owned())
    );
    let kind = "customer.subscription.created";
    assert_eq!(counted(&hub, kind, "processed").await, 1);
    assert_eq!(counted(&hub, kind, "duplicate").await, 1);
}

async fn webhook_applies_an_event_once_when_delivered_concurrently(db: TestDb) {
    let (hub, _, account) = hub_and_member(&db).await;
    let created = paying("evt_racing", &account);

    let answers = futures::future::join_all((0..8).map(|_| deliver(&hub, &created))).await;

    for answer in answers {
        assert_eq!(answer.status(), StatusCode::OK);
    }
    let kind = "customer.subscription.created";
    assert_eq!(counted(&hub, kind, "processed").await, 1);
    assert_eq!(counted(&hub, kind, "duplicate").await, 7);
}

/// §18 check 14, last part: `.updated` delivered before `.created` ends in the newer state, and an
/// older event after a newer one is `stale`.
async fn webhook_keeps_the_newer_state_when_updated_arrives_before_created(db: TestDb) {
    let (hub, peer, account) = hub_and_member(&db).await;
    let t = now_secs();
    let updated = event(
        "evt_updated",
        "customer.subscription.updated",
        t,
        subscription("sub_1", &account, "past_due"),
    );
    let created = event(
        "evt_created",
        "customer.subscription.created",
        t - 10,
        subscription("sub_1", &account, "active"),
    );

    let answers = [
        deliver(&hub, &updated).await.status(),
        deliver(&hub, &created).await.status(),
    ];

    assert_eq!(answers, [StatusCode::OK; 2]);
    assert_eq!(
        standing(&hub, &peer).await,
        ("grace".to_owned(), "paid".to_owned())
    );
    assert_eq!(
        recorded(&db, "evt_created").await.map(|r| r.1),
        Some("stale".to_owned())
    );
    assert_eq!(
        counted(&hub, "customer.subscription.created", "stale").await,
        1
    );
}

async fn webhook_records_unknown_types_as_ignored(db: TestDb) {
    let hub = paid_hub(&db, NO_STRIPE, |_| {}).await;
    let unknown = event(
        "evt_unknown",
        "customer.tax_id.created",
        now_secs(),
        json!({"id": "txi_1"}),
    );

    let status = deliver(&hub, &unknown).await.status();

    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        recorded(&db, "evt_unknown").await,
        Some(("webhook".to_owned(), "ignored".to_owned()))
    );
    assert_eq!(counted(&hub, "other", "ignored").await, 1);
}

async fn webhook_rejects_malformed_json_with_a_valid_signature(db: TestDb) {
    let hub = paid_hub(&db, NO_STRIPE, |_| {}).await;
    let bodies: Vec<Vec<u8>> = vec![
        b"{\"id\":".to_vec(),
        b"[1,2,3]".to_vec(),
        b"\xff\xfe{}".to_vec(),
        "[".repeat(100_000).into_bytes(),
        br#"{"id":"evt_huge","type":"x","created":1e400,"data":{"object":{}}}"#.to_vec(),
        br#"{"id":"evt_no_object","type":"invoice.paid","created":1,"data":{}}"#.to_vec(),
        br#"{"id":"evt_bad_sub","type":"customer.subscription.updated","created":1,"data":{"object":{"id":"sub_1"}}}"#.to_vec(),
        br#"{"id":"evt_bad_session","type":"checkout.session.completed","created":1,"data":{"object":{"id":7}}}"#.to_vec(),
    ];

    let mut answers = Vec::new();
    for body in bodies {
        let header = signature::sign(WEBHOOK_SECRET, now_secs(), &body);
        answers.push(code_of(post_webhook(&hub, body, &header).await).await);
    }

    for answer in answers {
        assert_eq!(answer, (StatusCode::BAD_REQUEST, "invalid_json".to_owned()));
    }
    assert_eq!(recorded(&db, "evt_no_object").await, None);
    assert_eq!(recorded(&db, "evt_bad_sub").await, None);
    assert_eq!(recorded(&db, "evt_bad_session").await, None);
}

async fn webhook_records_an_unknown_customer_as_unmatched(db: TestDb) {
    let hub = paid_hub(&db, NO_STRIPE, |_| {}).await;
    let mut stranger = subscription("sub_stranger", "no-such-account", "active");
    stranger["customer"] = json!("cus_nobody");

    let status = deliver(
        &hub,
        &event(
            "evt_stranger",
            "customer.subscription.created",
            now_secs(),
            stranger,
        ),
    )
    .await
    .status();

    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        recorded(&db, "evt_stranger").await.map(|r| r.1),
        Some("unmatched".to_owned())
    );
}

async fn webhook_takes_bodies_up_to_one_mebibyte(db: TestDb) {
    let (hub, _, account) = hub_and_member(&db).await;
    let mut large = subscription("sub_large", &account, "active");
    large["description"] = json!("x".repeat(512 * 1024));
    let large = event(
        "evt_large",
        "customer.subscription.created",
        now_secs(),
        large,
    );
    let oversized = vec![b' '; 1024 * 1024 + 1];
    let header = signature::sign(WEBHOOK_SECRET, now_secs(), &oversized);

    let taken = deliver(&hub, &large).await.status();
    let refused = code_of(post_webhook(&hub, oversized, &header).await).await;

    assert_eq!(taken, StatusCode::OK);
    assert_eq!(
        refused,
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large".to_owned()
        )
    );
}

/// The customer goes on the account once known, and never onto a second account: the column is
/// unique, so a second account's subscription with the same customer is applied without it.
async fn webhook_stores_a_customer_on_one_account_only(db: TestDb) {
    let (hub, _, first) = hub_and_member(&db).await;
    let (second_peer, second) = member(&hub).await;
    let mut shared_customer = subscription("sub_2", &second, "active");
    shared_customer["customer"] = json!("cus_sub_1");

    let answers = [
        deliver(&hub, &paying("evt_first", &first)).await.status(),
        deliver(
            &hub,
            &event(
                "evt_second",
                "customer.subscription.created",
                now_secs(),
                shared_customer,
            ),
        )
        .await
        .status(),
    ];

    assert_eq!(answers, [StatusCode::OK; 2]);
    let store = db.hub_store().await;
    let mut conn = store.acquire().await.unwrap();
    let holder = hub::store::find_account_id_by_customer(&mut conn, "cus_sub_1")
        .await
        .unwrap();
    assert_eq!(holder, Some(first));
    assert_eq!(standing(&hub, &second_peer).await.1, "paid");
}

#[tokio::test]
async fn webhook_answers_404_when_billing_is_off() {
    let db = TestDb::sqlite();
    let hub = TestHub::spawn(&db).await;
    let body = b"{}".to_vec();
    let header = signature::sign(WEBHOOK_SECRET, now_secs(), &body);

    let answer = code_of(post_webhook(&hub, body, &header).await).await;

    assert_eq!(
        answer,
        (StatusCode::NOT_FOUND, "billing_disabled".to_owned())
    );
}

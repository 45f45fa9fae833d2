//! Billing on the pages and in the admin views (hub.md §10, §9): the account page's billing
//! section, the member view's payments and the stats' `donations_30d`.

use hub::members::{State, Tier};
use hub::store::{self, Payment, Store};
use serde_json::Value;
use testkit::{TestDb, each_backend};

use super::{account_page, billing_hub, member, subscription};

each_backend!(
    billing_section_shows_subscription_payments_and_forms_when_signed_in,
    billing_member_view_lists_payments_and_stats_count_donations_of_30_days,
    billing_landing_lists_plans_with_prices_and_join_offers_the_choice_when_paid,
);

/// An address nothing listens on: these tests never reach Stripe.
const NOWHERE: &str = "http://127.0.0.1:9";

/// Records a paid donation of `account_id`, `age_days` old.
async fn payment(
    store: &Store,
    account_id: &str,
    id: &str,
    amount: i64,
    currency: &str,
    age_days: i64,
) {
    let mut conn = store.acquire().await.unwrap();
    let payment = Payment {
        id: id.to_owned(),
        account_id: Some(account_id.to_owned()),
        kind: "donation".to_owned(),
        amount,
        currency: currency.to_owned(),
        status: "paid".to_owned(),
        created_at: testkit::now_ms() - age_days * 86_400_000,
    };
    assert!(store::insert_payment(&mut conn, &payment).await.unwrap());
}

/// Sets account columns the webhook would set (`grace_until`) or a subscription's scheduled end.
async fn execute(store: &Store, sql: &str, value: i64, id: &str) {
    let mut conn = store.acquire().await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(value)
        .bind(id)
        .execute(&mut *conn)
        .await
        .unwrap();
}

/// The HTML of the billing section.
fn section(page: &str) -> &str {
    let start = page.find("id=\"billing\"").expect("a billing section");
    let end = page[start..].find("</section>").unwrap() + start;
    &page[start..end]
}

async fn billing_section_shows_subscription_payments_and_forms_when_signed_in(db: TestDb) {
    let hub = billing_hub(&db, NOWHERE).await;
    let store = db.hub_store().await;
    let ann = member(
        &store,
        "ann@example.org",
        State::Active,
        Tier::Paid,
        Some("cus_ann"),
    )
    .await;
    let bob = member(&store, "bob@example.org", State::Lapsed, Tier::Guest, None).await;
    let carol = member(
        &store,
        "carol@example.org",
        State::Grace,
        Tier::Paid,
        Some("cus_c"),
    )
    .await;
    // 2027-01-02 03:04 UTC and 2027-02-03 04:05 UTC.
    let period_end = 1_798_859_040_000;
    let grace_end = 1_801_627_500_000;
    subscription(&store, &ann.id, "sub_ann", "active", period_end).await;
    execute(
        &store,
        "update subscriptions set cancel_scheduled_at = $1 where id = $2",
        period_end,
        "sub_ann",
    )
    .await;
    subscription(&store, &carol.id, "sub_carol", "past_due", period_end).await;
    execute(
        &store,
        "update accounts set grace_until = $1 where id = $2",
        grace_end,
        &carol.id,
    )
    .await;
    payment(&store, &ann.id, "cs_1", 550, "usd", 1).await;

    let ann_page = account_page(&hub, &ann, "/account?checkout=success").await;
    let bob_page = account_page(&hub, &bob, "/account?checkout=cancel").await;
    let carol_page = account_page(&hub, &carol, "/account?checkout=<script>").await;

    let (_, me) = testkit::json_of(hub.get_signed("/api/v1/me", &ann.peer).await).await;
    assert_eq!(
        me["subscription"],
        serde_json::json!({"plan": "yearly", "status": "active",
                           "current_period_end": period_end, "cancel_at_period_end": true})
    );
    let ann_billing = section(&ann_page);
    assert!(
        ann_billing.contains("data-checkout=\"success\""),
        "{ann_billing}"
    );
    assert!(
        ann_billing.contains("<dd>Member</dd>"),
        "the plan by name: {ann_billing}"
    );
    assert!(ann_billing.contains("data-status=\"active\""));
    assert!(
        ann_billing.contains("<dt>Ends</dt><dd>2027-01-02 03:04 UTC</dd>"),
        "{ann_billing}"
    );
    assert!(ann_billing.contains("ends with its period"));
    assert!(
        ann_billing.contains("<td>5.50 USD</td>"),
        "the payment: {ann_billing}"
    );
    assert!(
        ann_billing.contains("action=\"/account/billing-portal\""),
        "Manage billing"
    );
    assert!(
        !ann_billing.contains("value=\"yearly\""),
        "no second subscription is offered"
    );
    for donation in ["coffee", "cake", "tip"] {
        assert!(
            ann_billing.contains(&format!("value=\"{donation}\"")),
            "{donation}"
        );
    }
    assert!(
        ann_billing.contains("name=\"amount\""),
        "the custom donation asks an amount"
    );

    let bob_billing = section(&bob_page);
    assert!(bob_billing.contains("data-checkout=\"cancel\""));
    assert!(bob_billing.contains("No subscription."));
    assert!(
        bob_billing.contains("value=\"yearly\""),
        "the subscription is offered"
    );
    assert!(bob_billing.contains("9.99 USD a year"));
    assert!(
        bob_billing.contains("A &lt;b&gt;year&lt;/b&gt; of relay &amp; presence"),
        "escaped"
    );
    assert!(
        !bob_billing.contains("billing-portal"),
        "no portal without a customer"
    );

    let second = hub
        .client
        .post(hub.url("/account/checkout"))
        .header(reqwest::header::COOKIE, &ann.cookie)
        .header(reqwest::header::ORIGIN, &hub.base_url)
        .form(&[("plan", "yearly")])
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), reqwest::StatusCode::CONFLICT);
    let refusal = second.text().await.unwrap();
    assert!(refusal.contains("Manage billing"), "{refusal}");
    assert!(!refusal.contains("Get a sign-in link"), "{refusal}");

    let carol_billing = section(&carol_page);
    assert!(
        !carol_billing.contains("data-checkout"),
        "an unknown checkout value shows nothing"
    );
    assert!(!carol_page.contains("<script>"));
    assert!(carol_billing.contains("data-status=\"past_due\""));
    assert!(carol_billing.contains("<dt>Renews</dt><dd>2027-01-02 03:04 UTC</dd>"));
    assert!(
        carol_billing.contains("<dt>Grace period ends</dt><dd>2027-02-03 04:05 UTC</dd>"),
        "{carol_billing}"
    );
}

async fn billing_member_view_lists_payments_and_stats_count_donations_of_30_days(db: TestDb) {
    let hub = billing_hub(&db, NOWHERE).await;
    let store = db.hub_store().await;
    let ann = member(&store, "ann@example.org", State::Active, Tier::Member, None).await;
    let bob = member(&store, "bob@example.org", State::Active, Tier::Member, None).await;
    payment(&store, &ann.id, "cs_a1", 500, "usd", 2).await;
    payment(&store, &ann.id, "cs_a2", 300, "eur", 1).await;
    payment(&store, &bob.id, "cs_b1", 700, "usd", 3).await;
    payment(&store, &bob.id, "cs_b2", 9_000, "usd", 31).await;
    let admin = |path: &str| {
        hub.client
            .get(hub.url(&format!("/api/v1/admin{path}")))
            .bearer_auth(crate::admin::TOKEN)
            .send()
    };

    let detail: Value = admin(&format!("/members/{}", ann.id))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stats: Value = admin("/stats").await.unwrap().json().await.unwrap();

    let payments = detail["payments"].as_array().unwrap();
    assert_eq!(payments.len(), 2);
    assert_eq!(payments[0]["id"], "cs_a2", "newest first");
    assert_eq!(payments[0]["amount"], 300);
    assert_eq!(payments[0]["currency"], "eur");
    assert_eq!(payments[1]["id"], "cs_a1");
    assert_eq!(
        stats["billing"]["donations_30d"],
        serde_json::json!({"count": 2, "amount": 1200, "currency": "usd"})
    );
}

async fn billing_landing_lists_plans_with_prices_and_join_offers_the_choice_when_paid(db: TestDb) {
    let hub = billing_hub(&db, NOWHERE).await;

    let landing = hub.get("/").await.text().await.unwrap();
    let join = hub.get("/join").await.text().await.unwrap();

    assert!(
        landing.contains("<strong>Member</strong>: 9.99 USD a year"),
        "{landing}"
    );
    assert!(landing.contains("<strong>Coffee</strong>: 5.00 USD"));
    assert!(landing.contains("<strong>Tip jar</strong>: 2.00 USD to 50.00 USD, as you choose"));
    assert!(landing.contains("A &lt;b&gt;year&lt;/b&gt; of relay &amp; presence"));
    assert!(!landing.contains("price_"), "Stripe prices stay private");
    assert!(join.contains("id=\"plan-choice\""), "{join}");
    assert!(join.contains("name=\"plan\" value=\"yearly\" checked"));
    assert!(join.contains("value=\"tip\""));
    assert!(join.contains("your account page takes you to the payment"));
}

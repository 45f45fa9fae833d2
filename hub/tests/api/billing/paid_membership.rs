//! The paid membership end to end on Postgres (hub.md §18 check 15): a peer joins a paid
//! community by email, pays through Checkout on the Stripe double, and the webhooks make it a
//! paid member with a `paid` voucher and a relay reservation; a failed payment keeps access
//! through the grace period, and the sweep lapses the account at the grace end (the hub's clock
//! moved forward, never waited for) and drops the reservation. Shuffled and duplicated
//! deliveries of the same lifecycle are `lifecycle.rs`'s.

use std::time::Duration;

use hub::config::{JoinMode, MailTransportKind};
use libp2p::swarm::SwarmEvent;
use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::clock::Clock;
use testkit::swarm::{client_with, pump, reserve};
use testkit::{SmtpSink, StripeMock, TestDb, TestHub, TestPeer, eventually, json_of, verify_token};

use super::paid_hub::{DEADLINE, PRICE, SECRET_KEY, WEBHOOK, WEBHOOK_SECRET, paid_hub};

/// A paid community in `email` mode whose mail goes to `sink`, billing against `stripe`, on
/// `clock`, sweeping every second.
async fn email_community(
    db: &TestDb,
    sink: &SmtpSink,
    stripe: &StripeMock,
    clock: &Clock,
) -> TestHub {
    let (smtp, clock) = (sink.url(), clock.clone());
    let hub = paid_hub(db, &stripe.url(), move |c| {
        c.membership.join_mode = JoinMode::Email;
        c.membership.sweep_interval = Duration::from_secs(1);
        c.email.transport = MailTransportKind::Smtp;
        c.email.smtp_url = Some(smtp.into());
        c.clock = clock;
    })
    .await;
    stripe.set_webhook(&hub.url(WEBHOOK), WEBHOOK_SECRET);
    hub
}

/// A peer that joined by email and confirmed the link: an `active` guest of the paid community.
async fn joined(hub: &TestHub, sink: &SmtpSink, email: &str) -> TestPeer {
    let peer = TestPeer::new();
    let (status, body) = json_of(peer.join(hub, &json!({ "email": email })).await).await;
    assert_eq!(status, 202, "{body}");
    let mail = sink.wait_for(DEADLINE, |m| m.to == [email]).await;
    let (status, body, _) = hub.verify(&verify_token(mail.body())).await;
    assert_eq!(status, 200, "{body}");
    peer
}

/// Starts Checkout for `plan` as `peer` and completes it on the double, as a browser would.
async fn pay(hub: &TestHub, peer: &TestPeer) {
    let (status, session) = json_of(
        hub.post_signed("/api/v1/billing/checkout", &json!({"plan": "yearly"}), peer)
            .await,
    )
    .await;
    assert_eq!(status, 200, "{session}");
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let done = browser
        .get(session["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
}

/// Waits until `peer`'s membership reads `state` and `tier`.
async fn standing(hub: &TestHub, peer: &TestPeer, state: &str, tier: &str) -> Value {
    eventually(DEADLINE, &format!("membership {state}/{tier}"), || async {
        let membership = peer.membership(hub).await;
        (membership["state"] == state && membership["tier"] == tier).then_some(membership)
    })
    .await
}

/// The Stripe subscription created for `account_id`, from the double's events.
fn subscription_of(stripe: &StripeMock, account_id: &str) -> String {
    stripe
        .events()
        .iter()
        .find(|e| {
            e["type"] == "customer.subscription.created"
                && e["data"]["object"]["metadata"]["account_id"] == account_id
        })
        .and_then(|e| e["data"]["object"]["id"].as_str().map(str::to_owned))
        .expect("a subscription was created for the account")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paid_member_keeps_access_through_grace_and_lapses_at_its_end() {
    testkit::init_tracing();
    let db = TestDb::postgres().await;
    let (sink, clock) = (SmtpSink::start().await, Clock::system());
    let stripe = StripeMock::start_with_clock(SECRET_KEY, clock.clone()).await;
    stripe.add_price(PRICE, 999, "usd", Some("year"));
    let hub = email_community(&db, &sink, &stripe, &clock).await;
    let peer = joined(&hub, &sink, "payer@example.org").await;
    let mut swarm = client_with(peer.key.clone());
    let guest = standing(&hub, &peer, "active", "guest").await;
    assert_eq!(guest["entitlements"]["relay"], false, "{guest}");
    assert!(
        reserve(&mut swarm, &hub).await.is_err(),
        "a guest may not reserve"
    );

    pay(&hub, &peer).await;

    let paid = standing(&hub, &peer, "active", "paid").await;
    assert_eq!(paid["entitlements"]["relay"], true, "{paid}");
    let (status, voucher) =
        json_of(hub.post_signed("/api/v1/vouchers", &json!({}), &peer).await).await;
    assert_eq!(status, 201, "{voucher}");
    assert_eq!(voucher["tier"], "paid");
    let expected = shared::voucher::Expected {
        subject: Some(&peer.id),
        issuers: &[hub.hub_id()],
        ..Default::default()
    };
    let claims = shared::voucher::verify(voucher["voucher"].as_str().unwrap(), &expected);
    assert_eq!(claims.map(|c| c.tier), Ok("paid".to_owned()));
    // One live connection per peer at a time: the refused swarm goes before the next one dials.
    drop(swarm);
    let mut swarm = client_with(peer.key.clone());
    reserve(&mut swarm, &hub)
        .await
        .expect("a paid member reserves");

    let account_id = paid["account_id"].as_str().unwrap().to_owned();
    stripe
        .set_subscription_status(&subscription_of(&stripe, &account_id), "past_due")
        .await;
    let grace = standing(&hub, &peer, "grace", "paid").await;
    assert_eq!(
        grace["entitlements"]["relay"], true,
        "grace keeps access: {grace}"
    );

    clock.advance(Duration::from_secs(7 * 86_400 + 60));
    let hub_id = hub.server().peer_id();
    pump(&mut [&mut swarm], DEADLINE, "the lapse to drop the reservation", |_, event| {
        matches!(event, SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } if *peer_id == hub_id)
            .then_some(())
    })
    .await;
    let lapsed = standing(&hub, &peer, "lapsed", "guest").await;
    assert_eq!(lapsed["entitlements"]["relay"], false, "{lapsed}");
    drop(swarm);
    let mut swarm = client_with(peer.key.clone());
    assert!(
        reserve(&mut swarm, &hub).await.is_err(),
        "a lapsed member may not reserve"
    );
}

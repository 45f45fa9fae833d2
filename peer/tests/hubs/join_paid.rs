//! `peer join` at a paid community (peer.md §3.6 step 6) against a hub whose Stripe is the test
//! double: the checkout URL goes to the opener (a script recording its argument), the checkout is
//! completed at the double, whose signed webhook makes the account `paid`, and the peer stores a
//! paid voucher.

use std::path::{Path, PathBuf};
use std::time::Duration;

use peer::membership::{JoinError, JoinOptions};
use peer::{Peer, PeerConfig};
use serde_json::json;
use tempfile::TempDir;
use testkit::{StripeAccount, StripeMock, TestDb, TestHub, eventually};

use super::{DEADLINE, hub_view, start_peer, url};

const SECRET_KEY: &str = "sk_test_goop_peer";
const WEBHOOK_SECRET: &str = "whsec_goop_peer";
const PRICE: &str = "price_goop_yearly";
const WEBHOOK: &str = "/api/v1/billing/stripe-webhook";

/// A paid community selling plan `yearly` through the Stripe double, open join mode.
async fn paid_hub() -> (TestHub, TestDb, StripeMock) {
    let stripe = StripeMock::start(SECRET_KEY).await;
    stripe.add_price(PRICE, 999, "usd", Some("year"));
    let db = TestDb::sqlite();
    let api = stripe.url();
    let hub = TestHub::spawn_with(&db, move |c| {
        let account = StripeAccount {
            api_base: &api,
            secret_key: SECRET_KEY,
            webhook_secret: WEBHOOK_SECRET,
            price: PRICE,
        };
        testkit::sell_yearly_plan(c, account);
        c.admin.token = Some(super::join::ADMIN.to_owned().into());
    })
    .await;
    stripe.set_webhook(&hub.url(WEBHOOK), WEBHOOK_SECRET);
    (hub, db, stripe)
}

/// A script that appends its argument to `opened` in `dir`: the checkout opener of the tests.
fn recording_opener(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let script = dir.join("opener.sh");
    let log = dir.join("opened");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n", log.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// A peer polling its membership every second, opening checkouts with the recording opener.
async fn payer(scripts: &TempDir) -> (Peer, TempDir) {
    let opener = recording_opener(scripts.path());
    start_peer(&[], move |c: &mut PeerConfig| {
        c.hubs.payment_poll_secs = 1;
        c.hubs.checkout_opener = opener.display().to_string();
    })
    .await
}

/// The URL the opener was given.
async fn opened(scripts: &TempDir) -> String {
    eventually(DEADLINE, "the opener to run", || async {
        let text = std::fs::read_to_string(scripts.path().join("opened")).ok()?;
        text.lines().next().map(str::to_owned)
    })
    .await
}

/// The checkout URL of the next `membership.state` `pending_payment` event that carries one.
async fn checkout_event(
    events: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<peer::event::Numbered>>,
) -> String {
    tokio::time::timeout(DEADLINE, async {
        loop {
            let event = serde_json::to_value(&events.recv().await.unwrap().event).unwrap();
            if event["state"] == "pending_payment"
                && let Some(url) = event["detail"].as_str()
            {
                return url.to_owned();
            }
        }
    })
    .await
    .expect("a checkout URL event")
}

/// Completes the checkout at `checkout_url` (`…/checkout/<session id>`) at the double.
async fn pay(stripe: &StripeMock, checkout_url: &str) {
    let session = checkout_url.rsplit('/').next().unwrap();
    stripe.complete_checkout(session).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_join_opens_the_checkout_and_ends_with_a_paid_voucher() {
    let (hub, _db, stripe) = paid_hub().await;
    let scripts = tempfile::tempdir().unwrap();
    let (peer, _dir) = payer(&scripts).await;
    let h = url(&hub.base_url);
    let mut events = peer.events();
    let options = JoinOptions {
        open_browser: true,
        wait: DEADLINE,
        ..JoinOptions::default()
    };

    let join = peer.join_hub(&h, options);
    let checkout = async { pay(&stripe, &opened(&scripts).await).await };
    let (joined, ()) = tokio::join!(join, checkout);

    let joined = joined.unwrap();
    assert_eq!(joined.tier.as_deref(), Some("paid"));
    let voucher = peer.node().store.voucher(&h).await.unwrap().unwrap();
    let claims = shared::voucher::verify(&voucher, &Default::default()).unwrap();
    assert_eq!(claims.tier, "paid");
    let mut states = Vec::new();
    while let Ok(e) = events.try_recv() {
        if e.event.kind() == "membership.state" {
            states.push(serde_json::to_value(&e.event).unwrap());
        }
    }
    let checkout = states
        .iter()
        .find(|s| s["state"] == "pending_payment" && s["detail"].is_string());
    assert_eq!(
        checkout.map(|s| s["detail"].clone()),
        Some(json!(opened(&scripts).await)),
        "{states:?}"
    );
    peer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_api_answers_202_checkout_and_the_join_ends_once_paid() {
    let (hub, _db, stripe) = paid_hub().await;
    let scripts = tempfile::tempdir().unwrap();
    let (peer, _dir) = payer(&scripts).await;
    let api = format!("http://{}", peer.http_addr().unwrap());

    let answer = reqwest::Client::new()
        .post(format!("{api}/api/hubs/join"))
        .json(&json!({ "url": hub.base_url, "plan": "yearly" }))
        .send()
        .await
        .unwrap();
    let (status, body) = testkit::json_of(answer).await;

    assert_eq!(status, 202, "{body}");
    assert_eq!(body["state"], "pending_payment");
    assert_eq!(body["action"]["kind"], "checkout");
    let checkout = body["action"]["url"].as_str().unwrap().to_owned();
    assert!(
        std::fs::metadata(scripts.path().join("opened")).is_err(),
        "no browser without open_browser"
    );
    pay(&stripe, &checkout).await;
    let h = url(&hub.base_url);
    eventually(Duration::from_secs(15), "a paid voucher", || async {
        let row = peer.node().store.membership(&h).await.ok()??;
        (row.tier.as_deref() == Some("paid") && row.voucher_expires_at.is_some()).then_some(())
    })
    .await;
    peer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpaid_checkout_ends_with_exit_5_when_the_wait_runs_out() {
    let (hub, _db, _stripe) = paid_hub().await;
    let scripts = tempfile::tempdir().unwrap();
    let (peer, _dir) = payer(&scripts).await;
    let h = url(&hub.base_url);
    let options = JoinOptions {
        wait: Duration::from_secs(2),
        ..JoinOptions::default()
    };

    let error = peer.join_hub(&h, options).await.unwrap_err();

    assert!(
        matches!(&error, JoinError::PaymentNotCompleted { url } if url.contains("/checkout/")),
        "{error}"
    );
    assert_eq!(error.exit_code(), 5);
    assert!(peer.node().store.voucher(&h).await.unwrap().is_none());
    let row = peer.node().store.membership(&h).await.unwrap().unwrap();
    assert_eq!(row.state, "active", "the state the hub reports");
    peer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_join_through_the_daemon_prints_the_checkout_url_and_exits_0_once_paid() {
    let (hub, _db, stripe) = paid_hub().await;
    let scripts = tempfile::tempdir().unwrap();
    let (daemon, _dir) = payer(&scripts).await;
    let mut events = daemon.events();
    let cli_dir = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_peer"));
    command
        .arg("--data-dir")
        .arg(cli_dir.path())
        .args(["join", &hub.base_url, "--no-browser", "--wait", "15"])
        .env("PEER_HTTP__ADDR", daemon.http_addr().unwrap().to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = command.spawn().unwrap();
    let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap());

    let checkout = checkout_event(&mut events).await;
    pay(&stripe, &checkout).await;
    let output = output.await.unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("pay at {checkout}")), "{stderr}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("active paid"));
    assert!(
        std::fs::metadata(scripts.path().join("opened")).is_err(),
        "--no-browser opens nothing"
    );
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_while_the_checkout_waits_ends_the_join_with_exit_2() {
    let (hub, _db, _stripe) = paid_hub().await;
    let scripts = tempfile::tempdir().unwrap();
    let (peer, _dir) = payer(&scripts).await;
    let h = url(&hub.base_url);
    let mut events = peer.events();
    let options = JoinOptions {
        wait: DEADLINE,
        ..JoinOptions::default()
    };

    let join = peer.join_hub(&h, options);
    let ban = async {
        checkout_event(&mut events).await;
        let account = hub.account_of(super::join::ADMIN, &peer.peer_id()).await;
        super::join::admin(
            &hub,
            &format!("/members/{account}/ban"),
            &json!({"reason": "fraud"}),
        )
        .await;
    };
    let (error, ()) = tokio::join!(join, ban);

    let error = error.unwrap_err();
    assert_eq!(error, JoinError::Refused("banned".to_owned()));
    assert_eq!(error.exit_code(), 2);
    assert!(peer.node().store.voucher(&h).await.unwrap().is_none());
    peer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_plan_exits_2_and_a_failing_stripe_exits_4() {
    let (hub, _db, stripe) = paid_hub().await;
    let scripts = tempfile::tempdir().unwrap();
    let (peer, _dir) = payer(&scripts).await;
    let h = url(&hub.base_url);
    let with_plan = |plan: &str| JoinOptions {
        plan: Some(plan.to_owned()),
        wait: DEADLINE,
        ..JoinOptions::default()
    };

    let unknown = peer.join_hub(&h, with_plan("lifetime")).await.unwrap_err();
    stripe.set_api_failure(Some(500));
    let upstream = peer.join_hub(&h, with_plan("yearly")).await.unwrap_err();

    assert_eq!(unknown, JoinError::Refused("unknown_plan".to_owned()));
    assert_eq!(unknown.exit_code(), 2);
    assert_eq!(upstream.exit_code(), 4, "{upstream}");
    assert!(peer.node().store.voucher(&h).await.unwrap().is_none());
    peer.shutdown().await;
}

/// The sum of the hub's `hub_http_requests_total` samples whose route label is `route`.
async fn requests_to(hub: &TestHub, route: &str) -> f64 {
    let label = format!("route=\"{route}\"");
    hub.metrics()
        .await
        .lines()
        .filter(|l| l.starts_with("hub_http_requests_total{") && l.contains(&label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// peer.md §15.3 check 3: when a paid member's subscription ends, the hub closes its session with
/// 4003 `membership_lapsed`; the peer shows `lapsed`, opens no new session while it keeps
/// re-reading its membership, and resumes presence by itself once the hub grants it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lapsed_member_stops_presence_without_reconnecting_and_resumes_once_granted_again() {
    let (hub, _db, stripe) = paid_hub().await;
    let scripts = tempfile::tempdir().unwrap();
    let opener = recording_opener(scripts.path());
    let (peer, _dir) = start_peer(&[], move |c: &mut PeerConfig| {
        c.hubs.payment_poll_secs = 1;
        c.hubs.membership_reread_secs = 1;
        c.hubs.checkout_opener = opener.display().to_string();
    })
    .await;
    let h = url(&hub.base_url);
    let mut events = peer.events();
    let options = JoinOptions {
        wait: DEADLINE,
        ..JoinOptions::default()
    };
    let paying = async {
        let checkout = checkout_event(&mut events).await;
        pay(&stripe, &checkout).await;
        checkout
    };
    let (joined, checkout) = tokio::join!(peer.join_hub(&h, options), paying);
    assert_eq!(joined.unwrap().tier.as_deref(), Some("paid"));
    hub_view(&peer, &h, "online", |v| v.state == "online").await;
    let session = checkout.rsplit('/').next().unwrap();
    let subscription = stripe.checkout_session(session).unwrap()["subscription"]
        .as_str()
        .unwrap()
        .to_owned();

    stripe
        .set_subscription_status(&subscription, "canceled")
        .await;

    let lapsed = hub_view(&peer, &h, "lapsed and offline", |v| {
        v.membership.as_deref() == Some("lapsed") && v.state != "online"
    })
    .await;
    let sessions = requests_to(&hub, "/ws").await;
    let reads = requests_to(&hub, "/api/v1/membership").await;
    // Three more membership reads: the peer kept re-reading, and opened no session meanwhile.
    eventually(DEADLINE, "three more membership reads", || async {
        (requests_to(&hub, "/api/v1/membership").await >= reads + 3.0).then_some(())
    })
    .await;
    let sessions_while_lapsed = requests_to(&hub, "/ws").await - sessions;
    let account = hub.account_of(super::join::ADMIN, &peer.peer_id()).await;
    let until = shared::clock::unix_ms() + 86_400_000;
    super::join::admin(
        &hub,
        &format!("/members/{account}/comp"),
        &json!({ "until": until }),
    )
    .await;

    let back = hub_view(&peer, &h, "online again", |v| v.state == "online").await;
    assert!(!lapsed.presence_allowed);
    assert_eq!(sessions_while_lapsed, 0.0, "a session opened while lapsed");
    assert_eq!(back.membership.as_deref(), Some("active"));
    assert_eq!(back.tier.as_deref(), Some("comped"));
    peer.shutdown().await;
}

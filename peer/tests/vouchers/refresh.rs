//! Voucher refresh (peer.md §3.6): a stored voucher is renewed once less than 20 % of its
//! lifetime is left; a renewal capped by the hub is kept. The hub issues 60 s vouchers and shares
//! the peer's clock, which the tests move.

use std::time::Duration;

use peer::hub_url::HubUrl;
use peer::membership::JoinOptions;
use peer::{Node, Peer};
use serde_json::json;
use shared::clock::Clock;
use tempfile::TempDir;
use testkit::{TestDb, TestHub};

use super::{DEADLINE, admin_json, open_hub, start_peer};

/// An open hub issuing 60 s vouchers and a peer joined to it, both on `clock`.
async fn joined_on(clock: &Clock) -> (TestHub, TestDb, Peer, TempDir, HubUrl, i64) {
    joined_with(clock, |_| {}).await
}

/// [`joined_on`] at a hub changed by `adjust`.
async fn joined_with(
    clock: &Clock,
    adjust: impl FnOnce(&mut hub::Config),
) -> (TestHub, TestDb, Peer, TempDir, HubUrl, i64) {
    let hub_clock = clock.clone();
    let (hub, db) = open_hub(move |c| {
        c.clock = hub_clock;
        c.vouchers.ttl = Duration::from_secs(60);
        adjust(c);
    })
    .await;
    let peer_clock = clock.clone();
    let (peer, dir) = start_peer(move |c| c.clock = peer_clock).await;
    let url = HubUrl::parse(&hub.base_url).unwrap();
    let options = JoinOptions {
        wait: DEADLINE,
        ..JoinOptions::default()
    };
    let joined = peer.join_hub(&url, options).await.unwrap();
    let expires_at = joined.voucher_expires_at.unwrap();
    (hub, db, peer, dir, url, expires_at)
}

/// Waits for a stored voucher of `url` with an expiry other than `old`; its row.
async fn renewed(node: &Node, url: &HubUrl, old: i64) -> peer::store::MembershipRow {
    testkit::eventually(DEADLINE, "a renewed voucher", || async {
        let row = node.store.membership(url).await.ok()??;
        (row.voucher_expires_at != Some(old)).then_some(row)
    })
    .await
}

/// Waits for a `membership.state` event of `url`.
async fn membership_event(
    events: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<peer::event::Numbered>>,
    url: &HubUrl,
) -> serde_json::Value {
    tokio::time::timeout(DEADLINE, async {
        loop {
            let event = events.recv().await.unwrap();
            let data = serde_json::to_value(&event.event).unwrap();
            if event.event.kind() == "membership.state" && data["url"] == url.as_str() {
                return data;
            }
        }
    })
    .await
    .expect("a membership.state event")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voucher_is_renewed_once_a_fifth_of_its_lifetime_is_left() {
    let clock = Clock::system();
    let (_hub, _db, peer, _dir, url, old) = joined_on(&clock).await;
    let mut events = peer.events();

    clock.advance(Duration::from_secs(50));

    let row = renewed(peer.node(), &url, old).await;
    assert!(row.voucher_expires_at.unwrap() >= old + 49_000, "{row:?}");
    assert_eq!(row.state, "active");
    let voucher = peer.node().store.voucher(&url).await.unwrap().unwrap();
    let claims = shared::voucher::verify(&voucher, &Default::default()).unwrap();
    assert_eq!(claims.exp as i64 * 1000, row.voucher_expires_at.unwrap());
    assert_eq!(membership_event(&mut events, &url).await["state"], "active");
    peer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_capped_by_the_hub_is_kept_and_announced() {
    let clock = Clock::system();
    let (hub, _db, peer, _dir, url, old) = joined_on(&clock).await;
    let account = hub.account_of(super::ADMIN, &peer.peer_id()).await;
    let until = clock.now_ms() + 55_000;
    admin_json(
        &hub,
        &format!("/members/{account}/comp"),
        &json!({"until": until}),
    )
    .await;
    let mut events = peer.events();

    clock.advance(Duration::from_secs(50));

    let row = renewed(peer.node(), &url, old).await;
    let kept = row.voucher_expires_at.unwrap();
    assert!(kept < old && kept <= until, "{kept} {old} {until}");
    assert_eq!(row.tier.as_deref(), Some("comped"));
    assert_eq!(membership_event(&mut events, &url).await["state"], "active");
    peer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renew_now_fetches_a_new_voucher_at_once_and_refuses_without_a_membership() {
    let clock = Clock::system();
    let (_hub, _db, peer, _dir, url, old) = joined_on(&clock).await;
    clock.advance(Duration::from_secs(2));

    let renewed = peer::membership::refresh::renew_now(peer.node(), &url)
        .await
        .unwrap();
    let stranger = HubUrl::parse("http://127.0.0.1:9").unwrap();
    let refused = peer::membership::refresh::renew_now(peer.node(), &stranger).await;

    assert!(renewed >= old + 1000, "{renewed} {old}");
    let row = peer.node().store.membership(&url).await.unwrap().unwrap();
    assert_eq!(row.voucher_expires_at, Some(renewed));
    assert_eq!(
        refused,
        Err(peer::membership::JoinError::Refused("none".to_owned()))
    );
    peer.shutdown().await;
}

/// How often `hub` answered `POST /api/v1/vouchers` with `status`.
async fn voucher_answers(hub: &TestHub, status: u16) -> u64 {
    let status = format!("status=\"{status}\"");
    hub.metrics()
        .await
        .lines()
        .filter(|l| l.contains("route=\"/api/v1/vouchers\"") && l.contains(&status))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_renewal_waits_retry_after_then_asks_again() {
    let clock = Clock::system();
    let (hub, _db, peer, _dir, _url, _old) = joined_with(&clock, |c| {
        c.rate_limits.voucher_peer = hub::config::RateLimit::new(1, 3600.0);
    })
    .await;

    clock.advance(Duration::from_secs(50));
    testkit::eventually(DEADLINE, "a first 429", || async {
        (voucher_answers(&hub, 429).await == 1).then_some(())
    })
    .await;
    // Retry-After (capped at 10 min) passes on the clock: the schedule asks again.
    clock.advance(Duration::from_secs(601));

    testkit::eventually(DEADLINE, "a second 429", || async {
        (voucher_answers(&hub, 429).await == 2).then_some(())
    })
    .await;
    peer.shutdown().await;
}

//! The reservation state machine against real hubs (peer.md §3.5, §15.3 check 4).

use super::*;
use testkit::deploy::sample_sum;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_member_attempts_no_reservation_at_a_members_only_relay() {
    let mut s = setup(JoinMode::Email, Policy::Members, false, |_| {}).await;

    assert_eq!(s.next_state().await.0, "not_entitled");

    let hub_id = s.hub.server().peer_id();
    assert!(!s.peer.node().net.is_connected(hub_id).await.unwrap());
    assert_no_relay_use(&s.hub).await;
    s.peer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_reservation_is_denied_and_retried_after_30_then_60_seconds() {
    // The registry still says we may reserve (a stale view); the relay refuses.
    let mut s = setup(JoinMode::Email, Policy::Members, true, |_| {}).await;

    let first = s.states_until("denied").await.pop().unwrap().1.unwrap();
    metrics_showing(&s.hub, &["hub_relay_denied_total{reason=\"not_member\"} 1"]).await;
    s.assert_quiet().await;
    s.peer.node().clock.advance(Duration::from_secs(31));
    let second = s.states_until("denied").await.pop().unwrap().1.unwrap();

    assert!(first.ends_with("retry in 30s"), "{first}");
    assert!(second.ends_with("retry in 60s"), "{second}");
    metrics_showing(&s.hub, &["hub_relay_denied_total{reason=\"not_member\"} 2"]).await;
    s.peer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_reserves_and_losing_the_entitlement_leaves_not_entitled_without_retries() {
    let mut s = setup(JoinMode::Open, Policy::Members, true, |r| {
        r.recovery_grace = Duration::from_secs(60);
    })
    .await;
    s.states_until("reserved").await;
    metrics_showing(&s.hub, &["hub_relay_reservations{tier=\"member\"} 1"]).await;

    let peer_id = s.peer.peer_id();
    s.hub
        .server()
        .set_rights(peer_id, Rights::NONE, "banned")
        .await;
    assert_eq!(s.next_state().await.0, "recovering");
    // The hubs module's membership re-read finds no `relay` entitlement.
    s.peer
        .node()
        .hubs
        .update(&s.url, |h| h.relay_allowed = false);
    assert_eq!(s.next_state().await.0, "not_entitled");
    s.peer.node().clock.advance(Duration::from_secs(3600));
    s.assert_quiet().await;

    assert_no_relay_use(&s.hub).await;
    s.peer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_relay_connection_is_redialled_after_the_grace_and_reserved_again() {
    let mut s = setup(JoinMode::Email, Policy::Any, true, |r| {
        r.recovery_grace = Duration::from_secs(60);
    })
    .await;
    s.states_until("reserved").await;
    let first = s.peer.node().hubs.get(&s.url).unwrap().circuit_addr;

    let hub_id = s.hub.server().peer_id();
    assert!(s.peer.node().net.disconnect(hub_id).await.unwrap());
    let (state, detail) = s.next_state().await;
    assert_eq!(state, "recovering", "{detail:?}");
    s.assert_quiet().await;
    s.peer.node().clock.advance(Duration::from_secs(61));
    let states = s.states_until("reserved").await;

    assert_eq!(states[0].0, "reserving", "{states:?}");
    assert_eq!(s.peer.node().hubs.get(&s.url).unwrap().circuit_addr, first);
    metrics_showing(&s.hub, &["hub_relay_reservations{tier=\"none\"} 1"]).await;
    s.peer.shutdown().await;
}

/// The hub's relay refused nothing and holds no reservation (every family is served from start,
/// at zero).
async fn assert_no_relay_use(hub: &TestHub) {
    let metrics = hub.metrics().await;
    assert_eq!(
        sample_sum(&metrics, "hub_relay_denied_total"),
        0.0,
        "{metrics}"
    );
    assert_eq!(
        sample_sum(&metrics, "hub_relay_reservations"),
        0.0,
        "{metrics}"
    );
}

//! peer.md §15.3 check 1 against a real hub: every signed call of a peer whose clock is 90 s
//! ahead succeeds after at most one `stale_timestamp` answer per client, and signed reads sent
//! back to back are never refused as `replayed`.

use std::time::Duration;

use peer::hubs::PulseOutcome;
use peer::hubs::client::HubClient;
use reqwest::Method;
use shared::clock::Clock;

use super::join::options;
use super::{hub_view, open_hub, sees, start_peer, url};

/// The hub's 401 answers so far (`stale_timestamp`, `replayed`, `bad_signature`, …), summed over
/// every route.
async fn unauthorized(hub: &testkit::TestHub) -> f64 {
    hub.metrics()
        .await
        .lines()
        .filter(|l| l.starts_with("hub_http_requests_total{") && l.contains("status=\"401\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_calls_succeed_with_a_clock_90_s_ahead_and_back_to_back_reads_are_never_replayed() {
    let (hub, _db) = open_hub(|_| {}).await;
    let h = url(&hub.base_url);
    let (b, _db_dir) = start_peer(&[&hub.base_url], |_| {}).await;
    hub_view(&b, &h, "online", |v| v.state == "online").await;
    let (a, _da) = start_peer(&[], |c| c.clock.advance(Duration::from_secs(90))).await;
    let refused_before = unauthorized(&hub).await;

    // Join (join, membership, voucher), presence (publish, WS v2), pulse: each signed.
    let joined = a.join_hub(&h, options()).await.unwrap();
    hub_view(&a, &h, "online", |v| v.state == "online").await;
    sees(&a, &b.node().peer_id, &h, true).await;
    let pulse = a.node().hubs.pulse(&h, &b.node().peer_id).await.unwrap();
    let refused_off = unauthorized(&hub).await - refused_before;

    // Ten signed reads in a row from one client with a right clock.
    let client = HubClient::new(h.clone(), b.node().key.clone(), Clock::system());
    let hub_id = b.node().hubs.get(&h).unwrap().hub_id.unwrap();
    client.set_hub_id(Some(hub_id.try_into().unwrap()));
    let before_reads = unauthorized(&hub).await;
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let answer = client
            .signed(
                "membership",
                Method::GET,
                "/api/v1/membership",
                None,
                Duration::from_secs(5),
            )
            .await
            .unwrap();
        statuses.push(answer.status.as_u16());
    }
    let refused_reads = unauthorized(&hub).await - before_reads;

    assert_eq!(joined.state, "active");
    assert!(joined.voucher_expires_at.is_some());
    assert!(matches!(pulse, PulseOutcome::Answered(_)), "{pulse:?}");
    // The join flow and the presence channel each hold a client; each corrects its clock from
    // the `Date` of the hub's earlier answers (its public reads), else from its first
    // `stale_timestamp` answer: at most one 401 each.
    assert!(
        refused_off <= 2.0,
        "401 answers with the clock off: {refused_off}"
    );
    assert_eq!(statuses, [200; 10]);
    assert_eq!(
        refused_reads, 0.0,
        "no read was refused (replayed or stale)"
    );
    a.shutdown().await;
    b.shutdown().await;
}

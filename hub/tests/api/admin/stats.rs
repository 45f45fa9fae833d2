//! What the administration API shows and does to the network (hub.md §9.2, §6.6, §18 check 9):
//! a ban that drops a relay reservation within 5 s, presence and stats of a live bound peer.

use std::time::Duration;

use hub::members::{State, Tier};
use libp2p::swarm::SwarmEvent;
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::swarm::{client, pump};
use testkit::{TestDb, TestPeer, each_backend};

use super::{Seed, admin_hub, get_json, post_json, seed};

each_backend!(
    ban_drops_relay_reservation_within_5_seconds_and_unban_restores,
    presence_and_stats_show_a_live_bound_peer,
);

async fn ban_drops_relay_reservation_within_5_seconds_and_unban_restores(db: TestDb) {
    let mut listener = client();
    let peer = *listener.local_peer_id();
    let store = db.hub_store().await;
    let id = seed(
        &store,
        Seed {
            peer: Some(peer),
            ..Seed::new("ann@example.org", State::Active, Tier::Member)
        },
    )
    .await;
    let hub = admin_hub(&db).await;
    let hub_id = hub.server().peer_id();
    testkit::swarm::reserve(&mut listener, &hub)
        .await
        .expect("a member reserves");

    let banned = post_json(
        &hub,
        &format!("/members/{id}/ban"),
        json!({"reason": "abuse"}),
    )
    .await;

    assert_eq!(banned.status(), StatusCode::OK);
    pump(
        &mut [&mut listener],
        Duration::from_secs(5),
        "the hub to drop the banned member",
        |_, event| {
            matches!(event, SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } if *peer_id == hub_id)
                .then_some(())
        },
    )
    .await;
    let member = get_json(&hub, &format!("/members/{id}")).await;
    assert_eq!(member["member"]["state"], "banned");
    assert_eq!(member["member"]["ban_reason"], "abuse");
    let again = testkit::swarm::reserve(&mut listener, &hub).await;
    assert!(again.is_err(), "a banned member cannot reserve");

    let unbanned = post_json(&hub, &format!("/members/{id}/unban"), json!({})).await;
    assert_eq!(unbanned.status(), StatusCode::OK);
    let member: Value = unbanned.json().await.unwrap();
    assert_eq!(
        (member["state"].as_str(), member["tier"].as_str()),
        (Some("active"), Some("member"))
    );
    testkit::swarm::reserve(&mut listener, &hub)
        .await
        .expect("the unbanned member reserves again");
    let mut fresh = client();
    let refused = testkit::swarm::reserve(&mut fresh, &hub).await;
    assert!(refused.is_err(), "an unbound peer still cannot");
}

async fn presence_and_stats_show_a_live_bound_peer(db: TestDb) {
    let peer = TestPeer::new();
    let peer_id = peer.id;
    let store = db.hub_store().await;
    let id = seed(
        &store,
        Seed {
            peer: Some(peer_id.peer_id()),
            ..Seed::new("ann@example.org", State::Active, Tier::Member)
        },
    )
    .await;
    let hub = admin_hub(&db).await;

    let published = peer.publish(&hub, &peer.msg("online", "Ann")).await;
    let presence = get_json(&hub, "/presence").await;
    let stats = get_json(&hub, "/stats").await;

    assert_eq!(published.status(), StatusCode::NO_CONTENT);
    let live = &presence["peers"][0];
    assert_eq!(live["peer_id"], peer_id.to_string());
    assert_eq!(live["account_id"], id.as_str());
    assert_eq!(live["email"], "ann@example.org");
    assert_eq!(live["signed"], true);
    assert!(live["last_seen"].as_i64().unwrap() > testkit::now_ms() - 60_000);
    assert_eq!(stats["presence"]["peers"], 1);
    assert_eq!(stats["members"]["active"], 1);
    assert_eq!(stats["members"]["banned"], 0);
    assert_eq!(stats["tiers"]["member"], 1);
    assert_eq!(stats["relay"]["reservations"], 0);
    assert_eq!(stats["billing"]["donations_30d"]["count"], 0);
    assert_eq!(stats["email"]["sent_24h"], 0);
}

//! A hub.md hub: WS v2 presence, snapshots, close codes, signed calls (§15.3 checks 1, 2, 6).

use std::time::Duration;

use futures::future::join_all;
use hub::config::JoinMode;
use peer::hubs::{HubKind, PulseOutcome};
use reqwest::Method;
use serde_json::json;
use testkit::ws::{self, next_json};
use testkit::{TcpProxy, TestDb, TestHub, TestPeer};

use super::{DEADLINE, hub_view, online_at_open_hub, open_hub, sees, start_peer, url};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_appear_in_a_hubs_presence_and_see_each_other_through_it() {
    let (hub, _db) = open_hub(|_| {}).await;
    let (a, _da) = start_peer(&[&hub.base_url], |c| c.profile.label = "Alice".into()).await;
    let (b, _db) = start_peer(&[&hub.base_url], |_| {}).await;
    let h = url(&hub.base_url);

    let view = hub_view(&a, &h, "online", |v| v.state == "online").await;
    sees(&a, &b.peer_id(), &h, true).await;
    sees(&b, &a.peer_id(), &h, true).await;

    assert_eq!(view.kind, Some(HubKind::Signed));
    assert_eq!(view.hub_id, Some(hub.server().peer_id()));
    assert!(view.presence_allowed);
    let watcher = TestPeer::new();
    let (_socket, snapshot) = watcher.open_v2(&hub).await;
    let alice = snapshot
        .iter()
        .find(|f| f["peerId"] == a.peer_id().to_base58())
        .expect("the hub's presence lists our peer");
    assert_eq!(alice["content"], "Alice");
    let seen = b.node().peers.get(&a.peer_id()).unwrap();
    assert_eq!(seen.label, "Alice");
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_snapshot_replaces_the_hubs_view_after_a_reconnect() {
    let (hub, _db) = open_hub(|_| {}).await;
    let proxy = TcpProxy::start(hub.server().http_addr()).await;
    let base = format!("http://{}", proxy.addr());
    let (a, _d) = start_peer(&[&base], |_| {}).await;
    let h = url(&base);
    let (x, y) = (TestPeer::new(), TestPeer::new());
    let (mut x_ws, _) = x.open_v2(&hub).await;
    let (mut y_ws, _) = y.open_v2(&hub).await;
    ws::send_json(&mut x_ws, &x.msg("online", "x")).await;
    ws::send_json(&mut y_ws, &y.msg("online", "y")).await;
    sees(&a, &x.peer_id(), &h, true).await;
    sees(&a, &y.peer_id(), &h, true).await;

    proxy.cut();
    hub_view(&a, &h, "the session to break", |v| v.state != "online").await;
    drop(x_ws);
    testkit::eventually(DEADLINE, "x gone from the hub", || async {
        let (_s, snapshot) = TestPeer::new().open_v2(&hub).await;
        (!snapshot.iter().any(|f| f["peerId"] == x.id.to_string())).then_some(())
    })
    .await;
    proxy.restore();

    hub_view(&a, &h, "online again", |v| v.state == "online").await;
    sees(&a, &x.peer_id(), &h, false).await;
    sees(&a, &y.peer_id(), &h, true).await;
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_seen_through_a_healthy_v2_stream_stays_online_without_heartbeats() {
    let (hub, _db) = open_hub(|c| c.presence.ws_ping = Duration::from_secs(1)).await;
    let (a, _d) = start_peer(&[&hub.base_url], |_| {}).await;
    let h = url(&hub.base_url);
    let quiet = TestPeer::new();
    let (mut quiet_ws, _) = quiet.open_v2(&hub).await;
    ws::send_json(&mut quiet_ws, &quiet.msg("online", "quiet")).await;
    sees(&a, &quiet.peer_id(), &h, true).await;
    let mut events = a.events();

    a.node().clock.advance(Duration::from_secs(90));
    // A later frame through the same stream shows it is still read; the quiet peer was never
    // refreshed and is still online.
    let later = TestPeer::new();
    later.publish(&hub, &later.msg("online", "later")).await;
    sees(&a, &later.peer_id(), &h, true).await;

    let view = a.node().peers.get(&quiet.peer_id()).unwrap();
    assert!(view.online, "{view:?}");
    assert_eq!(a.node().hubs.get(&h).unwrap().state, "online");
    while let Ok(event) = events.try_recv() {
        assert_ne!(event.event.kind(), "hub.state", "{:?}", event.event);
    }
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_consumer_close_reconnects_at_once_with_a_fresh_snapshot() {
    let (hub, _db) = open_hub(|c| {
        c.presence.ws_queue = 1;
        c.rate_limits.publish_ip = shared::rate_limit::RateLimit {
            burst: 100_000,
            refill_secs: 0.001,
        };
    })
    .await;
    // Our peer reaches the hub through a proxy that can stop reading, as a slow client does.
    let (proxy, through_proxy) = TcpProxy::in_front_of(&hub.base_url).await;
    let (a, _d) = start_peer(&[&through_proxy], |_| {}).await;
    let h = url(&through_proxy);
    hub_view(&a, &h, "online", |v| v.state == "online").await;
    let start = a
        .node()
        .events
        .subscribe_after(0)
        .0
        .last()
        .map_or(0, |e| e.id);

    // Our peer is the hub's only subscriber. While the proxy holds its bytes, the talkers'
    // updates fill the socket buffers and then the one-frame queue.
    let talkers: Vec<TestPeer> = (0..40).map(|_| TestPeer::new()).collect();
    let hub_ref = &hub;
    let publish_all = |content: String| {
        join_all(talkers.iter().map(move |t| {
            let msg = t.msg("online", &content);
            async move { t.publish(hub_ref, &msg).await.status() }
        }))
    };
    let joined = publish_all("talker".to_owned()).await;
    // A loaded machine may refuse a publish; only the accepted ones are in presence.
    let talkers: Vec<&TestPeer> = talkers
        .iter()
        .zip(&joined)
        .filter(|(_, status)| status.is_success())
        .map(|(talker, _)| talker)
        .collect();
    assert!(!talkers.is_empty(), "{joined:?}");
    proxy.stall();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    for round in 0.. {
        assert!(std::time::Instant::now() < deadline, "no 4008");
        publish_all(format!("talker {round}")).await;
        let metrics = hub.metrics().await;
        if metrics
            .lines()
            .any(|l| l.starts_with("hub_presence_slow_consumers_total") && !l.ends_with(" 0"))
        {
            break;
        }
    }
    proxy.resume();

    // The event ring keeps the transitions even when a receiver would have lagged.
    let states = testkit::eventually(DEADLINE, "connecting, then online", || async {
        let (kept, _) = a.node().events.subscribe_after(start);
        let states: Vec<String> = kept
            .iter()
            .filter_map(|e| match &e.event {
                peer::event::Event::HubState(change) => Some(change.state.clone()),
                _ => None,
            })
            .collect();
        (states.last().map(String::as_str) == Some("online")).then_some(states)
    })
    .await;
    // At once: `connecting` right after the close (a loaded machine may fail the first attempt).
    assert_eq!(
        states.first().map(String::as_str),
        Some("connecting"),
        "{states:?}"
    );
    for talker in talkers {
        sees(&a, &talker.peer_id(), &h, true).await;
    }
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_refusing_presence_with_4003_is_not_retried() {
    let db = TestDb::sqlite();
    let hub = TestHub::spawn_with(&db, |c| c.membership.join_mode = JoinMode::Email).await;
    let (a, _d) = start_peer(&[&hub.base_url], |_| {}).await;
    let h = url(&hub.base_url);

    let view = hub_view(&a, &h, "refused", |v| v.state == "refused").await;

    assert_eq!(view.membership.as_deref(), Some("none"));
    assert_eq!(view.last_error.as_deref(), Some("not_member"));
    assert!(!view.presence_allowed);
    let sessions_before = hub.metrics().await;
    let mut events = a.events();
    // A reconnect loop would show as new state changes; the hub closes and reopens nothing.
    tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            if let Ok(e) = events.recv().await
                && e.event.kind() == "hub.state"
            {
                panic!("state changed after a refusal: {:?}", e.event);
            }
        }
    })
    .await
    .unwrap_err();
    let _ = sessions_before;
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_calls_succeed_with_the_clock_90_s_off() {
    let (hub, _db) = open_hub(|_| {}).await;
    let key = libp2p::identity::ed25519::Keypair::generate();
    let clock = shared::clock::Clock::system();
    clock.advance(Duration::from_secs(90));
    let client = peer::hubs::client::HubClient::new(url(&hub.base_url), key, clock);
    let info = peer::hubs::discovery::read_info(&client).await.unwrap();
    client.set_hub_id(Some(info.id));
    let fresh = peer::hubs::client::HubClient::new(
        url(&hub.base_url),
        libp2p::identity::ed25519::Keypair::generate(),
        {
            let c = shared::clock::Clock::system();
            c.advance(Duration::from_secs(90));
            c
        },
    );
    fresh.set_hub_id(client.hub_id());

    // The first one learnt the offset from `Date`; the fresh one retries once after 401.
    for c in [&client, &fresh] {
        for _ in 0..3 {
            let answer = c
                .signed(
                    "membership",
                    Method::GET,
                    "/api/v1/membership",
                    None,
                    Duration::from_secs(5),
                )
                .await
                .unwrap();
            assert_eq!(answer.status, 200);
        }
        assert!(c.offset_ms() < -80_000, "{}", c.offset_ms());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulse_at_a_signed_hub_is_signed_and_rate_limited() {
    let (_hub, _db, a, _d, h) = online_at_open_hub().await;
    let absent = TestPeer::new().peer_id();

    let first = a.node().hubs.pulse(&h, &absent).await.unwrap();
    let second = a.node().hubs.pulse(&h, &absent).await;

    assert!(
        matches!(first, PulseOutcome::Skip(ref code) if code == "not_found" || code == "relay_disabled"),
        "{first:?}"
    );
    assert!(
        matches!(second, Err(peer::hubs::HubCallError::RateLimited(_))),
        "{second:?}"
    );
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_a_hub_says_offline_and_forgets_it() {
    let (hub, _db, a, _d, h) = online_at_open_hub().await;
    let watcher = TestPeer::new();
    let (mut watch, snapshot) = watcher.open_v2(&hub).await;
    assert!(
        snapshot
            .iter()
            .any(|f| f["peerId"] == a.peer_id().to_base58())
    );
    let api = format!("http://{}", a.http_addr().unwrap());
    let client = reqwest::Client::new();

    let listed: serde_json::Value = client
        .get(format!("{api}/api/hubs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let leave = || {
        client
            .post(format!("{api}/api/hubs/leave"))
            .json(&json!({ "url": hub.base_url }))
            .send()
    };
    let left = leave().await.unwrap();
    let again = leave().await.unwrap();

    assert_eq!(listed[0]["kind"], "signed");
    assert_eq!(listed[0]["state"], "online");
    assert_eq!(listed[0]["source"], "config");
    assert_eq!(left.status(), 200);
    assert_eq!(again.status(), 404);
    let offline = loop {
        let frame = next_json(&mut watch).await;
        if frame["peerId"] == a.peer_id().to_base58() && frame["type"] == "offline" {
            break frame;
        }
    };
    assert_eq!(offline["type"], "offline");
    assert!(a.node().hubs.get(&h).is_none());
    assert!(a.node().store.list_hubs().await.unwrap().is_empty());
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_listen_address_is_announced_with_an_update() {
    let (hub, _db, a, _d, _h) = online_at_open_hub().await;
    let watcher = TestPeer::new();
    let (mut watch, _) = watcher.open_v2(&hub).await;
    let before = a.listen_addrs().len();

    a.node()
        .net
        .listen_on("/ip4/127.0.0.1/tcp/0".parse().unwrap())
        .await
        .unwrap();

    tokio::time::timeout(DEADLINE, async {
        loop {
            let frame = next_json(&mut watch).await;
            if frame["peerId"] == a.peer_id().to_base58()
                && frame["type"] == "update"
                && frame["addrs"]
                    .as_array()
                    .is_some_and(|list| list.len() > before)
            {
                return;
            }
        }
    })
    .await
    .expect("an update carrying the new address");
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_added_later_starts_its_channel_and_is_stored() {
    let (hub, _db) = open_hub(|_| {}).await;
    let (a, _d) = start_peer(&[], |_| {}).await;
    let h = url(&hub.base_url);

    let added = a
        .node()
        .hubs
        .add(h.clone(), peer::store::HubSource::Api)
        .await
        .unwrap();
    let again = a
        .node()
        .hubs
        .add(h.clone(), peer::store::HubSource::Api)
        .await
        .unwrap();

    assert!(added);
    assert!(!again);
    hub_view(&a, &h, "online", |v| v.state == "online").await;
    let rows = a.node().store.list_hubs().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].source, peer::store::HubSource::Api);
    a.shutdown().await;
}

//! The rules of peer.md §3.4 on the table itself (times passed in), then the table's tasks on a
//! running peer whose clock the tests move.

use std::sync::Arc;
use std::time::Duration;

use libp2p::identity::ed25519;
use shared::ids::Ed25519PeerId;
use shared::presence::{MsgType, PresenceMsg};
use tokio::sync::broadcast;

use super::*;
use crate::event::Numbered;
use crate::{Peer, PeerConfig};

const TTL: i64 = 20_000;
const GRACE: i64 = 15 * 60_000;

fn id() -> Ed25519PeerId {
    ed25519::Keypair::generate().public().into()
}

fn msg(peer: &Ed25519PeerId, label: &str) -> PresenceMsg {
    let mut msg = PresenceMsg::offline(*peer, 1);
    msg.kind = MsgType::Online;
    msg.content = label.to_owned();
    msg
}

fn hub(n: u8) -> Source {
    Source::Hub(HubUrl::parse(&format!("http://hub{n}.example")).unwrap())
}

fn table() -> (PeerTable, broadcast::Receiver<Arc<Numbered>>) {
    let events = Events::default();
    let rx = events.subscribe();
    (PeerTable::new(events), rx)
}

fn online(table: &PeerTable, peer: &Ed25519PeerId) -> bool {
    table.get(&peer.peer_id()).is_some_and(|v| v.online)
}

fn drain(rx: &mut broadcast::Receiver<Arc<Numbered>>) -> Vec<Event> {
    std::iter::from_fn(|| rx.try_recv().ok())
        .map(|n| n.event.clone())
        .collect()
}

#[test]
fn gossip_and_legacy_sightings_expire_after_ttl_without_frames() {
    let (table, _rx) = table();
    let (a, b) = (id(), id());
    table.upsert(Source::Gossip, &msg(&a, "a"), false, 0);
    table.upsert(hub(1), &msg(&b, "b"), false, 0);

    table.prune(TTL, TTL, GRACE);
    assert!(online(&table, &a) && online(&table, &b));
    table.prune(TTL + 1, TTL, GRACE);

    assert!(!online(&table, &a));
    assert!(!online(&table, &b));
}

#[test]
fn a_fresh_frame_keeps_a_ttl_sighting_live() {
    let (table, _rx) = table();
    let a = id();
    table.upsert(Source::Gossip, &msg(&a, "a"), false, 0);

    table.upsert(Source::Gossip, &msg(&a, "a"), false, TTL);
    table.prune(TTL + 1, TTL, GRACE);

    assert!(online(&table, &a));
}

#[test]
fn v2_sightings_do_not_expire_while_the_stream_is_healthy() {
    let (table, _rx) = table();
    let a = id();
    table.begin_snapshot(&hub(1), 0);
    table.upsert(hub(1), &msg(&a, "a"), true, 0);
    table.end_snapshot(&hub(1), 0);

    table.prune(50 * TTL, TTL, GRACE);

    let view = table.get(&a.peer_id()).unwrap();
    assert!(view.online);
    assert!(view.verified);
    assert_eq!(
        view.last_seen,
        50 * TTL,
        "last_seen advances with the clock"
    );
}

#[test]
fn snapshot_end_takes_offline_what_the_new_snapshot_lacks() {
    let (table, _rx) = table();
    let (kept, dropped, elsewhere) = (id(), id(), id());
    table.begin_snapshot(&hub(1), 0);
    table.upsert(hub(1), &msg(&kept, "k"), false, 0);
    table.upsert(hub(1), &msg(&dropped, "d"), false, 0);
    table.upsert(hub(2), &msg(&elsewhere, "e"), false, 0);
    table.end_snapshot(&hub(1), 0);

    table.begin_snapshot(&hub(1), 10);
    table.upsert(hub(1), &msg(&kept, "k"), false, 11);
    table.end_snapshot(&hub(1), 12);

    assert!(online(&table, &kept));
    assert!(!online(&table, &dropped));
    assert!(online(&table, &elsewhere));
}

#[test]
fn sightings_of_an_ended_stream_expire_ttl_after_the_end() {
    let (table, _rx) = table();
    let a = id();
    table.begin_snapshot(&hub(1), 0);
    table.upsert(hub(1), &msg(&a, "a"), false, 0);
    table.end_snapshot(&hub(1), 0);

    table.stream_ended(&hub(1), 100 * TTL);
    table.prune(101 * TTL, TTL, GRACE);
    assert!(online(&table, &a));
    table.prune(101 * TTL + 1, TTL, GRACE);

    assert!(!online(&table, &a));
}

#[test]
fn a_new_snapshot_within_ttl_of_a_stream_end_keeps_its_peers() {
    let (table, _rx) = table();
    let (a, b) = (id(), id());
    table.begin_snapshot(&hub(1), 0);
    table.upsert(hub(1), &msg(&a, "a"), false, 0);
    table.upsert(hub(1), &msg(&b, "b"), false, 0);
    table.end_snapshot(&hub(1), 0);
    table.stream_ended(&hub(1), 1_000);

    table.begin_snapshot(&hub(1), 5_000);
    table.upsert(hub(1), &msg(&a, "a"), false, 5_001);
    table.end_snapshot(&hub(1), 5_002);
    table.prune(1_000 + 10 * TTL, TTL, GRACE);

    assert!(online(&table, &a));
    assert!(!online(&table, &b));
}

#[test]
fn forgetting_a_source_takes_its_sightings_offline_at_once() {
    let (table, _rx) = table();
    let (a, b) = (id(), id());
    table.begin_snapshot(&hub(1), 0);
    table.upsert(hub(1), &msg(&a, "a"), false, 0);
    table.upsert(hub(1), &msg(&b, "b"), false, 0);
    table.upsert(Source::Gossip, &msg(&b, "b"), false, 0);

    table.forget_source(&hub(1), 1);

    assert!(!online(&table, &a));
    assert!(online(&table, &b), "gossip still sees b");
    assert!(table.hubs_seeing(&b.peer_id()).is_empty());
}

#[test]
fn offline_peers_are_removed_after_grace_except_favourites_and_blocked() {
    let (table, mut rx) = table();
    let (plain, favourite, blocked) = (id(), id(), id());
    for peer in [&plain, &favourite, &blocked] {
        table.upsert(Source::Gossip, &msg(peer, "x"), false, 0);
    }
    assert!(table.set_favorite(&favourite.peer_id(), true, 0));
    assert!(table.set_blocked(&blocked.peer_id(), true, 0));
    table.prune(TTL + 1, TTL, GRACE);
    drain(&mut rx);

    table.prune(TTL + 1 + GRACE, TTL, GRACE);
    assert!(table.get(&plain.peer_id()).is_some());
    table.prune(TTL + 2 + GRACE, TTL, GRACE);

    assert!(table.get(&plain.peer_id()).is_none());
    assert!(table.get(&favourite.peer_id()).unwrap().favorite);
    assert!(table.is_blocked(&blocked.peer_id()));
    assert_eq!(
        drain(&mut rx),
        vec![Event::PeerGone(PeerGone {
            peer_id: plain.peer_id().to_base58()
        })]
    );
}

#[test]
fn scalars_take_the_newest_message_but_empty_version_and_key_never_overwrite() {
    let (table, _rx) = table();
    let a = id();
    let mut first = msg(&a, "old");
    first.goop_client_version = "goop-peer/1".to_owned();
    first.public_key = "key".to_owned();
    first.addrs = vec!["/ip4/192.0.2.1/tcp/1".to_owned()];
    table.upsert(hub(1), &first, false, 10);

    let mut second = msg(&a, "new");
    second.addrs = vec!["/ip4/192.0.2.2/tcp/2".to_owned()];
    table.upsert(Source::Gossip, &second, false, 20);
    let mut stale = msg(&a, "stale");
    stale.goop_client_version = "goop-peer/0".to_owned();
    table.upsert(hub(2), &stale, false, 15);

    let view = table.get(&a.peer_id()).unwrap();
    assert_eq!(view.label, "new");
    assert_eq!(view.client_version, "goop-peer/1");
    assert_eq!(table.public_key(&a.peer_id()), "key");
    assert_eq!(
        table.addrs(&a.peer_id()),
        vec!["/ip4/192.0.2.2/tcp/2".parse::<Multiaddr>().unwrap()]
    );
    assert_eq!(view.sightings.len(), 3);
}

#[test]
fn verified_comes_from_hubs_that_currently_see_the_peer() {
    let (table, _rx) = table();
    let a = id();
    table.upsert(Source::Gossip, &msg(&a, "a"), true, 0);
    assert!(!table.get(&a.peer_id()).unwrap().verified);

    table.upsert(hub(1), &msg(&a, "a"), true, 1);
    assert!(table.get(&a.peer_id()).unwrap().verified);
    assert_eq!(table.hubs_seeing(&a.peer_id()).len(), 1);

    table.mark_offline(&hub(1), &a.peer_id(), 2);
    let view = table.get(&a.peer_id()).unwrap();
    assert!(!view.verified);
    assert!(view.online, "gossip still sees it");
    assert!(table.hubs_seeing(&a.peer_id()).is_empty());
}

#[test]
fn events_are_emitted_only_on_real_changes() {
    let (table, mut rx) = table();
    let a = id();

    table.upsert(Source::Gossip, &msg(&a, "a"), false, 0);
    table.upsert(Source::Gossip, &msg(&a, "a"), false, 5_000);
    assert_eq!(drain(&mut rx).len(), 1, "a heartbeat is not a change");
    table.upsert(Source::Gossip, &msg(&a, "renamed"), false, 6_000);
    assert_eq!(drain(&mut rx).len(), 1);
    table.mark_offline(&Source::Gossip, &a.peer_id(), 7_000);
    table.mark_offline(&Source::Gossip, &a.peer_id(), 8_000);
    table.prune(9_000, TTL, GRACE);

    let events = drain(&mut rx);
    assert_eq!(events.len(), 1);
    let Event::PeerUpdate(view) = &events[0] else {
        panic!("{events:?}");
    };
    assert_eq!(view["online"], false);
}

#[test]
fn two_probe_failures_two_seconds_apart_make_a_peer_unreachable() {
    let (table, _rx) = table();
    let a = id();
    let peer = a.peer_id();
    table.upsert(Source::Gossip, &msg(&a, "a"), false, 0);
    assert_eq!(table.lock().take_due_probes(0, 8), vec![peer]);
    assert!(table.lock().take_due_probes(0, 8).is_empty(), "in flight");

    table.record_probe(&peer, false, 100);
    assert!(table.lock().take_due_probes(1_000, 8).is_empty());
    assert_eq!(table.lock().take_due_probes(2_100, 8), vec![peer]);
    table.record_probe(&peer, false, 1_500);
    assert_eq!(table.get(&peer).unwrap().reachable, None, "under 2 s apart");
    table.lock().take_due_probes(2_100, 8);
    table.record_probe(&peer, false, 2_100);
    assert_eq!(table.get(&peer).unwrap().reachable, Some(false));

    table.upsert(Source::Gossip, &msg(&a, "a"), false, 3_000);
    assert_eq!(table.lock().take_due_probes(3_000, 8), vec![peer]);
    table.record_probe(&peer, true, 3_100);
    assert_eq!(table.get(&peer).unwrap().reachable, Some(true));
    table.upsert(Source::Gossip, &msg(&a, "a"), false, 4_000);
    assert!(table.lock().take_due_probes(4_000, 8).is_empty());
}

#[test]
fn due_probes_are_bounded_and_skip_offline_and_blocked_peers() {
    let (table, _rx) = table();
    let peers: Vec<Ed25519PeerId> = (0..5).map(|_| id()).collect();
    for peer in &peers {
        table.upsert(Source::Gossip, &msg(peer, "x"), false, 0);
    }
    table.mark_offline(&Source::Gossip, &peers[0].peer_id(), 0);
    table.set_blocked(&peers[1].peer_id(), true, 0);

    let first = table.lock().take_due_probes(0, 2);
    let rest = table.lock().take_due_probes(0, 8);

    assert_eq!(first.len(), 2);
    assert_eq!(rest.len(), 1);
    for skipped in [&peers[0], &peers[1]] {
        assert!(!first.contains(&skipped.peer_id()) && !rest.contains(&skipped.peer_id()));
    }
}

#[test]
fn list_filters_by_hub_and_by_online() {
    let (table, _rx) = table();
    let (a, b) = (id(), id());
    table.upsert(hub(1), &msg(&a, "a"), false, 0);
    table.upsert(Source::Gossip, &msg(&b, "b"), false, 0);
    table.mark_offline(&Source::Gossip, &b.peer_id(), 1);

    let hub_1 = match hub(1) {
        Source::Hub(url) => url,
        Source::Gossip => unreachable!(),
    };

    assert_eq!(table.list(None, false).len(), 2);
    assert_eq!(table.list(None, true).len(), 1);
    let seen_at_hub = table.list(Some(&hub_1), false);
    assert_eq!(seen_at_hub.len(), 1);
    assert_eq!(seen_at_hub[0].peer_id, a.peer_id().to_base58());

    // a is online through gossip but went offline at hub 1: listed there, not as online there.
    table.upsert(Source::Gossip, &msg(&a, "a"), false, 2);
    table.mark_offline(&hub(1), &a.peer_id(), 3);
    assert!(
        table
            .list(None, true)
            .iter()
            .any(|v| v.peer_id == a.peer_id().to_base58())
    );
    assert_eq!(table.list(Some(&hub_1), false).len(), 1);
    assert!(table.list(Some(&hub_1), true).is_empty());
}

#[test]
fn a_full_table_evicts_the_longest_offline_peer_and_never_a_favourite() {
    let (table, _rx) = table();
    let favourite = id();
    table.set_favorite(&favourite.peer_id(), true, 0);
    let first = id();
    table.upsert(Source::Gossip, &msg(&first, "first"), false, 1);
    table.mark_offline(&Source::Gossip, &first.peer_id(), 1);
    for i in 2..MAX_PEERS as i64 {
        table.upsert(Source::Gossip, &msg(&id(), "x"), false, i);
    }
    assert_eq!(table.list(None, false).len(), MAX_PEERS);

    let newcomer = id();
    table.upsert(Source::Gossip, &msg(&newcomer, "n"), false, 1_000_000);
    let another = id();
    table.upsert(Source::Gossip, &msg(&another, "late"), false, 1_000_001);

    assert!(table.get(&first.peer_id()).is_none());
    assert!(table.get(&favourite.peer_id()).is_some());
    assert!(table.get(&newcomer.peer_id()).is_some());
    assert!(
        table.get(&another.peer_id()).is_none(),
        "no offline peer left to evict"
    );
    assert_eq!(table.list(None, false).len(), MAX_PEERS);
}

async fn start(dir: &std::path::Path) -> Peer {
    let mut config = PeerConfig::for_tests(dir);
    config.http.enabled = false;
    config.presence.gossip = false;
    Peer::start(config).await.unwrap()
}

async fn next_update(rx: &mut broadcast::Receiver<Arc<Numbered>>, peer: &str) -> serde_json::Value {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Ok(numbered) = rx.recv().await
                && let Event::PeerUpdate(view) = &numbered.event
                && view["peer_id"] == peer
            {
                return view.clone();
            }
        }
    })
    .await
    .expect("a peer.update within 10 s")
}

#[tokio::test]
async fn prune_tick_expires_a_gossip_sighting_when_the_clock_passes_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let peer = start(dir.path()).await;
    let node = peer.node().clone();
    let a = id();
    let mut rx = peer.events();
    node.peers
        .upsert(Source::Gossip, &msg(&a, "a"), false, node.clock.now_ms());
    assert_eq!(next_update(&mut rx, &a.to_string()).await["online"], true);

    node.clock
        .advance(Duration::from_secs(node.config.presence.ttl_secs + 1));

    assert_eq!(next_update(&mut rx, &a.to_string()).await["online"], false);
    peer.shutdown().await;
}

#[tokio::test]
async fn peer_cache_keeps_flags_and_known_peers_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (seen, favourite) = (id(), id());
    let peer = start(dir.path()).await;
    let node = peer.node().clone();
    let mut seen_msg = msg(&seen, "seen");
    seen_msg.addrs = vec!["/ip4/192.0.2.7/tcp/4001".to_owned()];
    node.peers
        .upsert(Source::Gossip, &seen_msg, false, node.clock.now_ms());
    node.peers
        .set_favorite(&favourite.peer_id(), true, node.clock.now_ms());
    peer.shutdown().await;

    let peer = start(dir.path()).await;
    let node = peer.node().clone();

    testkit::eventually(Duration::from_secs(5), "the cached peers", || async {
        (node
            .peers
            .get(&favourite.peer_id())
            .is_some_and(|v| v.favorite)
            && node.peers.get(&seen.peer_id()).is_some())
        .then_some(())
    })
    .await;
    let view = node.peers.get(&seen.peer_id()).unwrap();
    assert_eq!(view.label, "seen");
    assert!(!view.online);
    assert_eq!(
        node.peers.addrs(&seen.peer_id()),
        vec!["/ip4/192.0.2.7/tcp/4001".parse::<Multiaddr>().unwrap()]
    );
    peer.shutdown().await;
}

#[tokio::test]
async fn prune_tick_removes_peers_offline_past_grace_and_their_cache_rows() {
    let dir = tempfile::tempdir().unwrap();
    let peer = start(dir.path()).await;
    let node = peer.node().clone();
    let (plain, favourite) = (id(), id());
    let now = node.clock.now_ms();
    node.peers
        .upsert(Source::Gossip, &msg(&plain, "p"), false, now);
    node.peers
        .mark_offline(&Source::Gossip, &plain.peer_id(), now);
    node.peers.set_favorite(&favourite.peer_id(), true, now);
    let mut rx = peer.events();

    node.clock.advance(Duration::from_secs(
        node.config.presence.offline_grace_mins * 60 + 2,
    ));

    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Ok(numbered) = rx.recv().await
                && let Event::PeerGone(gone) = &numbered.event
            {
                return assert_eq!(gone.peer_id, plain.to_string());
            }
        }
    })
    .await
    .expect("peer.gone within 10 s");
    assert!(node.peers.get(&favourite.peer_id()).is_some());
    testkit::eventually(Duration::from_secs(5), "the cache rows", || async {
        let rows = node.store.list_peer_cache(10).await.unwrap();
        (rows.iter().all(|r| r.peer_id != plain.peer_id())
            && rows.iter().any(|r| r.peer_id == favourite.peer_id()))
        .then_some(())
    })
    .await;
    peer.shutdown().await;
}

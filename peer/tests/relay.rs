//! Relay reservations, dialling through circuits and `/goop/relay-refresh/1.0.0` against real
//! hubs on loopback (peer.md §2.1, §3.5, §15.3 check 4). The hub registry entries (kind, relay
//! parameters from `GET /relay`, entitlement) are written by the tests, as the hubs module does
//! in production.

use std::sync::Arc;
use std::time::Duration;

use futures::{AsyncReadExt as _, AsyncWriteExt as _, StreamExt as _};
use hub::Rights;
use hub::config::{JoinMode, Policy};
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId, StreamProtocol};
use peer::event::{Event, Numbered};
use peer::hub_url::HubUrl;
use peer::hubs::{Admission, HubKind, HubView, RelayInfo};
use peer::peers::Source;
use peer::store::HubSource;
use peer::{Peer, PeerConfig};
use shared::presence::{MsgType, PresenceMsg};
use testkit::{TestDb, TestHub, TestPeer};
use tokio::sync::broadcast;

const DEADLINE: Duration = Duration::from_secs(15);
const ECHO: StreamProtocol = StreamProtocol::new("/goop/test-echo/1.0.0");

async fn hub_with(join_mode: JoinMode, reservations: Policy, sources: Policy) -> TestHub {
    TestHub::spawn_with(&TestDb::sqlite(), |config| {
        config.membership.join_mode = join_mode;
        config.relay.reservations = reservations;
        config.relay.circuit_sources = sources;
    })
    .await
}

/// A peer without direct listeners (as behind NAT); it is reachable only through relays.
async fn peer_behind_nat() -> (tempfile::TempDir, Peer) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = PeerConfig::for_tests(dir.path());
    config.p2p.listen = false;
    config.http.enabled = false;
    let peer = Peer::start(config).await.unwrap();
    (dir, peer)
}

/// `GET {hub}/relay` as the hubs module reads it (§3.5 rule 1 applied: `/p2p/<id>` appended).
async fn relay_info(hub: &TestHub) -> RelayInfo {
    let doc: serde_json::Value = hub
        .client
        .get(hub.url("/relay"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let peer_id: PeerId = doc["peer_id"].as_str().unwrap().parse().unwrap();
    let mut addrs: Vec<Multiaddr> = doc["addrs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str()?.parse().ok())
        .collect();
    if addrs.is_empty() {
        addrs.push(hub.p2p_addr());
    }
    for addr in &mut addrs {
        if !matches!(addr.iter().last(), Some(Protocol::P2p(_))) {
            addr.push(Protocol::P2p(peer_id));
        }
    }
    let secs = |key: &str| Duration::from_secs(doc[key].as_u64().unwrap());
    RelayInfo {
        peer_id,
        addrs,
        cleanup_delay: Duration::from_millis(100),
        poll_deadline: secs("poll_deadline_sec"),
        connect_timeout: secs("connect_timeout_sec"),
        refresh_interval: secs("refresh_interval_sec"),
        recovery_grace: secs("recovery_grace_sec"),
    }
}

/// Adds `hub` to the peer's registry as the hubs module would after discovery.
fn join(peer: &Peer, url: &HubUrl, relay: RelayInfo, relay_allowed: bool, sources: Admission) {
    let mut view = HubView::new(url.clone(), HubSource::Api);
    view.kind = Some(HubKind::Signed);
    view.hub_id = Some(relay.peer_id);
    view.state = "online".to_owned();
    view.presence_allowed = true;
    view.relay_allowed = relay_allowed;
    view.circuit_sources = sources;
    view.relay = Some(relay);
    assert!(peer.node().hubs.insert(view));
}

/// A hub (relay reservations and circuit sources both `policy`) and a peer behind NAT whose
/// registry holds it with `relay_allowed`, subscribed to events before the hub is added.
struct Setup {
    hub: TestHub,
    url: HubUrl,
    peer: Peer,
    events: broadcast::Receiver<Arc<Numbered>>,
    _dir: tempfile::TempDir,
}

async fn setup(
    join_mode: JoinMode,
    policy: Policy,
    relay_allowed: bool,
    adjust: impl FnOnce(&mut RelayInfo),
) -> Setup {
    let hub = hub_with(join_mode, policy, policy).await;
    let url = url_of(&hub);
    let (dir, peer) = peer_behind_nat().await;
    let events = peer.events();
    let mut relay = relay_info(&hub).await;
    adjust(&mut relay);
    let sources = match policy {
        Policy::Any => Admission::Any,
        Policy::Members => Admission::Members,
    };
    join(&peer, &url, relay, relay_allowed, sources);
    Setup {
        hub,
        url,
        peer,
        events,
        _dir: dir,
    }
}

impl Setup {
    /// The next `relay.state` of the hub, within the deadline.
    async fn next_state(&mut self) -> (String, Option<String>) {
        tokio::time::timeout(DEADLINE, next_relay_state(&mut self.events, &self.url))
            .await
            .expect("a relay.state event")
    }

    /// Every relay state up to `want`.
    async fn states_until(&mut self, want: &str) -> Vec<(String, Option<String>)> {
        relay_states_until(&mut self.events, &self.url, want).await
    }

    /// Fails when a relay state is published within the next second.
    async fn assert_quiet(&mut self) {
        let next = next_relay_state(&mut self.events, &self.url);
        let got = tokio::time::timeout(Duration::from_secs(1), next).await;
        assert!(got.is_err(), "the relay state changed: {got:?}");
    }
}

fn url_of(hub: &TestHub) -> HubUrl {
    HubUrl::parse(&hub.base_url).unwrap()
}

/// The next `relay.state` event of `url`: (state, detail).
async fn next_relay_state(
    events: &mut broadcast::Receiver<Arc<Numbered>>,
    url: &HubUrl,
) -> (String, Option<String>) {
    loop {
        let event = events.recv().await.expect("event stream open");
        if let Event::RelayState(change) = &event.event
            && change.url == url.as_str()
        {
            return (change.state.clone(), change.detail.clone());
        }
    }
}

/// Waits (up to 15 s) for relay state `want` of `url`, returning every state seen on the way.
async fn relay_states_until(
    events: &mut broadcast::Receiver<Arc<Numbered>>,
    url: &HubUrl,
    want: &str,
) -> Vec<(String, Option<String>)> {
    let run = async {
        let mut seen = Vec::new();
        loop {
            let state = next_relay_state(events, url).await;
            let done = state.0 == want;
            seen.push(state);
            if done {
                return seen;
            }
        }
    };
    tokio::time::timeout(DEADLINE, run)
        .await
        .unwrap_or_else(|_| panic!("relay state {want} within {DEADLINE:?}"))
}

fn presence_of(peer: &Peer) -> PresenceMsg {
    let id = peer.peer_id().try_into().unwrap();
    let mut msg = PresenceMsg::offline(id, shared::clock::unix_ms());
    msg.kind = MsgType::Online;
    msg.content = "relayed".to_owned();
    msg
}

/// The hub's metrics once they show every `line`.
async fn metrics_showing(hub: &TestHub, lines: &[&str]) -> String {
    testkit::eventually(DEADLINE, &format!("metrics showing {lines:?}"), || async {
        let text = hub.metrics().await;
        lines.iter().all(|line| text.contains(line)).then_some(text)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_peers_behind_nat_reach_each_other_through_the_hub_relay() {
    let hub = hub_with(JoinMode::Email, Policy::Any, Policy::Any).await;
    let url = url_of(&hub);
    let (_da, a) = peer_behind_nat().await;
    let (_db, b) = peer_behind_nat().await;
    let mut a_events = a.events();
    let mut incoming = a.node().net.streams().accept(ECHO).unwrap();

    for peer in [&a, &b] {
        join(peer, &url, relay_info(&hub).await, true, Admission::Any);
    }
    let states = relay_states_until(&mut a_events, &url, "reserved").await;
    assert_eq!(states[0].0, "reserving", "{states:?}");
    let circuit = a.node().hubs.get(&url).unwrap().circuit_addr.unwrap();
    assert!(circuit.to_string().contains("/p2p-circuit"), "{circuit}");
    metrics_showing(&hub, &["hub_relay_reservations{tier=\"none\"} 2"]).await;

    // B learns of A from the hub's presence, without any direct address.
    b.node().peers.upsert(
        Source::Hub(url.clone()),
        &presence_of(&a),
        true,
        shared::clock::unix_ms(),
    );
    peer::dial::connect(b.node(), a.peer_id()).await.unwrap();
    let mut stream = b
        .node()
        .net
        .streams()
        .open_stream(a.peer_id(), ECHO)
        .await
        .unwrap();
    stream.write_all(b"hello").await.unwrap();
    stream.close().await.unwrap();
    let (from, mut inbound) = tokio::time::timeout(DEADLINE, incoming.next())
        .await
        .unwrap()
        .unwrap();
    let mut got = Vec::new();
    inbound.read_to_end(&mut got).await.unwrap();

    assert_eq!(from, b.peer_id());
    assert_eq!(got, b"hello");
    metrics_showing(&hub, &["hub_relay_circuits 1"]).await;
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_member_attempts_no_reservation_at_a_members_only_relay() {
    let mut s = setup(JoinMode::Email, Policy::Members, false, |_| {}).await;

    assert_eq!(s.next_state().await.0, "not_entitled");

    let hub_id = s.hub.server().peer_id();
    assert!(!s.peer.node().net.is_connected(hub_id).await.unwrap());
    let metrics = s.hub.metrics().await;
    assert!(!metrics.contains("hub_relay_denied_total{"), "{metrics}");
    assert!(!metrics.contains("hub_relay_reservations{"), "{metrics}");
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

    let metrics = s.hub.metrics().await;
    assert!(!metrics.contains("hub_relay_denied_total{"), "{metrics}");
    assert!(
        metrics.contains("hub_relay_reservations{tier=\"member\"} 0"),
        "{metrics}"
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pulse_through_the_hub_gets_the_relay_refresh_answer() {
    let mut s = setup(JoinMode::Open, Policy::Any, true, |_| {}).await;
    s.states_until("reserved").await;

    let path = format!("/api/pulse?peer={}", s.peer.peer_id());
    let answer = s
        .hub
        .signed(&TestPeer::new(), reqwest::Method::POST, &path, Vec::new())
        .send()
        .await
        .unwrap();

    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({"ok": true, "has_circuit": true})
    );
    s.peer.shutdown().await;
}

/// Opens `/goop/relay-refresh/1.0.0` from a fresh test swarm to `peer` (which listens on
/// loopback) and reads everything that comes back; returns the swarm's PeerId first through
/// `before` so the test can register it.
async fn refresh_from(peer: &Peer, before: impl FnOnce(PeerId)) -> std::io::Result<Vec<u8>> {
    let mut swarm = testkit::swarm::client();
    before(*swarm.local_peer_id());
    let mut control = swarm.behaviour().stream.new_control();
    for addr in peer.listen_addrs() {
        swarm
            .dial(addr.clone().with(Protocol::P2p(peer.peer_id())))
            .unwrap();
    }
    let driver = tokio::spawn(async move {
        testkit::swarm::pump(&mut [&mut swarm], DEADLINE, "nothing", |_, _| None::<()>).await
    });
    let read = async {
        let mut stream = control
            .open_stream(peer.peer_id(), shared::protocol::RELAY_REFRESH)
            .await
            .map_err(std::io::Error::other)?;
        let mut got = Vec::new();
        stream.read_to_end(&mut got).await.map(|_| got)
    };
    let got = tokio::time::timeout(DEADLINE, read).await.unwrap();
    driver.abort();
    got
}

async fn listening_peer() -> (tempfile::TempDir, Peer) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = PeerConfig::for_tests(dir.path());
    config.http.enabled = false;
    let peer = Peer::start(config).await.unwrap();
    (dir, peer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_refresh_from_a_peer_that_is_not_our_relay_is_reset() {
    let (_d, peer) = listening_peer().await;

    let got = refresh_from(&peer, |_| {}).await;

    assert!(
        got.as_ref().is_err() || got.as_ref().is_ok_and(Vec::is_empty),
        "{got:?}"
    );
    peer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_refresh_from_our_relay_without_a_circuit_answers_recovering() {
    let (_d, peer) = listening_peer().await;
    let url = HubUrl::parse("http://127.0.0.1:9").unwrap();

    let got = refresh_from(&peer, |relay| {
        let info = RelayInfo {
            peer_id: relay,
            addrs: Vec::new(),
            cleanup_delay: Duration::ZERO,
            poll_deadline: Duration::ZERO,
            connect_timeout: Duration::ZERO,
            refresh_interval: Duration::ZERO,
            recovery_grace: Duration::ZERO,
        };
        join(&peer, &url, info, false, Admission::Any);
    })
    .await
    .unwrap();

    assert_eq!(
        String::from_utf8(got).unwrap(),
        "{\"ok\":false,\"has_circuit\":false,\"recovering\":true}\n"
    );
    peer.shutdown().await;
}

/// Waits for a libp2p event of `peer`'s node matching `want`.
async fn net_event(
    events: &mut broadcast::Receiver<peer::p2p::NetEvent>,
    what: &str,
    want: impl Fn(&peer::p2p::NetEvent) -> bool,
) {
    let run = async {
        loop {
            if let Ok(event) = events.recv().await
                && want(&event)
            {
                return;
            }
        }
    };
    tokio::time::timeout(DEADLINE, run)
        .await
        .unwrap_or_else(|_| panic!("{what} within {DEADLINE:?}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relayed_connections_close_ten_seconds_after_a_direct_one_is_up() {
    use peer::p2p::NetEvent;
    let hub = hub_with(JoinMode::Email, Policy::Any, Policy::Any).await;
    let url = url_of(&hub);
    let (_d, peer) = listening_peer().await;
    let mut swarm = testkit::swarm::client();
    let remote = *swarm.local_peer_id();
    testkit::swarm::reserve(&mut swarm, &hub).await.unwrap();
    let (dial_tx, mut dial_rx) = tokio::sync::mpsc::channel::<Multiaddr>(1);
    let driver = tokio::spawn(async move {
        loop {
            tokio::select! {
                Some(addr) = dial_rx.recv() => swarm.dial(addr).unwrap(),
                _ = swarm.select_next_some() => {}
            }
        }
    });
    join(&peer, &url, relay_info(&hub).await, true, Admission::Any);
    let mut msg = PresenceMsg::offline(remote.try_into().unwrap(), shared::clock::unix_ms());
    msg.kind = MsgType::Online;
    let now = shared::clock::unix_ms();
    peer.node()
        .peers
        .upsert(Source::Hub(url.clone()), &msg, true, now);
    let mut events = peer.node().net.subscribe();

    peer::dial::connect(peer.node(), remote).await.unwrap();
    net_event(&mut events, "the relayed connection", |e| {
        matches!(e, NetEvent::ConnectionEstablished { peer, relayed: true, .. } if *peer == remote)
    })
    .await;
    let direct = peer.listen_addrs()[0]
        .clone()
        .with(Protocol::P2p(peer.peer_id()));
    dial_tx.send(direct).await.unwrap();
    net_event(&mut events, "the direct connection", |e| {
        matches!(e, NetEvent::ConnectionEstablished { peer, relayed: false, .. } if *peer == remote)
    })
    .await;
    // The close is scheduled when the upgrade task sees the direct connection: move the clock
    // past the overlap until it happens.
    let clock = peer.node().clock.clone();
    let closed = net_event(
        &mut events,
        "the relayed connection closing",
        |e| matches!(e, NetEvent::ConnectionClosed { peer, remaining: 1 } if *peer == remote),
    );
    tokio::pin!(closed);
    loop {
        tokio::select! {
            () = &mut closed => break,
            () = tokio::time::sleep(Duration::from_millis(200)) => clock.advance(Duration::from_secs(11)),
        }
    }
    assert!(peer.node().net.is_connected(remote).await.unwrap());
    driver.abort();
    peer.shutdown().await;
}

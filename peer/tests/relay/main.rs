//! Relay reservations, dialling through circuits and `/goop/relay-refresh/1.0.0` against real
//! hubs on loopback (peer.md §2.1, §3.5, §15.3 check 4). The hub registry entries (kind, relay
//! parameters from `GET /relay`, entitlement) are written by the tests, as the hubs module does
//! in production.

mod circuits;
mod js;
mod refresh;
mod reservations;

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

/// A peer listening on loopback (no HTTP API).
async fn listening_peer() -> (tempfile::TempDir, Peer) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = PeerConfig::for_tests(dir.path());
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
    view.relay_entitled = relay_allowed;
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

//! Peers end to end (issue #13 "done when"): two open hubs (a peer binds at its first v2 auth,
//! hub.md §6.2), hub 2 also relaying for anyone; peers A and B listen for no direct connection
//! (as behind NAT) and have both hubs in `hubs.urls`. They see each other through both hubs'
//! presence, reach each other through a relay circuit and chat both ways; peer C appears at both
//! hubs; with hub 1 stopped A and B still chat through hub 2, and A is back at hub 1 once it
//! restarts on the same data dir, database and ports.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hub::config::{JoinMode, Policy};
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use peer::event::Event;
use peer::hub_url::HubUrl;
use peer::p2p::NetEvent;
use peer::{Peer, PeerConfig};
use serde_json::Value;
use tempfile::TempDir;
use testkit::{TestDb, TestHub, eventually};

/// Generous for a loaded machine: after hub 1's restart A waits out its reconnect backoff and
/// the relay client its recovery delay.
const DEADLINE: Duration = Duration::from_secs(60);
/// The admin token of both hubs (their presence snapshot is an admin route).
const ADMIN_TOKEN: &str = "e2e-admin-token-0123456789abcdefghijklmn";

/// Hub 1: open, default relay policy, and able to stop and start again on the same data dir,
/// database and ports.
struct Hub1 {
    config: hub::Config,
    server: Option<hub::Server>,
    url: HubUrl,
    _db: TestDb,
    _dir: TempDir,
}

impl Hub1 {
    async fn start() -> Self {
        testkit::init_tracing();
        let (db, dir) = (TestDb::sqlite(), tempfile::tempdir().unwrap());
        let mut config = hub::Config::for_tests(dir.path(), &db.url);
        config.membership.join_mode = JoinMode::Open;
        config.admin.token = Some(ADMIN_TOKEN.to_owned().into());
        config.http.bind = ([127, 0, 0, 1], free_port()).into();
        let p2p = format!("/ip4/127.0.0.1/tcp/{}", free_port());
        config.p2p.listen_addrs = vec![p2p.parse().unwrap()];
        let server = hub::Server::start(config.clone()).await.unwrap();
        let url = HubUrl::parse(&format!("http://{}", server.http_addr())).unwrap();
        Self {
            config,
            server: Some(server),
            url,
            _db: db,
            _dir: dir,
        }
    }

    async fn stop(&mut self) {
        self.server.take().expect("running").shutdown().await;
    }

    async fn restart(&mut self) {
        assert!(self.server.is_none(), "stopped first");
        self.server = Some(hub::Server::start(self.config.clone()).await.unwrap());
    }
}

/// A free loopback port (hub 1 must come back where the peers know it).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Hub 2: open, relay reservations and circuit sources both `any`.
async fn hub2() -> (TestHub, TestDb) {
    let db = TestDb::sqlite();
    let hub = TestHub::spawn_with(&db, |c| {
        c.membership.join_mode = JoinMode::Open;
        c.relay.reservations = Policy::Any;
        c.relay.circuit_sources = Policy::Any;
        c.admin.token = Some(ADMIN_TOKEN.to_owned().into());
    })
    .await;
    (hub, db)
}

/// A connection the peer's swarm established: (remote, address, relayed).
type Connection = (PeerId, Multiaddr, bool);

/// A peer without direct listeners (`p2p.listen = false`) joined to `hubs`, and every
/// connection its swarm establishes from the start.
struct NatPeer {
    peer: Peer,
    connections: Arc<Mutex<Vec<Connection>>>,
    /// The recorder fell behind and missed events.
    missed: Arc<AtomicBool>,
    _dir: TempDir,
}

impl NatPeer {
    async fn start(label: &str, hubs: &[&HubUrl]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = PeerConfig::for_tests(dir.path());
        config.profile.label = label.to_owned();
        config.p2p.listen = false;
        config.http.enabled = false;
        config.hubs.urls = hubs.iter().map(|u| u.to_string()).collect();
        let peer = Peer::start(config).await.unwrap();
        assert!(peer.listen_addrs().is_empty());
        let connections = Arc::new(Mutex::new(Vec::new()));
        let mut net = peer.node().net.subscribe();
        let seen = connections.clone();
        let lagged = Arc::new(AtomicBool::new(false));
        let missed = lagged.clone();
        tokio::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                match net.recv().await {
                    Ok(NetEvent::ConnectionEstablished {
                        peer,
                        addr,
                        relayed,
                    }) => seen.lock().unwrap().push((peer, addr, relayed)),
                    Ok(_) => {}
                    // Fails `connections_to`: a missed event could hide a direct connection.
                    Err(RecvError::Lagged(_)) => lagged.store(true, Ordering::Relaxed),
                    Err(RecvError::Closed) => return,
                }
            }
        });
        Self {
            peer,
            connections,
            missed,
            _dir: dir,
        }
    }

    fn id(&self) -> PeerId {
        self.peer.peer_id()
    }

    /// The connections to `other` established since the first `from` were recorded.
    fn connections_to(&self, other: PeerId, from: usize) -> Vec<Connection> {
        assert!(
            !self.missed.load(Ordering::Relaxed),
            "network events missed"
        );
        self.connections.lock().unwrap()[from..]
            .iter()
            .filter(|(peer, _, _)| *peer == other)
            .cloned()
            .collect()
    }

    fn recorded(&self) -> usize {
        self.connections.lock().unwrap().len()
    }

    /// Whether our table has `other` online with a live sighting from each of `hubs`.
    fn sees_at(&self, other: PeerId, hubs: &[&HubUrl]) -> bool {
        let Some(view) = self.peer.node().peers.get(&other) else {
            return false;
        };
        view.online
            && hubs.iter().all(|hub| {
                let source = format!("hub:{hub}");
                view.sightings
                    .iter()
                    .any(|s| s.source == source && !s.offline)
            })
    }

    async fn wait_sees_at(&self, other: &Self, hubs: &[&HubUrl]) {
        let what = format!("{} seeing {} at {hubs:?}", self.id(), other.id());
        eventually(DEADLINE, &what, || async {
            self.sees_at(other.id(), hubs).then_some(())
        })
        .await;
    }

    /// Waits until our view of `hub` passes `check`.
    async fn wait_hub(
        &self,
        hub: &HubUrl,
        what: &str,
        check: impl Fn(&peer::hubs::HubView) -> bool,
    ) {
        let what = format!("{} with {hub}: {what}", self.id());
        eventually(DEADLINE, &what, || async {
            self.peer
                .node()
                .hubs
                .get(hub)
                .filter(|v| check(v))
                .map(|_| ())
        })
        .await;
    }

    /// Sends `text` to `to` over direct chat and checks `to` got it: a `chat.message` event from
    /// us and the line in its stored history.
    async fn chat(&self, to: &Self, text: &str) {
        let mut events = to.peer.events();
        let sent =
            tokio::time::timeout(DEADLINE, peer::chat::send(self.peer.node(), to.id(), text))
                .await
                .expect("chat send within the deadline")
                .expect("chat delivered");
        let me = self.id().to_base58();
        let received = tokio::time::timeout(DEADLINE, async {
            loop {
                let event = events.recv().await.expect("event stream open");
                if let Event::ChatMessage(msg) = &event.event
                    && msg.from == me
                    && msg.content == text
                {
                    return msg.clone();
                }
            }
        })
        .await
        .expect("chat.message at the receiver");
        assert_eq!(received.peer_id, me);
        assert_eq!(received.msg_id, sent.msg_id.to_string());
        let history = peer::chat::history(to.peer.node(), self.id(), 100, None)
            .await
            .unwrap();
        assert!(
            history
                .iter()
                .any(|row| row.from_id == me && row.content == text),
            "{text:?} not in the receiver's history: {history:?}"
        );
    }

    /// Waits until `other` announces a circuit address through the relay `relay` in our table.
    async fn wait_circuit_of(&self, other: &Self, relay: PeerId) {
        let what = format!("a circuit address of {} through {relay}", other.id());
        eventually(DEADLINE, &what, || async {
            self.peer
                .node()
                .peers
                .addrs(&other.id())
                .iter()
                .any(|a| through(a, relay))
                .then_some(())
        })
        .await;
    }
}

/// Whether `addr` is a circuit address through `relay`.
fn through(addr: &Multiaddr, relay: PeerId) -> bool {
    addr.iter().any(|p| p == Protocol::P2pCircuit) && addr.iter().any(|p| p == Protocol::P2p(relay))
}

/// The PeerIds in a hub's own presence (`GET /api/v1/admin/presence`).
async fn hub_presence(hub: &HubUrl) -> Vec<String> {
    let body: Value = reqwest::Client::new()
        .get(hub.join("/api/v1/admin/presence"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    body["peers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["peer_id"].as_str().map(str::to_owned))
        .collect()
}

/// Waits until `hub`'s presence lists every one of `peers`.
async fn wait_hub_presence(hub: &HubUrl, peers: &[PeerId]) {
    let want: Vec<String> = peers.iter().map(|p| p.to_base58()).collect();
    eventually(
        DEADLINE,
        &format!("{hub} presence listing {want:?}"),
        || async {
            let live = hub_presence(hub).await;
            want.iter().all(|p| live.contains(p)).then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_behind_nat_chat_through_relays_across_two_hubs_and_survive_one_stopping() {
    let mut hub1 = Hub1::start().await;
    let (hub2, _db2) = hub2().await;
    let (url1, url2) = (hub1.url.clone(), HubUrl::parse(&hub2.base_url).unwrap());
    let relay1 = hub1.server.as_ref().expect("running").peer_id();
    let relay2 = hub2.server().peer_id();
    let both = [&url1, &url2];
    let a = NatPeer::start("A", &both).await;
    let b = NatPeer::start("B", &both).await;

    // Presence: each sees the other through both hubs, and both hubs list both.
    a.wait_sees_at(&b, &both).await;
    b.wait_sees_at(&a, &both).await;
    for hub in both {
        wait_hub_presence(hub, &[a.id(), b.id()]).await;
    }

    // Relay: both hold a reservation at hub 2 and announce the circuit; chat runs through a
    // circuit (neither listens, so there is no direct path).
    a.wait_circuit_of(&b, relay2).await;
    b.wait_circuit_of(&a, relay2).await;
    a.chat(&b, "hello B, from A").await;
    b.chat(&a, "hello A, from B").await;
    let (to_b, to_a) = (a.connections_to(b.id(), 0), b.connections_to(a.id(), 0));
    assert!(!to_b.is_empty() && !to_a.is_empty(), "{to_b:?} {to_a:?}");
    for (_, addr, relayed) in to_b.iter().chain(&to_a) {
        assert!(*relayed, "a direct connection between A and B: {addr}");
    }

    // Peer C joins both hubs and A sees it at both; both hubs list it.
    let c = NatPeer::start("C", &both).await;
    a.wait_sees_at(&c, &both).await;
    for hub in both {
        wait_hub_presence(hub, &[c.id()]).await;
    }

    // Hub 1 stops: A and B drop their connection and reach each other anew through hub 2.
    hub1.stop().await;
    a.wait_hub(&url1, "not online", |v| v.state != "online")
        .await;
    b.wait_hub(&url1, "not online", |v| v.state != "online")
        .await;
    let mark = (a.recorded(), b.recorded());
    a.peer.node().net.disconnect(b.id()).await.unwrap();
    eventually(DEADLINE, "A and B disconnected", || async {
        let a_to_b = a.peer.node().net.is_connected(b.id()).await.unwrap();
        let b_to_a = b.peer.node().net.is_connected(a.id()).await.unwrap();
        (!a_to_b && !b_to_a).then_some(())
    })
    .await;
    a.chat(&b, "hub 1 is gone, A here").await;
    b.chat(&a, "still here, B").await;
    let fresh: Vec<Connection> = a
        .connections_to(b.id(), mark.0)
        .into_iter()
        .chain(b.connections_to(a.id(), mark.1))
        .collect();
    // The dialling side's address names the relay; the listening side's only the dialler.
    assert!(
        fresh.iter().any(|(_, addr, _)| through(addr, relay2)),
        "no new connection through hub 2 after hub 1 stopped: {fresh:?}"
    );
    for (_, addr, relayed) in &fresh {
        assert!(*relayed, "a direct connection between A and B: {addr}");
        assert!(!addr.iter().any(|p| p == Protocol::P2p(relay1)), "{addr}");
    }

    // Hub 1 comes back on the same ports and data: A is online there again, listed, holds a
    // reservation there again, and B sees A through hub 1 once more.
    hub1.restart().await;
    a.wait_hub(&url1, "online again", |v| v.state == "online")
        .await;
    wait_hub_presence(&url1, &[a.id()]).await;
    a.wait_hub(&url1, "relay reserved again", |v| {
        v.relay_state == "reserved"
    })
    .await;
    b.wait_sees_at(&a, &both).await;

    for p in [a, b, c] {
        p.peer.shutdown().await;
    }
    hub1.stop().await;
    hub2.shutdown().await;
}

//! The libp2p probe (§4.3) against a real hub, a libp2p node with another agent, a node that
//! authenticates as someone else, a closed port and a port that never speaks.

use std::time::Duration;

use futures::StreamExt as _;
use libp2p::identity::ed25519::Keypair;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId};
use testkit::record::{hub_id, hub_record};
use testkit::{TestDb, TestHub, each_backend};

use super::Harness;
use super::info_server::{Answer, InfoServer};

fn with_p2p(c: &mut superhub::Config) {
    c.probe.p2p = true;
    c.probe.concurrency = 16;
}

fn p2p_addr(addr: &Multiaddr, id: &str) -> String {
    let peer: PeerId = id.parse().unwrap();
    addr.clone().with(Protocol::P2p(peer)).to_string()
}

each_backend!(a_goop_hub_passes_the_libp2p_probe_with_its_ping_rtt);

/// The hub is named by `/dns4/localhost/…`: the super hub resolves and checks it, then dials the IP.
async fn a_goop_hub_passes_the_libp2p_probe_with_its_ping_rtt(db: TestDb) {
    let h = Harness::start(&db, with_p2p).await;
    let hub = TestHub::spawn(&TestDb::sqlite()).await;
    let key = shared::keyfile::load(&hub.data_path().join("hub.key")).unwrap();
    let mut record = hub_record(&key, &hub.base_url, h.clock.now_ms());
    let port = hub.p2p_addr().iter().find_map(|p| match p {
        Protocol::Tcp(port) => Some(port),
        _ => None,
    });
    let by_name: Multiaddr = format!("/dns4/localhost/tcp/{}", port.unwrap())
        .parse()
        .unwrap();
    record.multiaddrs = vec![p2p_addr(&by_name, &record.id)];

    h.put(&key, &record).await;
    let rows = h.wait_for_probes(&record.id, "p2p", 1).await;

    let status = h.status(&record.id).await;
    assert_eq!(rows[0].outcome, "ok");
    assert!(rows[0].rtt_ms.is_some());
    assert_eq!(status.state, "listed", "its HTTP probe passed too");
    assert_eq!(status.p2p_rtt_ms, rows[0].rtt_ms);
    assert_eq!(status.p2p_ok_at, Some(rows[0].at));
}

each_backend!(each_failing_libp2p_node_gets_its_outcome_without_changing_the_listing);

async fn each_failing_libp2p_node_gets_its_outcome_without_changing_the_listing(db: TestDb) {
    let h = Harness::start(&db, with_p2p).await;
    let other_key = Keypair::generate();
    let other = listening_node(other_key.clone()).await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let mute = mute_listener().await;
    let impostor = Keypair::generate();
    let cases = [
        (other_key, other.clone(), "wrong_agent"),
        (impostor, other, "wrong_peer"),
        (Keypair::generate(), tcp_addr(closed), "dial_failed"),
        (Keypair::generate(), tcp_addr(mute), "timeout"),
    ];

    let mut ids = Vec::new();
    for (key, addr, outcome) in cases {
        let server = InfoServer::start(Answer::Id(hub_id(&key))).await;
        let mut record = hub_record(&key, &server.url, h.clock.now_ms());
        record.multiaddrs = vec![p2p_addr(&addr, &record.id)];
        h.put(&key, &record).await;
        ids.push((record.id, outcome, server));
    }
    for (id, outcome, _server) in &ids {
        let rows = h.wait_for_probes(id, "p2p", 1).await;
        let status = h.status(id).await;

        assert_eq!(rows[0].outcome, *outcome);
        assert_eq!(
            status.state, "listed",
            "{outcome}: the libp2p probe never gates listing"
        );
        assert_eq!((status.p2p_ok_at, status.p2p_rtt_ms), (None, None));
    }
}

fn tcp_addr(addr: std::net::SocketAddr) -> Multiaddr {
    format!("/ip4/{}/tcp/{}", addr.ip(), addr.port())
        .parse()
        .unwrap()
}

/// A plain libp2p node (identify agent `rust-libp2p/…`, ping) listening on loopback, driven by a
/// background task; returns its address.
async fn listening_node(key: Keypair) -> Multiaddr {
    let mut swarm = testkit::swarm::client_with(key);
    swarm
        .listen_on("/ip4/127.0.0.1/tcp/0".parse().unwrap())
        .unwrap();
    let addr = loop {
        if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
            break address;
        }
    };
    tokio::spawn(async move {
        loop {
            swarm.select_next_some().await;
        }
    });
    addr
}

/// A TCP port that accepts connections and never says anything.
async fn mute_listener() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
            tokio::time::sleep(Duration::ZERO).await;
        }
    });
    addr
}

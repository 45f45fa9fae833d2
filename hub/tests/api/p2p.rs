//! The hub's libp2p node over real loopback TCP with Noise and Yamux, and the limits of its stack
//! (hub.md §4.1).

use std::time::Duration;

use futures::StreamExt as _;
use libp2p::swarm::SwarmEvent;
use libp2p::{Swarm, identify, ping};
use testkit::swarm::{Client, ClientEvent, client, pump};
use testkit::{TestDb, TestHub};

#[tokio::test]
async fn peer_identifies_hub_and_pings_it_when_dialing_its_advertised_address() {
    let db = TestDb::sqlite();
    let hub = TestHub::spawn(&db).await;
    let addr = hub.p2p_addr();
    let mut swarm = client();

    swarm.dial(addr).unwrap();
    let (mut info, mut pinged) = (None, false);
    tokio::time::timeout(Duration::from_secs(10), async {
        while info.is_none() || !pinged {
            match swarm.select_next_some().await {
                SwarmEvent::Behaviour(ClientEvent::Identify(identify::Event::Received {
                    peer_id,
                    info: got,
                    ..
                })) => {
                    info = Some((peer_id, got));
                }
                SwarmEvent::Behaviour(ClientEvent::Ping(ping::Event { result: Ok(_), .. })) => {
                    pinged = true
                }
                _ => {}
            }
        }
    })
    .await
    .expect("identify and ping within 10 s");

    let (peer_id, info) = info.unwrap();
    assert_eq!(peer_id, hub.server().peer_id());
    assert_eq!(
        info.agent_version,
        format!("goop-hub/{}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(info.protocol_version, "goop/1.0.0");
}

/// The hub's TCP listener as a socket address.
fn tcp_addr(hub: &TestHub) -> std::net::SocketAddr {
    use libp2p::multiaddr::Protocol;
    let (mut ip, mut port) = (None, None);
    for proto in &hub.p2p_addr() {
        match proto {
            Protocol::Ip4(v4) => ip = Some(std::net::IpAddr::V4(v4)),
            Protocol::Tcp(p) => port = Some(p),
            _ => {}
        }
    }
    (ip.expect("an IPv4 listener"), port.expect("a TCP listener")).into()
}

/// Dials the hub with a fresh client; `Ok` once the connection is established and still open
/// after identify answered, `Err` with what ended it otherwise.
async fn try_connect(hub: &TestHub) -> (Swarm<Client>, Result<(), String>) {
    let hub_id = hub.server().peer_id();
    let mut swarm = client();
    swarm.dial(hub.p2p_addr()).unwrap();
    let outcome = pump(
        &mut [&mut swarm],
        DEADLINE,
        "the connection outcome",
        |_, event| match event {
            SwarmEvent::Behaviour(ClientEvent::Identify(identify::Event::Received {
                peer_id,
                ..
            })) if *peer_id == hub_id => Some(Ok(())),
            SwarmEvent::ConnectionClosed { cause, .. } => Some(Err(format!("closed: {cause:?}"))),
            SwarmEvent::OutgoingConnectionError { error, .. } => Some(Err(error.to_string())),
            _ => None,
        },
    )
    .await;
    (swarm, outcome)
}

const DEADLINE: Duration = Duration::from_secs(10);

#[tokio::test]
async fn connection_beyond_the_per_ip_limit_is_refused() {
    let hub = TestHub::spawn_with(&TestDb::sqlite(), |c| c.p2p.max_connections_per_ip = 2).await;
    let (first, a) = try_connect(&hub).await;
    let (second, b) = try_connect(&hub).await;
    a.unwrap();
    b.unwrap();

    let (_third, c) = try_connect(&hub).await;

    assert!(c.is_err(), "a third connection from 127.0.0.1 was served");
    drop((first, second));
}

#[tokio::test]
async fn handshakes_beyond_the_per_ip_limit_are_refused_until_one_ends() {
    let hub = TestHub::spawn_with(&TestDb::sqlite(), |c| c.p2p.max_pending_per_ip = 2).await;
    let mut silent = Vec::new();
    for _ in 0..2 {
        silent.push(
            tokio::net::TcpStream::connect(tcp_addr(&hub))
                .await
                .unwrap(),
        );
    }
    // The hub takes a socket's pending slot when it accepts it; wait until it has seen both.
    let refused = testkit::eventually(DEADLINE, "a handshake to be refused", || async {
        try_connect(&hub).await.1.err()
    })
    .await;
    assert!(!refused.is_empty());

    drop(silent);

    let served = testkit::eventually(DEADLINE, "a handshake to be served", || async {
        try_connect(&hub).await.1.ok()
    })
    .await;
    assert_eq!(served, ());
}

#[tokio::test]
async fn connection_that_does_not_finish_its_handshake_in_time_is_closed() {
    use tokio::io::AsyncReadExt as _;
    let hub = TestHub::spawn_with(&TestDb::sqlite(), |c| {
        c.p2p.handshake_timeout = Duration::from_secs(1)
    })
    .await;
    let mut silent = tokio::net::TcpStream::connect(tcp_addr(&hub))
        .await
        .unwrap();

    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(DEADLINE, async {
        loop {
            match silent.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;

    assert!(read.is_ok(), "the hub kept a silent connection open");
}

#[tokio::test]
async fn new_connections_are_refused_above_the_memory_limit() {
    let hub = TestHub::spawn_with(&TestDb::sqlite(), |c| c.p2p.max_memory_mib = 1).await;

    let (_swarm, outcome) = try_connect(&hub).await;

    assert!(
        outcome.is_err(),
        "a connection was served above the memory limit"
    );
}

/// Opens up to `n` voucher streams to the hub and holds them (the hub waits for a request that
/// never comes); ends at the first stream that fails, with its error.
fn hold_streams(
    swarm: &Swarm<Client>,
    hub_id: libp2p::PeerId,
    n: usize,
) -> tokio::task::JoinHandle<Result<Vec<libp2p::Stream>, String>> {
    let control = swarm.behaviour().stream.new_control();
    tokio::spawn(async move {
        let mut held = Vec::new();
        for _ in 0..n {
            let stream = control
                .clone()
                .open_stream(hub_id, shared::protocol::VOUCHER)
                .await
                .map_err(|e| e.to_string())?;
            held.push(stream);
        }
        Ok(held)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_opening_more_streams_than_the_cap_is_closed() {
    let hub =
        TestHub::spawn_with(&TestDb::sqlite(), |c| c.p2p.max_streams_per_connection = 8).await;
    let hub_id = hub.server().peer_id();
    let (mut swarm, outcome) = try_connect(&hub).await;
    outcome.unwrap();
    let opener = hold_streams(&swarm, hub_id, 64);

    // Without the cap the connection would outlive the deadline and this would panic.
    pump(
        &mut [&mut swarm],
        DEADLINE,
        "the hub to close the connection",
        |_, event| {
            matches!(event, SwarmEvent::ConnectionClosed { peer_id, .. } if *peer_id == hub_id)
                .then_some(())
        },
    )
    .await;
    opener.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_within_the_stream_cap_stays_open() {
    let hub = TestHub::spawn(&TestDb::sqlite()).await;
    let hub_id = hub.server().peer_id();
    let (mut swarm, outcome) = try_connect(&hub).await;
    outcome.unwrap();
    let opener = hold_streams(&swarm, hub_id, 16);
    let mut swarms = [&mut swarm];
    let watch = pump(&mut swarms, DEADLINE, "16 streams", |_, event| {
        assert!(
            !matches!(event, SwarmEvent::ConnectionClosed { .. }),
            "the hub closed a connection within the cap"
        );
        None::<()>
    });
    let held = tokio::select! {
        held = opener => held.unwrap().expect("every stream within the cap"),
        () = watch => unreachable!(),
    };

    assert_eq!(held.len(), 16);
    assert!(swarm.is_connected(&hub_id));
}

//! Dialling through hub relay circuits and closing them after a direct upgrade (peer.md §2.1).

use super::*;

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

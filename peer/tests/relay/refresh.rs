//! `/goop/relay-refresh/1.0.0` (peer.md §3.5): through a hub pulse, from strangers, from a relay.

use super::*;

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

//! Circuit relay v2 through the hub: admission by entitlement, a real circuit carrying ping and a
//! stream, denial metrics, and revocation within 5 s (hub.md §4.2, §4.3, §18 check 9).

use std::time::Duration;

use hub::Rights;
use hub::config::JoinMode;
use libp2p::swarm::SwarmEvent;
use libp2p::{ping, request_response};
use testkit::{TestDb, TestHub, TestPeer};

use testkit::swarm::{ClientEvent, circuit_addr, client, present_voucher, pump, reserve};

const DEADLINE: Duration = Duration::from_secs(10);

async fn hub_with(join_mode: JoinMode) -> TestHub {
    TestHub::spawn_with(&TestDb::sqlite(), |config| {
        config.membership.join_mode = join_mode
    })
    .await
}

/// The hub's metrics once they show every `line` (the event loop records an event shortly after
/// the client sees its effect); fails the test after 5 s.
async fn metrics_showing(hub: &TestHub, lines: &[&str]) -> String {
    testkit::eventually(
        Duration::from_secs(5),
        &format!("metrics showing {lines:?}"),
        || async {
            let text = hub.metrics().await;
            lines.iter().all(|line| text.contains(line)).then_some(text)
        },
    )
    .await
}

#[tokio::test]
async fn circuit_carries_ping_and_a_stream_when_both_peers_are_entitled() {
    let hub = hub_with(JoinMode::Open).await;
    let (mut listener, mut dialer) = (client(), client());
    let listener_id = *listener.local_peer_id();
    reserve(&mut listener, &hub)
        .await
        .expect("reservation accepted");

    dialer
        .dial(circuit_addr(&hub.p2p_addr(), listener_id))
        .unwrap();
    pump(&mut [&mut listener, &mut dialer], DEADLINE, "a ping through the circuit", |i, event| {
        matches!(event, SwarmEvent::Behaviour(ClientEvent::Ping(ping::Event { peer, result: Ok(_), .. }))
            if i == 1 && *peer == listener_id)
        .then_some(())
    })
    .await;
    dialer
        .behaviour_mut()
        .echo
        .send_request(&listener_id, "hello".to_owned());
    let reply = pump(
        &mut [&mut listener, &mut dialer],
        DEADLINE,
        "the echo reply",
        |_, event| match event {
            SwarmEvent::Behaviour(ClientEvent::Echo(request_response::Event::Message {
                message: request_response::Message::Response { response, .. },
                ..
            })) => Some(response.clone()),
            _ => None,
        },
    )
    .await;

    assert_eq!(reply, "echo: hello");
    let text = metrics_showing(
        &hub,
        &[
            "hub_relay_reservations{tier=\"member\"} 1",
            "hub_relay_circuits 1",
        ],
    )
    .await;
    let relayed: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("hub_relay_bytes_total{tier=\"member\"} "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(relayed > 0.0, "relayed bytes are counted: {text}");
}

#[tokio::test]
async fn reservation_is_refused_and_counted_when_peer_is_not_a_member() {
    let hub = hub_with(JoinMode::Email).await;
    let mut peer = client();

    let outcome = reserve(&mut peer, &hub).await;

    let error = outcome.expect_err("a non-member must not reserve");
    assert!(
        error.contains("ResourceLimitExceeded") || error.contains("PermissionDenied"),
        "{error}"
    );
    metrics_showing(&hub, &["hub_relay_denied_total{reason=\"not_member\"} 1"]).await;
}

#[tokio::test]
async fn reservation_is_accepted_when_policy_is_any_even_for_non_members() {
    let hub = TestHub::spawn_with(&TestDb::sqlite(), |config| {
        config.membership.join_mode = JoinMode::Email;
        config.relay.reservations = hub::config::Policy::Any;
    })
    .await;
    let mut peer = client();

    reserve(&mut peer, &hub)
        .await
        .expect("policy any admits everyone");

    metrics_showing(&hub, &["hub_relay_reservations{tier=\"none\"} 1"]).await;
}

#[tokio::test]
async fn circuit_is_refused_when_source_is_not_a_member() {
    let hub = TestHub::spawn_with(&TestDb::sqlite(), |config| {
        config.membership.join_mode = JoinMode::Email;
        config.relay.reservations = hub::config::Policy::Any;
    })
    .await;
    let (mut listener, mut dialer) = (client(), client());
    let listener_id = *listener.local_peer_id();
    reserve(&mut listener, &hub).await.unwrap();

    dialer
        .dial(circuit_addr(&hub.p2p_addr(), listener_id))
        .unwrap();
    let failed = pump(
        &mut [&mut listener, &mut dialer],
        DEADLINE,
        "the circuit outcome",
        |i, event| match event {
            SwarmEvent::OutgoingConnectionError {
                peer_id: Some(p),
                error,
                ..
            } if i == 1 && *p == listener_id => Some(format!("{error:?}")),
            SwarmEvent::ConnectionEstablished { peer_id, .. }
                if i == 1 && *peer_id == listener_id =>
            {
                Some("established".to_owned())
            }
            _ => None,
        },
    )
    .await;

    assert_ne!(failed, "established");
    metrics_showing(
        &hub,
        &["hub_relay_denied_total{reason=\"source_not_allowed\"} 1"],
    )
    .await;
}

#[tokio::test]
async fn serial_revocation_drops_reservation_and_circuit_within_5_seconds() {
    let hub = hub_with(JoinMode::Open).await;
    let hub_id = hub.server().peer_id();
    let (mut listener, mut dialer) = (client(), client());
    let listener_id = *listener.local_peer_id();
    reserve(&mut listener, &hub).await.unwrap();
    dialer
        .dial(circuit_addr(&hub.p2p_addr(), listener_id))
        .unwrap();
    pump(&mut [&mut listener, &mut dialer], DEADLINE, "the circuit", |i, event| {
        matches!(event, SwarmEvent::ConnectionEstablished { peer_id, .. } if i == 1 && *peer_id == listener_id)
            .then_some(())
    })
    .await;

    hub.server()
        .set_rights(listener_id, Rights::NONE, "banned")
        .await;
    let (mut hub_gone, mut circuit_gone) = (false, false);
    pump(
        &mut [&mut listener, &mut dialer],
        Duration::from_secs(5),
        "revocation to close both legs",
        |i, event| {
            if let SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } = event
            {
                hub_gone |= i == 0 && *peer_id == hub_id;
                circuit_gone |= i == 1 && *peer_id == listener_id;
            }
            (hub_gone && circuit_gone).then_some(())
        },
    )
    .await;

    let again = reserve(&mut listener, &hub).await;
    assert!(again.is_err(), "a revoked peer must not reserve again");
    metrics_showing(&hub, &["hub_relay_revocations_total{reason=\"banned\"} 1"]).await;
}

/// A voucher for `holder` signed by `issuer` (another hub), valid for an hour.
fn voucher_for(
    issuer: &libp2p::identity::ed25519::Keypair,
    holder: libp2p::PeerId,
    tier: &str,
) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = shared::voucher::Claims {
        iss: shared::ids::Ed25519PeerId::from(issuer.public()).to_string(),
        sub: holder.to_string(),
        aud: shared::voucher::AUDIENCE.to_owned(),
        community: "elsewhere".to_owned(),
        hub_url: "https://elsewhere.example.org".to_owned(),
        tier: tier.to_owned(),
        state: "active".to_owned(),
        iat: now,
        nbf: now,
        exp: now + 3600,
        jti: "test".to_owned(),
    };
    shared::voucher::sign(issuer, &claims).unwrap()
}

#[tokio::test]
async fn voucher_from_a_trusted_hub_admits_a_circuit_source_that_is_not_a_member_here() {
    let issuer = libp2p::identity::ed25519::Keypair::generate();
    let hub = TestHub::spawn_with(&TestDb::sqlite(), |config| {
        config.membership.join_mode = JoinMode::Email;
        config.relay.reservations = hub::config::Policy::Any;
        config.relay.trusted_voucher_issuers = vec![issuer.public().into()];
    })
    .await;
    let (mut listener, mut dialer) = (client(), client());
    let listener_id = *listener.local_peer_id();
    reserve(&mut listener, &hub).await.unwrap();

    let voucher = voucher_for(&issuer, *dialer.local_peer_id(), "member");
    let answer = present_voucher(&mut dialer, &hub, &voucher).await;
    dialer
        .dial(circuit_addr(&hub.p2p_addr(), listener_id))
        .unwrap();
    pump(&mut [&mut listener, &mut dialer], DEADLINE, "a ping through the circuit", |i, event| {
        matches!(event, SwarmEvent::Behaviour(ClientEvent::Ping(ping::Event { peer, result: Ok(_), .. }))
            if i == 1 && *peer == listener_id)
        .then_some(())
    })
    .await;

    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(answer["tier"], "member");
}

#[tokio::test]
async fn voucher_is_refused_with_its_code_when_untrusted_guest_or_for_another_peer() {
    let (trusted, stranger) = (
        libp2p::identity::ed25519::Keypair::generate(),
        libp2p::identity::ed25519::Keypair::generate(),
    );
    let hub = TestHub::spawn_with(&TestDb::sqlite(), |config| {
        config.membership.join_mode = JoinMode::Email;
        config.relay.trusted_voucher_issuers = vec![trusted.public().into()];
    })
    .await;
    let mut peer = client();
    let me = *peer.local_peer_id();

    let untrusted = present_voucher(&mut peer, &hub, &voucher_for(&stranger, me, "member")).await;
    let guest = present_voucher(&mut peer, &hub, &voucher_for(&trusted, me, "guest")).await;
    let not_mine = present_voucher(
        &mut peer,
        &hub,
        &voucher_for(&trusted, libp2p::PeerId::random(), "member"),
    )
    .await;
    let garbage = present_voucher(&mut peer, &hub, "not.a.jwt").await;

    assert_eq!(untrusted["error"], "untrusted_issuer");
    assert_eq!(guest["error"], "guest_tier");
    assert_eq!(not_mine["error"], "wrong_subject");
    assert_eq!(garbage["error"], "malformed");
    assert!(
        [untrusted, guest, not_mine, garbage]
            .iter()
            .all(|a| a["ok"] == false)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulse_asks_a_connected_peer_to_refresh_and_returns_its_answer() {
    use futures::{AsyncWriteExt as _, StreamExt as _};
    let hub = hub_with(JoinMode::Open).await;
    let mut target = client();
    let target_id = *target.local_peer_id();
    let mut incoming = target
        .behaviour()
        .stream
        .new_control()
        .accept(libp2p::StreamProtocol::new("/goop/relay-refresh/1.0.0"))
        .unwrap();
    tokio::spawn(async move {
        while let Some((_, mut stream)) = incoming.next().await {
            let _ = stream.write_all(br#"{"refreshed":true}"#).await;
            let _ = stream.close().await;
        }
    });
    reserve(&mut target, &hub).await.unwrap();
    let driver = tokio::spawn(async move {
        let mut swarms = [&mut target];
        pump(&mut swarms, Duration::from_secs(30), "nothing", |_, _| {
            None::<()>
        })
        .await
    });
    let caller = TestPeer::new();
    let pulse = |peer: String| {
        let path = format!("/api/pulse?peer={peer}");
        hub.signed(&caller, reqwest::Method::POST, &path, Vec::new())
            .send()
    };

    let answered = pulse(target_id.to_string()).await.unwrap();
    let absent = pulse(TestPeer::new().peer_id().to_string()).await.unwrap();
    let garbage = pulse("nope".to_owned()).await.unwrap();

    assert_eq!(answered.status(), 200);
    assert_eq!(
        answered.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({"refreshed": true})
    );
    assert_eq!(absent.status(), 404);
    assert_eq!(garbage.status(), 400);
    driver.abort();
}

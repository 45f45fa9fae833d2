//! Rendezvous through the hub: namespace = slug, only for peers with the presence right, within
//! the registration limits (hub.md §4.4).

use std::time::Duration;

use hub::config::JoinMode;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, Swarm, rendezvous};
use testkit::{TestDb, TestHub};

use testkit::swarm::{Client, ClientEvent, client, pump};

const DEADLINE: Duration = Duration::from_secs(10);

async fn connect(swarm: &mut Swarm<Client>, hub: &TestHub) {
    let hub_id = hub.server().peer_id();
    swarm.dial(hub.server().p2p_addrs()[0].clone()).unwrap();
    pump(
        &mut [&mut *swarm],
        DEADLINE,
        "connection to the hub",
        |_, event| {
            matches!(event, SwarmEvent::ConnectionEstablished { peer_id, .. } if *peer_id == hub_id)
                .then_some(())
        },
    )
    .await;
}

fn namespace() -> rendezvous::Namespace {
    rendezvous::Namespace::from_static("community")
}

#[tokio::test]
async fn registered_peer_is_discovered_when_both_are_entitled() {
    let hub = TestHub::spawn_with(&TestDb::sqlite(), |c| {
        c.membership.join_mode = JoinMode::Open
    })
    .await;
    let hub_id = hub.server().peer_id();
    let (mut alice, mut bob) = (client(), client());
    let alice_id = *alice.local_peer_id();
    let alice_addr: Multiaddr = "/ip4/127.0.0.1/tcp/4999".parse().unwrap();
    alice.add_external_address(alice_addr.clone());
    connect(&mut alice, &hub).await;
    connect(&mut bob, &hub).await;

    alice
        .behaviour_mut()
        .rendezvous
        .register(namespace(), hub_id, None)
        .unwrap();
    pump(&mut [&mut alice], DEADLINE, "registration", |_, event| {
        matches!(
            event,
            SwarmEvent::Behaviour(ClientEvent::Rendezvous(
                rendezvous::client::Event::Registered { .. }
            ))
        )
        .then_some(())
    })
    .await;
    bob.behaviour_mut()
        .rendezvous
        .discover(Some(namespace()), None, None, hub_id);
    let found = pump(
        &mut [&mut bob],
        DEADLINE,
        "discovery",
        |_, event| match event {
            SwarmEvent::Behaviour(ClientEvent::Rendezvous(
                rendezvous::client::Event::Discovered { registrations, .. },
            )) => Some(registrations.clone()),
            _ => None,
        },
    )
    .await;

    assert_eq!(found.len(), 1);
    assert_eq!(found[0].record.peer_id(), alice_id);
    assert_eq!(found[0].record.addresses(), [alice_addr]);
}

#[tokio::test]
async fn registration_fails_when_peer_lacks_the_presence_right() {
    let hub = TestHub::spawn_with(&TestDb::sqlite(), |c| {
        c.membership.join_mode = JoinMode::Email
    })
    .await;
    let hub_id = hub.server().peer_id();
    let mut mallory = client();
    mallory.add_external_address("/ip4/127.0.0.1/tcp/4998".parse().unwrap());
    connect(&mut mallory, &hub).await;

    mallory
        .behaviour_mut()
        .rendezvous
        .register(namespace(), hub_id, None)
        .unwrap();
    let outcome = outcome(&mut mallory).await;

    assert_eq!(outcome, Err(rendezvous::ErrorCode::NotAuthorized));
}

/// The answer to the registration just sent.
async fn outcome(swarm: &mut Swarm<Client>) -> Result<(), rendezvous::ErrorCode> {
    pump(
        &mut [swarm],
        DEADLINE,
        "the registration outcome",
        |_, event| match event {
            SwarmEvent::Behaviour(ClientEvent::Rendezvous(
                rendezvous::client::Event::Registered { .. },
            )) => Some(Ok(())),
            SwarmEvent::Behaviour(ClientEvent::Rendezvous(
                rendezvous::client::Event::RegisterFailed { error, .. },
            )) => Some(Err(*error)),
            _ => None,
        },
    )
    .await
}

/// A connected client with an address to register.
async fn registrant(hub: &TestHub, port: u16) -> Swarm<Client> {
    let mut swarm = client();
    swarm.add_external_address(format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap());
    connect(&mut swarm, hub).await;
    swarm
}

async fn register(
    swarm: &mut Swarm<Client>,
    hub: &TestHub,
    ns: rendezvous::Namespace,
) -> Result<(), rendezvous::ErrorCode> {
    let hub_id = hub.server().peer_id();
    swarm
        .behaviour_mut()
        .rendezvous
        .register(ns, hub_id, None)
        .unwrap();
    outcome(swarm).await
}

/// The PeerIds a DISCOVER under `ns` finds, or the hub's error code.
async fn discover(
    swarm: &mut Swarm<Client>,
    hub: &TestHub,
    ns: Option<rendezvous::Namespace>,
) -> Result<Vec<libp2p::PeerId>, rendezvous::ErrorCode> {
    let hub_id = hub.server().peer_id();
    swarm
        .behaviour_mut()
        .rendezvous
        .discover(ns, None, None, hub_id);
    pump(
        &mut [swarm],
        DEADLINE,
        "the discovery outcome",
        |_, event| match event {
            SwarmEvent::Behaviour(ClientEvent::Rendezvous(
                rendezvous::client::Event::Discovered { registrations, .. },
            )) => Some(Ok(registrations
                .iter()
                .map(|r| r.record.peer_id())
                .collect())),
            SwarmEvent::Behaviour(ClientEvent::Rendezvous(
                rendezvous::client::Event::DiscoverFailed { error, .. },
            )) => Some(Err(*error)),
            _ => None,
        },
    )
    .await
}

async fn open_hub(adjust: impl FnOnce(&mut hub::config::Config)) -> TestHub {
    TestHub::spawn_with(&TestDb::sqlite(), |c| {
        c.membership.join_mode = JoinMode::Open;
        adjust(c);
    })
    .await
}

#[tokio::test]
async fn registration_under_another_namespace_is_refused_and_not_discoverable() {
    let hub = open_hub(|_| {}).await;
    let mut alice = registrant(&hub, 4997).await;
    let mut bob = registrant(&hub, 4996).await;
    let elsewhere = || rendezvous::Namespace::from_static("elsewhere");

    let refused = register(&mut alice, &hub, elsewhere()).await;

    assert_eq!(refused, Err(rendezvous::ErrorCode::InvalidNamespace));
    assert_eq!(discover(&mut bob, &hub, None).await, Ok(Vec::new()));
    assert_eq!(
        discover(&mut bob, &hub, Some(elsewhere())).await,
        Err(rendezvous::ErrorCode::InvalidNamespace)
    );
}

#[tokio::test]
async fn registration_beyond_max_registrations_is_refused_but_a_renewal_is_not() {
    let hub = open_hub(|c| c.rendezvous.max_registrations = 1).await;
    let mut alice = registrant(&hub, 4995).await;
    let mut bob = registrant(&hub, 4994).await;
    register(&mut alice, &hub, namespace()).await.unwrap();

    let refused = register(&mut bob, &hub, namespace()).await;

    assert_eq!(refused, Err(rendezvous::ErrorCode::Unavailable));
    register(&mut alice, &hub, namespace())
        .await
        .expect("renewing a held registration");
    assert_eq!(
        discover(&mut bob, &hub, Some(namespace())).await,
        Ok(vec![*alice.local_peer_id()])
    );
}

#[tokio::test]
async fn a_peer_holds_one_registration_however_often_it_registers() {
    let hub = open_hub(|_| {}).await;
    let mut alice = registrant(&hub, 4993).await;
    let mut bob = registrant(&hub, 4992).await;

    for _ in 0..3 {
        register(&mut alice, &hub, namespace()).await.unwrap();
    }

    assert_eq!(
        discover(&mut bob, &hub, None).await,
        Ok(vec![*alice.local_peer_id()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_keeps_serving_when_a_peer_without_the_presence_right_disconnects() {
    let hub = TestHub::spawn_with(&TestDb::sqlite(), |config| {
        config.membership.join_mode = JoinMode::Email;
        config.relay.reservations = hub::config::Policy::Any;
    })
    .await;
    let hub_id = hub.server().peer_id();
    let mut outsider = client();
    connect(&mut outsider, &hub).await;

    outsider.disconnect_peer_id(hub_id).unwrap();
    pump(
        &mut [&mut outsider],
        DEADLINE,
        "the connection to close",
        |_, event| {
            matches!(event, SwarmEvent::ConnectionClosed { peer_id, .. } if *peer_id == hub_id)
                .then_some(())
        },
    )
    .await;

    let mut member = client();
    testkit::swarm::reserve(&mut member, &hub)
        .await
        .expect("the hub's libp2p node still serves");
}

#[tokio::test]
async fn registration_is_dropped_when_the_peer_loses_the_presence_right() {
    let hub = open_hub(|_| {}).await;
    let mut alice = registrant(&hub, 4991).await;
    let mut bob = registrant(&hub, 4990).await;
    let alice_id = *alice.local_peer_id();
    register(&mut alice, &hub, namespace()).await.unwrap();
    assert_eq!(discover(&mut bob, &hub, None).await, Ok(vec![alice_id]));

    hub.server()
        .set_rights(alice_id, hub::Rights::NONE, "banned")
        .await;

    assert_eq!(discover(&mut bob, &hub, None).await, Ok(Vec::new()));
}

//! The hub's libp2p node over real loopback TCP with Noise and Yamux (hub.md §4.1).

use std::time::Duration;

use futures::StreamExt as _;
use libp2p::swarm::SwarmEvent;
use libp2p::{identify, ping};
use testkit::swarm::{ClientEvent, client};
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

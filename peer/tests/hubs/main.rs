//! The hub presence client against real hubs on loopback (peer.md §3, §15.3 checks 2 and 6).

mod conformance;
mod failing;
mod join;
mod join_paid;
mod join_refused;
mod legacy;
mod signed;
mod unsigned;

use std::time::Duration;

use hub::config::JoinMode;
use peer::hub_url::HubUrl;
use peer::hubs::HubView;
use peer::{Peer, PeerConfig};
use tempfile::TempDir;
use testkit::{TestDb, TestHub};

/// How long a test waits for a state.
const DEADLINE: Duration = Duration::from_secs(15);

/// A hub in open join mode (a peer binds at its first v2 auth, hub.md §6.2), after `adjust`, and
/// its database (keep it: the SQLite file vanishes with it).
async fn open_hub(adjust: impl FnOnce(&mut hub::Config)) -> (TestHub, TestDb) {
    let db = TestDb::sqlite();
    let hub = TestHub::spawn_with(&db, |c| {
        c.membership.join_mode = JoinMode::Open;
        adjust(c);
    })
    .await;
    (hub, db)
}

/// A peer on loopback joined to `hubs`.
async fn start_peer(hubs: &[&str], adjust: impl FnOnce(&mut PeerConfig)) -> (Peer, TempDir) {
    testkit::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let mut config = PeerConfig::for_tests(dir.path());
    config.hubs.urls = hubs.iter().map(|u| (*u).to_owned()).collect();
    adjust(&mut config);
    (Peer::start(config).await.unwrap(), dir)
}

/// An open hub and a peer online at it.
async fn online_at_open_hub() -> (TestHub, TestDb, Peer, TempDir, HubUrl) {
    let (hub, db) = open_hub(|_| {}).await;
    let (peer, dir) = start_peer(&[&hub.base_url], |_| {}).await;
    let h = url(&hub.base_url);
    hub_view(&peer, &h, "online", |v| v.state == "online").await;
    (hub, db, peer, dir, h)
}

fn url(base: &str) -> HubUrl {
    HubUrl::parse(base).unwrap()
}

/// Waits until `peer`'s view of `hub` satisfies `check`.
async fn hub_view(
    peer: &Peer,
    hub: &HubUrl,
    what: &str,
    check: impl Fn(&HubView) -> bool,
) -> HubView {
    testkit::eventually(DEADLINE, what, || async {
        peer.node().hubs.get(hub).filter(|v| check(v))
    })
    .await
}

/// Waits until `peer` sees `other` online (`true`) or offline through `hub`.
async fn sees(peer: &Peer, other: &libp2p::PeerId, hub: &HubUrl, online: bool) {
    let source = format!("hub:{}", hub.as_str());
    testkit::eventually(DEADLINE, "a sighting", || async {
        let view = peer.node().peers.get(other)?;
        let sighting = view.sightings.iter().find(|s| s.source == source)?;
        (sighting.offline != online).then_some(())
    })
    .await;
}

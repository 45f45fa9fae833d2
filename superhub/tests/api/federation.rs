//! Federation (superhub.md §7, §14 checks 8 and 9): the change feed, chains of pulling super
//! hubs, and pulls of peers that fail. Peers that misbehave are small axum servers on loopback.

mod chain;
mod failures;
mod feed;

use std::time::Duration;

use axum::Router;
use libp2p::identity::ed25519::Keypair;
use shared::db::DatabaseConfig;
use shared::envelope::Envelope;
use superhub::Config;
use superhub::config::FederationPeer;
use superhub::store::Store;
use testkit::record::{envelope_bytes, hub_record, sign_record};
use testkit::{TestDb, TestSuperhub};

/// A loopback server for `router`; returns its base URL. It stops with the test's runtime.
pub(crate) async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

/// A peer entry for `url`, with `id` when not empty.
pub(crate) fn peer(url: &str, id: &str) -> FederationPeer {
    FederationPeer {
        url: url.to_owned(),
        id: id.to_owned(),
        name: String::new(),
        trust_moderation: false,
        trust_claims: true,
    }
}

/// Test config for loopback hubs, pulling `peers` every second.
pub(crate) fn loopback(config: &mut Config, peers: Vec<FederationPeer>) {
    config.directory.require_https = false;
    config.probe.allow_private_addresses = true;
    config.federation.pull_interval = Duration::from_secs(1);
    config.federation.peers = peers;
    // Tests poll feeds every few milliseconds.
    config.rate_limits.feed_ip = shared::rate_limit::RateLimit::new(100_000, 0.001);
}

/// A super hub on `db` pulling `peers` every second.
pub(crate) async fn superhub(db: &TestDb, peers: Vec<FederationPeer>) -> TestSuperhub {
    TestSuperhub::spawn_with(db, |config| loopback(config, peers)).await
}

/// A second handle on a super hub's database, to inspect what it stored.
pub(crate) async fn store_of(db: &TestDb) -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&DatabaseConfig::with_url(&db.url), dir.path())
        .await
        .unwrap();
    (store, dir)
}

/// Registers a fresh hub's record at `superhub` (through the directory, as the HTTP route does);
/// returns the hub's id and the signed envelope.
pub(crate) async fn register(superhub: &TestSuperhub) -> (String, Envelope) {
    let (id, _, envelope) = register_keyed(superhub).await;
    (id, envelope)
}

/// [`register`], also returning the hub's key.
pub(crate) async fn register_keyed(superhub: &TestSuperhub) -> (String, Keypair, Envelope) {
    let key = Keypair::generate();
    let now = superhub.server().directory().now_ms();
    let record = hub_record(&key, "http://127.0.0.1:9", now);
    let envelope = sign_record(&key, &record);
    superhub
        .server()
        .directory()
        .register(&envelope_bytes(&envelope))
        .await
        .expect("the record is accepted");
    (record.id, key, envelope)
}

/// The feed of `superhub` from the beginning, every page.
pub(crate) async fn whole_feed(superhub: &TestSuperhub) -> Vec<serde_json::Value> {
    let mut items = Vec::new();
    let mut since = "c1.0".to_owned();
    loop {
        let response = superhub
            .get(&format!(
                "/api/v1/federation/changes?since={since}&limit=500"
            ))
            .await;
        assert_eq!(response.status(), 200);
        let page: serde_json::Value = response.json().await.unwrap();
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        since = page["next"].as_str().unwrap().to_owned();
        if page["more"] != true {
            return items;
        }
    }
}

/// Whether `items` hold a `hub-record` of `hub_id`.
pub(crate) fn holds_record(items: &[serde_json::Value], hub_id: &str) -> bool {
    items
        .iter()
        .any(|i| i["kind"] == "hub-record" && i["envelope"]["signer"] == hub_id)
}

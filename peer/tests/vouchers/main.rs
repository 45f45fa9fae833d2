//! Vouchers against real hubs on loopback (peer.md §3.6–§3.7): the host-side checker with its
//! info cache and revocation polls.

mod checker;
mod refresh;
mod relay;

use std::time::Duration;

use hub::config::JoinMode;
use peer::{Peer, PeerConfig};
use serde_json::{Value, json};
use tempfile::TempDir;
use testkit::{TestDb, TestHub, TestPeer, json_of};

/// How long a test waits for an effect.
const DEADLINE: Duration = Duration::from_secs(15);
/// The admin token of the test hubs.
const ADMIN: &str = "admin-token-0123456789abcdefghijklmnop";

/// An open hub with an admin token, after `adjust`, and its database (keep it: the SQLite file
/// vanishes with it).
async fn open_hub(adjust: impl FnOnce(&mut hub::Config)) -> (TestHub, TestDb) {
    let db = TestDb::sqlite();
    let hub = TestHub::spawn_with(&db, |c| {
        c.membership.join_mode = JoinMode::Open;
        c.admin.token = Some(ADMIN.to_owned().into());
        adjust(c);
    })
    .await;
    (hub, db)
}

/// A peer on loopback without hubs, after `adjust`.
async fn start_peer(adjust: impl FnOnce(&mut PeerConfig)) -> (Peer, TempDir) {
    testkit::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let mut config = PeerConfig::for_tests(dir.path());
    adjust(&mut config);
    (Peer::start(config).await.unwrap(), dir)
}

/// A new account at `hub` (signed open join) and a voucher the hub issued to it.
async fn member_voucher(hub: &TestHub) -> (TestPeer, String) {
    let member = TestPeer::new();
    let (status, body) = json_of(member.join(hub, &json!({})).await).await;
    assert_eq!(status, 201, "{body}");
    let voucher = voucher_of(hub, &member).await;
    (member, voucher)
}

/// A fresh voucher of `member` at `hub`.
async fn voucher_of(hub: &TestHub, member: &TestPeer) -> String {
    let (status, body) = json_of(
        hub.post_signed("/api/v1/vouchers", &json!({}), member)
            .await,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["voucher"].as_str().unwrap().to_owned()
}

/// `POST /api/v1/admin{path}` with `body`, asserting success.
async fn admin_json(hub: &TestHub, path: &str, body: &Value) {
    hub.admin_post(ADMIN, path, body).await;
}

/// How often `hub` answered `GET /api/v1/info` with 200 (its request counter).
async fn info_reads(hub: &TestHub) -> u64 {
    hub.metrics()
        .await
        .lines()
        .filter(|l| {
            l.starts_with("hub_http_requests_total{")
                && l.contains("route=\"/api/v1/info\"")
                && l.contains("status=\"200\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

//! The directory end to end on Postgres (issue #11 "done when"): two hubs announce themselves to
//! super hub A; B pulls A and C pulls B; C finds both hubs by search and resolves their slugs;
//! an envelope altered in a copy of A's feed is refused; `hub decommission` makes a hub vanish
//! from all three. Everything runs on loopback, so the super hubs probe private addresses and
//! accept `http://` hubs.

use std::time::Duration;

use axum::Json;
use axum::routing::get;
use serde_json::Value;
use superhub::config::FederationPeer;
use testkit::{TestDb, TestHub, TestSuperhub, eventually};

/// Generous for a loaded CI machine: announcing, probing and two pull links take a few seconds.
const DEADLINE: Duration = Duration::from_secs(60);

/// A loopback super hub probing every 100 ms and pulling `from` every second.
async fn superhub(db: &TestDb, from: Option<&TestSuperhub>) -> TestSuperhub {
    let peer = from.map(|s| FederationPeer {
        url: s.base_url.clone(),
        id: s.server().peer_id().to_string(),
        name: String::new(),
        trust_moderation: false,
        trust_claims: true,
    });
    TestSuperhub::spawn_with(db, |c| {
        c.directory.require_https = false;
        c.probe.allow_private_addresses = true;
        c.probe.tick_millis = 100;
        c.federation.pull_interval = Duration::from_secs(1);
        c.federation.peers = peer.into_iter().collect();
        // The test polls search, detail and the feed far faster than a person would.
        c.rate_limits.search_ip = shared::rate_limit::RateLimit::new(100_000, 0.001);
        c.rate_limits.feed_ip = shared::rate_limit::RateLimit::new(100_000, 0.001);
        c.rate_limits.general_ip = shared::rate_limit::RateLimit::new(100_000, 0.001);
    })
    .await
}

/// A free loopback port (the hub must know its own URL before it starts, to sign it).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A hub called `name` with `slug` announcing to `directory`; returns it with its config.
async fn hub(
    db: &TestDb,
    name: &str,
    slug: &str,
    directory: &TestSuperhub,
) -> (TestHub, hub::Config) {
    let port = free_port();
    let mut kept = None;
    let hub = TestHub::spawn_with(db, |c| {
        c.hub.name = name.to_owned();
        c.hub.slug = shared::ids::Slug::parse(slug).expect("a slug");
        c.hub.tags = vec!["e2e".to_owned()];
        c.http.bind = ([127, 0, 0, 1], port).into();
        c.http.external_url = format!("http://127.0.0.1:{port}");
        c.superhubs.urls = vec![directory.base_url.clone()];
        kept = Some(c.clone());
    })
    .await;
    (hub, kept.expect("config kept"))
}

/// Serves `page` as the change feed of a stand-in super hub.
async fn serve_feed(page: Value) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/api/v1/federation/changes",
        get(move || {
            let page = page.clone();
            async move { Json(page) }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

async fn json(server: &TestSuperhub, path: &str) -> (u16, Value) {
    let response = server.get(path).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The ids a search on `server` returns for `query`.
async fn search(server: &TestSuperhub, query: &str) -> Vec<String> {
    let (status, body) = json(server, &format!("/api/v1/hubs?q={query}")).await;
    assert_eq!(status, 200, "{body}");
    body["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubs_announced_to_one_super_hub_are_found_through_a_federation_chain_and_vanish_when_decommissioned()
 {
    let dbs = [
        TestDb::postgres().await,
        TestDb::postgres().await,
        TestDb::postgres().await,
        TestDb::postgres().await,
        TestDb::postgres().await,
        TestDb::postgres().await,
    ];
    let a = superhub(&dbs[0], None).await;
    let b = superhub(&dbs[1], Some(&a)).await;
    let c = superhub(&dbs[2], Some(&b)).await;
    let (go, go_config) = hub(&dbs[3], "Go Developers", "go-developers", &a).await;
    let (rust, _) = hub(&dbs[4], "Rust Builders", "rust-builders", &a).await;
    let (go_id, rust_id) = (go.hub_id().to_string(), rust.hub_id().to_string());

    let found = eventually(DEADLINE, "both hubs listed and searchable at C", || async {
        let (go_hits, rust_hits) = (search(&c, "go").await, search(&c, "rust+build").await);
        (go_hits.contains(&go_id) && rust_hits.contains(&rust_id)).then_some((go_hits, rust_hits))
    })
    .await;
    let (status, resolved) = json(&c, "/api/v1/resolve/go-developers").await;
    let (_, hits_e2e) = json(&c, "/api/v1/hubs?tag=e2e").await;
    let go_info: Value = go.get("/api/v1/info").await.json().await.unwrap();

    assert_eq!(
        found.0,
        vec![go_id.clone()],
        "only the Go hub matches \"go\""
    );
    assert_eq!(found.1, vec![rust_id.clone()]);
    assert_eq!(status, 200);
    assert_eq!(resolved["id"], go_id.as_str());
    assert_eq!(resolved["http_url"], go_config.http.external_url.as_str());
    assert_eq!(hits_e2e["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(go_info["superhubs"][0]["url"], a.base_url.as_str());
    assert!(
        go_info["superhubs"][0]["last_success_at"]
            .as_i64()
            .is_some()
    );

    // A copy of A's feed with one byte of the Rust hub's record changed: a super hub pulling it
    // stores the intact Go record and refuses the altered one.
    let (_, mut feed) = json(&a, "/api/v1/federation/changes").await;
    for item in feed["items"].as_array_mut().unwrap() {
        if item["kind"] == "hub-record" && item["envelope"]["signer"] == rust_id.as_str() {
            let payload = item["envelope"]["payload"]
                .as_str()
                .unwrap()
                .replace("Rust", "Rusk");
            item["envelope"]["payload"] = Value::String(payload);
        }
    }
    let forged = serve_feed(feed).await;
    let d = TestSuperhub::spawn_with(&dbs[5], |cfg| {
        cfg.directory.require_https = false;
        cfg.probe.allow_private_addresses = true;
        cfg.federation.pull_interval = Duration::from_secs(1);
        cfg.federation.peers = vec![FederationPeer {
            url: forged,
            id: a.server().peer_id().to_string(),
            name: String::new(),
            trust_moderation: false,
            trust_claims: true,
        }];
    })
    .await;
    eventually(DEADLINE, "D pulled the copied feed", || async {
        let (status, _) = json(&d, &format!("/api/v1/hubs/{go_id}")).await;
        (status == 200).then_some(())
    })
    .await;
    let (altered, _) = json(&d, &format!("/api/v1/hubs/{rust_id}")).await;
    assert_eq!(altered, 404, "the altered record is not stored");

    hub::directory_cli::decommission(&go_config, "moving on", Duration::from_millis(10))
        .await
        .expect("decommissioned");

    eventually(DEADLINE, "the Go hub gone from A, B and C", || async {
        for server in [&a, &b, &c] {
            let (status, _) = json(server, &format!("/api/v1/hubs/{go_id}")).await;
            if status != 410 {
                return None;
            }
        }
        Some(())
    })
    .await;
    let (resolve_status, _) = json(&c, "/api/v1/resolve/go-developers").await;
    assert_eq!(resolve_status, 404);
    assert!(search(&c, "go").await.is_empty());
    assert_eq!(search(&c, "rust").await, vec![rust_id]);
}

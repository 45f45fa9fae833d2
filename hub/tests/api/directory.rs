//! The hub's side of the super hub directory (hub.md §11.3–11.4, §18 check 17): signed records,
//! `GET /api/v1/record`, the announcer against a scripted super hub on loopback, `superhubs` in
//! the info document, and `hub decommission` / `hub record`.

use std::time::Duration;

use hub::{Config, Server};
use serde_json::{Value, json};
use shared::clock::Clock;
use shared::envelope::{Envelope, EnvelopeError, EnvelopeType};
use shared::record::{HubRecord, Tombstone};
use testkit::{TestDb, TestHub, each_backend, eventually};

mod cli;
mod superhub_fake;

use superhub_fake::{FakeSuperhub, stale_seq};

/// Long enough for a loaded CI machine to go through a few announcement rounds.
const DEADLINE: Duration = Duration::from_secs(30);

/// The hub's record envelope, verified with nothing but its signer id.
async fn record_of(hub: &TestHub) -> (Envelope, HubRecord) {
    let response = hub.get("/api/v1/record").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let envelope = Envelope::parse(&response.bytes().await.unwrap()).unwrap();
    let record = HubRecord::from_verified(&envelope.verify().unwrap()).unwrap();
    (envelope, record)
}

/// A test config announcing to `superhub` every `interval_secs`, failures retried after 1 s.
fn announcing(config: &mut Config, superhub: &str, interval_secs: u64) {
    config.http.external_url = "http://127.0.0.1:9".to_owned();
    config.superhubs.urls = vec![superhub.to_owned()];
    config.superhubs.announce_interval = Duration::from_secs(interval_secs);
    config.superhubs.retry_base = Duration::from_secs(1);
}

each_backend!(record_verifies_with_only_the_hub_id_and_breaks_when_one_payload_byte_changes);

async fn record_verifies_with_only_the_hub_id_and_breaks_when_one_payload_byte_changes(db: TestDb) {
    let hub = TestHub::spawn_with(&db, |config| {
        config.hub.name = "Go Developers".into();
        config.hub.tags = vec!["go".into()];
    })
    .await;

    let (envelope, record) = record_of(&hub).await;

    let id = hub.hub_id().to_string();
    assert_eq!(envelope.kind, "hub-record");
    assert_eq!(envelope.signer, id);
    assert_eq!(record.id, id);
    assert_eq!(record.name, "Go Developers");
    assert_eq!(record.http_url, hub.base_url);
    assert_eq!(record.expires_at - record.issued_at, 3_600_000);
    assert_eq!(record.member_count, Some(0));
    assert!(
        record
            .multiaddrs
            .iter()
            .all(|a| a.ends_with(&format!("/p2p/{id}")))
    );
    let mut bytes = envelope.payload.clone().into_bytes();
    let i = bytes.iter().position(|b| *b == b'G').unwrap();
    bytes[i] = b'g';
    let tampered = Envelope {
        payload: String::from_utf8(bytes).unwrap(),
        ..envelope
    };
    assert_eq!(tampered.verify().unwrap_err(), EnvelopeError::BadSignature);
}

each_backend!(record_seq_increases_across_a_restart_when_the_clock_goes_back);

async fn record_seq_increases_across_a_restart_when_the_clock_goes_back(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let ahead = Config::for_tests(dir.path(), &db.url);
    ahead.clock.advance(Duration::from_secs(86_400));
    let first = Server::start(ahead).await.unwrap();
    let client = reqwest::Client::new();
    let get = |server: &Server| {
        let url = format!("http://{}/api/v1/record", server.http_addr());
        let client = client.clone();
        async move {
            let envelope: Envelope = client.get(url).send().await.unwrap().json().await.unwrap();
            HubRecord::from_verified(&envelope.verify().unwrap()).unwrap()
        }
    };
    let before = get(&first).await;
    first.shutdown().await;

    let second = Server::start(Config::for_tests(dir.path(), &db.url))
        .await
        .unwrap();
    let after = get(&second).await;

    assert_eq!(
        after.seq,
        before.seq + 1,
        "the stored seq outranks the clock"
    );
    assert!(after.issued_at < before.issued_at);
    second.shutdown().await;
}

each_backend!(record_is_served_from_memory_until_it_expires_then_renewed_with_a_higher_seq);

async fn record_is_served_from_memory_until_it_expires_then_renewed_with_a_higher_seq(db: TestDb) {
    let clock = Clock::system();
    let hub = TestHub::spawn_with(&db, |config| {
        config.clock = clock.clone();
        config.superhubs.record_ttl = Duration::from_secs(60);
        config.superhubs.announce_interval = Duration::from_secs(30);
    })
    .await;

    let (first, record) = record_of(&hub).await;
    let (again, _) = record_of(&hub).await;
    clock.advance(Duration::from_secs(61));
    let (renewed, next) = record_of(&hub).await;

    assert_eq!(again, first);
    assert_ne!(renewed, first);
    assert!(next.seq > record.seq);
    assert!(next.issued_at >= record.expires_at);
    assert_eq!(next.expires_at - next.issued_at, 60_000);
}

each_backend!(announcer_follows_the_answers_of_the_super_hub_and_info_shows_the_state);

async fn announcer_follows_the_answers_of_the_super_hub_and_info_shows_the_state(db: TestDb) {
    let superhub = FakeSuperhub::start(vec![
        stale_seq(),
        (202, json!({"state": "pending_probe"}), None),
        (
            429,
            json!({"error": {"code": "rate_limited", "message": "slow down"}}),
            Some(2),
        ),
        (
            500,
            json!({"error": {"code": "internal", "message": "oops"}}),
            None,
        ),
    ])
    .await;
    let hub = TestHub::spawn_with(&db, |config| announcing(config, &superhub.url, 2)).await;

    let info = eventually(DEADLINE, "info showing the hub listed", || async {
        let info: Value = hub.get("/api/v1/info").await.json().await.ok()?;
        (info["superhubs"][0]["state"] == "listed").then_some(info)
    })
    .await;

    let posts = superhub.posts();
    assert_eq!(
        posts.len(),
        5,
        "409, its retry, 429, 500, then 200: {posts:?}"
    );
    let seqs: Vec<u64> = posts.iter().map(superhub_fake::Post::seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    for post in &posts {
        assert_eq!(post.content_type, "application/json");
        let verified = post.envelope.verify().unwrap();
        assert_eq!(verified.kind, EnvelopeType::HubRecord);
        HubRecord::from_verified(&verified).unwrap();
    }
    let gap = |i: usize| posts[i].at - posts[i - 1].at;
    assert!(
        gap(1) < Duration::from_secs(1),
        "stale_seq is retried at once"
    );
    assert!(
        gap(3) >= Duration::from_millis(1900),
        "Retry-After is honoured: {:?}",
        gap(3)
    );
    assert!(
        gap(4) >= Duration::from_millis(900),
        "a failure waits retry_base: {:?}",
        gap(4)
    );
    assert_eq!(info["superhubs"][0]["url"], superhub.url.as_str());
    assert!(info["superhubs"][0]["last_success_at"].as_i64().unwrap() > 0);
    let rows = db.hub_store().await.list_announcements().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].superhub_url, superhub.url);
    assert_eq!(rows[0].last_state.as_deref(), Some("listed"));
    assert_eq!(rows[0].last_error, None);
    assert!(rows[0].next_attempt_at > rows[0].last_attempt_at);
}

each_backend!(announcer_backs_off_when_the_answer_is_malformed_oversized_or_hostile);

async fn announcer_backs_off_when_the_answer_is_malformed_oversized_or_hostile(db: TestDb) {
    let superhub = FakeSuperhub::start(vec![
        (200, json!({"listed": true}), None),
        (202, json!({"state": "x".repeat(70 * 1024)}), None),
        (200, json!({"state": "<script>"}), None),
    ])
    .await;
    let hub = TestHub::spawn_with(&db, |config| announcing(config, &superhub.url, 60)).await;

    let posts = superhub.wait_for_posts(4, DEADLINE).await;
    let info: Value = eventually(DEADLINE, "info showing the hub listed", || async {
        let info: Value = hub.get("/api/v1/info").await.json().await.ok()?;
        (info["superhubs"][0]["state"] == "listed").then_some(info)
    })
    .await;

    let gap = |i: usize| posts[i].at - posts[i - 1].at;
    assert!(gap(1) >= Duration::from_millis(900), "{:?}", gap(1));
    assert!(
        gap(2) >= Duration::from_millis(1900),
        "backoff doubles: {:?}",
        gap(2)
    );
    assert!(
        gap(3) >= Duration::from_millis(3900),
        "backoff doubles: {:?}",
        gap(3)
    );
    assert_eq!(info["superhubs"][0]["url"], superhub.url.as_str());
}

each_backend!(info_shows_the_last_answer_of_each_super_hub_and_no_list_without_any);

async fn info_shows_the_last_answer_of_each_super_hub_and_no_list_without_any(db: TestDb) {
    let superhub = FakeSuperhub::start(vec![(202, json!({"state": "pending_probe"}), None)]).await;
    let plain = TestHub::spawn(&db).await;
    let hub = TestHub::spawn_with(&db, |config| announcing(config, &superhub.url, 600)).await;

    let entry = eventually(DEADLINE, "info showing pending_probe", || async {
        let info: Value = hub.get("/api/v1/info").await.json().await.ok()?;
        let entry = info["superhubs"][0].clone();
        (entry["state"] == "pending_probe").then_some(entry)
    })
    .await;
    let without: Value = plain.get("/api/v1/info").await.json().await.unwrap();

    assert_eq!(entry["url"], superhub.url.as_str());
    assert!(entry["last_success_at"].as_i64().unwrap() > 0);
    assert!(without.get("superhubs").is_none(), "{without}");
}

each_backend!(store_allocates_increasing_seqs_and_keeps_the_last_success_on_failure);

async fn store_allocates_increasing_seqs_and_keeps_the_last_success_on_failure(db: TestDb) {
    let store = db.hub_store().await;
    let url = "https://dir.example.net".to_owned();
    let success = hub::store::Announcement {
        superhub_url: url.clone(),
        last_attempt_at: Some(10),
        last_success_at: Some(10),
        last_state: Some("listed".to_owned()),
        last_error: None,
        next_attempt_at: Some(20),
    };
    let failure = hub::store::Announcement {
        last_attempt_at: Some(20),
        last_success_at: None,
        last_state: None,
        last_error: Some("500".to_owned()),
        next_attempt_at: Some(80),
        ..success.clone()
    };

    let first = store.next_record_seq(1_000).await.unwrap();
    let second = store.next_record_seq(500).await.unwrap();
    let third = store.next_record_seq(5_000).await.unwrap();
    store.upsert_announcement(&success).await.unwrap();
    store.upsert_announcement(&failure).await.unwrap();

    assert_eq!([first, second, third], [1_000, 1_001, 5_000]);
    let rows = store.list_announcements().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].last_success_at, Some(10));
    assert_eq!(rows[0].last_state.as_deref(), Some("listed"));
    assert_eq!(rows[0].last_error.as_deref(), Some("500"));
    assert_eq!(rows[0].last_attempt_at, Some(20));
    assert_eq!(rows[0].next_attempt_at, Some(80));
}

/// A super hub answering `script`, and the data dir (with a key) and config of a hub announcing
/// to it, not started.
async fn offline_hub(
    db: &TestDb,
    script: Vec<superhub_fake::Answer>,
) -> (FakeSuperhub, tempfile::TempDir, Config) {
    let superhub = FakeSuperhub::start(script).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_tests(dir.path(), &db.url);
    announcing(&mut config, &superhub.url, 600);
    shared::server::open_identity(dir.path(), &config.key_path()).unwrap();
    (superhub, dir, config)
}

/// Whether `hub_state.decommissioned_at` is set.
async fn is_decommissioned(db: &TestDb) -> bool {
    let store = db.hub_store().await;
    store
        .find_state("decommissioned_at")
        .await
        .unwrap()
        .is_some()
}

/// The tombstone in a POST, verified with only the hub id.
fn tombstone_of(post: &superhub_fake::Post) -> Tombstone {
    Tombstone::from_verified(&post.envelope.verify().unwrap()).unwrap()
}

each_backend!(decommission_posts_a_tombstone_stops_the_announcer_and_revert_restores_it);

async fn decommission_posts_a_tombstone_stops_the_announcer_and_revert_restores_it(db: TestDb) {
    let (superhub, _dir, config) = offline_hub(&db, vec![]).await;
    let hub = Server::start(config.clone()).await.unwrap();
    let record_seq = superhub.wait_for_posts(1, DEADLINE).await[0].seq();
    hub.shutdown().await;

    let withdrawal =
        hub::directory_cli::decommission(&config, "moving on", Duration::from_millis(10))
            .await
            .unwrap();

    let posts = superhub.posts();
    assert_eq!(posts.len(), 2);
    let tombstone = tombstone_of(&posts[1]);
    assert_eq!(tombstone.reason, "moving on");
    assert!(tombstone.seq > record_seq);
    assert_eq!(withdrawal.seq, tombstone.seq);
    assert_eq!(withdrawal.accepted, std::slice::from_ref(&superhub.url));
    assert!(withdrawal.refused.is_empty());
    assert!(is_decommissioned(&db).await);

    let restarted = Server::start(config.clone()).await.unwrap();
    let quiet = tokio::time::timeout(Duration::from_secs(1), superhub.wait_for_posts(3, DEADLINE));
    assert!(
        quiet.await.is_err(),
        "a decommissioned hub announces nothing"
    );
    restarted.shutdown().await;

    assert!(hub::directory_cli::revert(&config).await.unwrap());
    assert!(!is_decommissioned(&db).await);
    let revived = Server::start(config).await.unwrap();
    let posts = superhub.wait_for_posts(3, DEADLINE).await;
    assert_eq!(posts[2].envelope.kind, "hub-record");
    assert!(
        posts[2].seq() > tombstone.seq,
        "the new record outranks the tombstone"
    );
    revived.shutdown().await;
}

each_backend!(decommission_keeps_the_mark_and_reports_a_super_hub_that_refuses_every_try);

async fn decommission_keeps_the_mark_and_reports_a_super_hub_that_refuses_every_try(db: TestDb) {
    let failure = (
        500,
        json!({"error": {"code": "internal", "message": "down"}}),
        None,
    );
    let (superhub, _dir, config) = offline_hub(&db, vec![failure; 4]).await;

    let withdrawal = hub::directory_cli::decommission(&config, "", Duration::from_millis(10))
        .await
        .unwrap();

    assert_eq!(superhub.posts().len(), 4, "the first try and three retries");
    assert!(withdrawal.accepted.is_empty());
    assert_eq!(withdrawal.refused.len(), 1);
    assert!(
        withdrawal.refused[0].error.contains("500"),
        "{:?}",
        withdrawal.refused
    );
    assert!(is_decommissioned(&db).await);
}

each_backend!(decommission_refuses_a_long_reason_and_changes_nothing);

async fn decommission_refuses_a_long_reason_and_changes_nothing(db: TestDb) {
    let (superhub, _dir, config) = offline_hub(&db, vec![]).await;

    let error = hub::directory_cli::decommission(&config, &"r".repeat(201), Duration::ZERO)
        .await
        .unwrap_err();

    assert!(
        matches!(error, hub::directory_cli::DirectoryCliError::Usage(_)),
        "{error}"
    );
    assert!(superhub.posts().is_empty());
    assert!(!is_decommissioned(&db).await);
}

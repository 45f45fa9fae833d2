//! Probing (superhub.md §4, §14 checks 1, 4 and 5) against real HTTP servers and libp2p nodes on
//! loopback: a super hub with a 50 ms scheduler tick, hubs registered through the store, and time
//! moved with the config's clock instead of waiting for probe intervals.

mod info_server;
mod p2p;
mod store;

use std::time::Duration;

use libp2p::identity::ed25519::Keypair;
use shared::clock::Clock;
use shared::db::DatabaseConfig;
use shared::record::HubRecord;
use superhub::store::{ProbeRow, ProbeStatus, Provenance, Store};
use testkit::record::{hub_id, hub_record, sign_record};
use testkit::{TestDb, TestSuperhub, each_backend, eventually};

use info_server::{Answer, InfoServer};

const DEADLINE: Duration = Duration::from_secs(15);

/// Probes loopback hubs every 50 ms with 1 s timeouts and no libp2p probe, on `clock`.
pub(crate) fn probing(c: &mut superhub::Config, clock: &Clock) {
    c.directory.require_https = false;
    c.probe.allow_private_addresses = true;
    c.probe.tick_millis = 50;
    c.probe.p2p = false;
    c.probe.connect_timeout = Duration::from_secs(1);
    c.probe.http_timeout = Duration::from_secs(1);
    c.probe.p2p_timeout = Duration::from_secs(2);
    c.clock = clock.clone();
}

/// A running super hub, a second handle on its database, and its clock.
pub(crate) struct Harness {
    pub(crate) superhub: TestSuperhub,
    pub(crate) store: Store,
    pub(crate) clock: Clock,
    _dir: tempfile::TempDir,
}

impl Harness {
    /// A super hub probing loopback hubs every 50 ms with 1 s timeouts and no libp2p probe,
    /// after `adjust`.
    pub(crate) async fn start(db: &TestDb, adjust: impl FnOnce(&mut superhub::Config)) -> Self {
        let clock = Clock::system();
        let superhub = TestSuperhub::spawn_with(db, |c| {
            probing(c, &clock);
            adjust(c);
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&DatabaseConfig::with_url(&db.url), dir.path())
            .await
            .unwrap();
        Self {
            superhub,
            store,
            clock,
            _dir: dir,
        }
    }

    /// Registers a fresh record of `key` at `http_url` directly (as `POST /api/v1/hubs` stores it).
    pub(crate) async fn register(&self, key: &Keypair, http_url: &str) -> HubRecord {
        let record = hub_record(key, http_url, self.clock.now_ms());
        self.put(key, &record).await;
        record
    }

    /// Starts a server answering `key`'s hub id and registers that hub at it.
    pub(crate) async fn register_answering(&self, key: &Keypair) -> (InfoServer, HubRecord) {
        let server = InfoServer::start(Answer::Id(hub_id(key))).await;
        let record = self.register(key, &server.url).await;
        (server, record)
    }

    /// Registers `key`'s hub at a server that never answers and waits until its probe is in
    /// flight.
    pub(crate) async fn register_silent(&self, key: &Keypair) -> (InfoServer, HubRecord) {
        let server = InfoServer::start(Answer::Silence).await;
        let record = self.register(key, &server.url).await;
        eventually(DEADLINE, "the probe in flight", || async {
            (server.requests() == 1).then_some(())
        })
        .await;
        (server, record)
    }

    /// Stores `record`, signed by `key`.
    pub(crate) async fn put(&self, key: &Keypair, record: &HubRecord) {
        self.store
            .put_record(
                &sign_record(key, record),
                record,
                &Provenance::direct("self"),
                self.clock.now_ms(),
            )
            .await
            .unwrap();
    }

    /// The hub's probe state.
    pub(crate) async fn status(&self, id: &str) -> ProbeStatus {
        self.store
            .probe_status(id)
            .await
            .unwrap()
            .expect("hub is stored")
    }

    /// Waits until the hub has `n` probe rows of `kind`; returns them, newest first.
    pub(crate) async fn wait_for_probes(&self, id: &str, kind: &str, n: usize) -> Vec<ProbeRow> {
        eventually(DEADLINE, &format!("{n} {kind} probes of {id}"), || async {
            let rows: Vec<_> = self
                .store
                .probe_history(id, 100)
                .await
                .unwrap()
                .into_iter()
                .filter(|r| r.kind == kind)
                .collect();
            (rows.len() >= n).then_some(rows)
        })
        .await
    }

    /// Waits until the Prometheus text contains `line`.
    pub(crate) async fn wait_for_metric(&self, line: &str) {
        let addr = self.superhub.server().metrics_addr().expect("metrics on");
        let client = &self.superhub.client;
        eventually(DEADLINE, line, || async {
            let text = client
                .get(format!("http://{addr}/metrics"))
                .send()
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            text.contains(line).then_some(())
        })
        .await;
    }
}

each_backend!(a_hub_answering_its_own_id_is_listed_after_one_probe);

async fn a_hub_answering_its_own_id_is_listed_after_one_probe(db: TestDb) {
    let h = Harness::start(&db, |_| {}).await;
    let (hub, record) = h.register_answering(&Keypair::generate()).await;
    let rows = h.wait_for_probes(&record.id, "http", 1).await;

    let status = h.status(&record.id).await;
    assert_eq!(status.state, "listed");
    assert_eq!(status.first_listed_at, status.last_probe_at);
    assert!(status.first_listed_at.is_some());
    assert_eq!(status.probed_http_url.as_deref(), Some(hub.url.as_str()));
    assert_eq!(
        status.probed_multiaddrs,
        Some(serde_json::to_string(&record.multiaddrs).unwrap())
    );
    assert_eq!(status.consecutive_failures, 0);
    assert_eq!(status.uptime_30d, None, "fewer than 10 probes");
    assert_eq!(rows[0].outcome, "ok");
    assert!(rows[0].rtt_ms.is_some());
    assert_eq!(status.rtt_ms, rows[0].rtt_ms);
    let agent = hub.user_agent().unwrap();
    assert!(
        agent.starts_with(&format!(
            "goop-superhub/{} (+http://127.0.0.1:",
            shared::VERSION
        )),
        "{agent}"
    );
    h.wait_for_metric("superhub_probes_total{kind=\"http\",outcome=\"ok\"} 1")
        .await;
    h.wait_for_metric("superhub_probe_duration_seconds_count{kind=\"http\"} 1")
        .await;
    h.wait_for_metric("superhub_probe_due 0").await;
}

each_backend!(a_hub_answering_another_id_fails_with_id_mismatch_and_is_never_listed);

async fn a_hub_answering_another_id_fails_with_id_mismatch_and_is_never_listed(db: TestDb) {
    let h = Harness::start(&db, |_| {}).await;
    let key = Keypair::generate();
    let hub = InfoServer::start(Answer::Id(hub_id(&Keypair::generate()))).await;

    let record = h.register(&key, &hub.url).await;
    let rows = h.wait_for_probes(&record.id, "http", 1).await;

    let status = h.status(&record.id).await;
    assert_eq!(rows[0].outcome, "id_mismatch");
    assert_eq!(status.state, "probe_failed");
    assert_eq!(status.first_listed_at, None);
    assert_eq!(status.probed_http_url, None);
    assert_eq!(status.consecutive_failures, 1);
    assert_eq!(
        status.next_probe_at.unwrap() - status.last_probe_at.unwrap(),
        60_000,
        "the first retry comes after 60 s"
    );
}

each_backend!(each_failing_hub_gets_its_outcome_and_stays_unlisted);

async fn each_failing_hub_gets_its_outcome_and_stays_unlisted(db: TestDb) {
    let h = Harness::start(&db, |c| {
        c.probe.concurrency = 16;
        c.probe.max_body_bytes = 1024;
    })
    .await;
    let target = InfoServer::start(Answer::Id("anyone".to_owned())).await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let plain = InfoServer::start(Answer::Id("anyone".to_owned())).await;
    let mut cases: Vec<(String, &str)> = Vec::new();
    for (answer, outcome) in [
        (
            Answer::Status(axum::http::StatusCode::INTERNAL_SERVER_ERROR),
            "http_status",
        ),
        (Answer::Body("[1, 2]"), "invalid_json"),
        (Answer::Body("{\"id\": "), "invalid_json"),
        (Answer::Endless, "too_large"),
        (Answer::Sized(1025), "too_large"),
        (Answer::Silence, "timeout"),
        (
            Answer::RedirectTo(format!("{}/api/v1/info", target.url)),
            "redirect",
        ),
    ] {
        cases.push((InfoServer::start(answer).await.url, outcome));
    }
    cases.push(("http://no-such-host.invalid".to_owned(), "dns_error"));
    cases.push((format!("http://{closed}"), "connect_error"));
    cases.push((plain.url.replace("http://", "https://"), "tls_error"));

    let mut ids = Vec::new();
    for (url, outcome) in &cases {
        let key = Keypair::generate();
        ids.push((h.register(&key, url).await.id, *outcome));
    }
    for (id, outcome) in &ids {
        let rows = h.wait_for_probes(id, "http", 1).await;
        let status = h.status(id).await;

        assert_eq!(rows[0].outcome, *outcome);
        assert_eq!(rows[0].rtt_ms, None);
        assert_eq!(status.state, "probe_failed", "{outcome}");
    }
    assert_eq!(target.requests(), 0, "the redirect is never followed");
}

each_backend!(a_loopback_hub_is_blocked_without_allow_private_addresses);

async fn a_loopback_hub_is_blocked_without_allow_private_addresses(db: TestDb) {
    let h = Harness::start(&db, |c| {
        c.probe.allow_private_addresses = false;
        c.probe.p2p = true;
    })
    .await;
    let by_ip = Keypair::generate();
    let by_name = Keypair::generate();
    let server = InfoServer::start(Answer::Id(hub_id(&by_ip))).await;
    let port = server.url.rsplit(':').next().unwrap().to_owned();

    let ip_record = h.register(&by_ip, &server.url).await;
    let name_record = h
        .register(&by_name, &format!("http://localhost:{port}"))
        .await;

    for id in [&ip_record.id, &name_record.id] {
        let http = h.wait_for_probes(id, "http", 1).await;
        let p2p = h.wait_for_probes(id, "p2p", 1).await;

        assert_eq!(http[0].outcome, "blocked_address");
        assert_eq!(
            p2p[0].outcome, "dial_failed",
            "the libp2p probe filters too"
        );
        assert_eq!(h.status(id).await.state, "probe_failed");
    }
    assert_eq!(server.requests(), 0);
}

each_backend!(three_failures_make_a_listed_hub_unreachable_and_an_ok_probe_lists_it_again);

async fn three_failures_make_a_listed_hub_unreachable_and_an_ok_probe_lists_it_again(db: TestDb) {
    let h = Harness::start(&db, |_| {}).await;
    let (hub, record) = h.register_answering(&Keypair::generate()).await;
    h.wait_for_probes(&record.id, "http", 1).await;
    let listed_at = h.status(&record.id).await.first_listed_at;
    hub.set(Answer::Status(axum::http::StatusCode::BAD_GATEWAY));
    let interval_and_jitter = Duration::from_secs(661);

    let mut states = Vec::new();
    for round in 2..=5 {
        if round == 5 {
            hub.set(Answer::Id(record.id.clone()));
        }
        h.clock.advance(interval_and_jitter);
        h.wait_for_probes(&record.id, "http", round).await;
        states.push(h.status(&record.id).await.state);
    }

    assert_eq!(states, ["listed", "listed", "unreachable", "listed"]);
    let status = h.status(&record.id).await;
    assert_eq!(status.consecutive_failures, 0);
    assert_eq!(status.first_listed_at, listed_at, "set once");
}

each_backend!(a_result_for_a_replaced_address_is_dropped);

async fn a_result_for_a_replaced_address_is_dropped(db: TestDb) {
    let h = Harness::start(&db, |_| {}).await;
    let key = Keypair::generate();
    let new = InfoServer::start(Answer::Id(hub_id(&key))).await;
    let (_old, record) = h.register_silent(&key).await;

    let mut moved = record.clone();
    moved.seq += 1;
    moved.http_url = new.url.clone();
    h.put(&key, &moved).await;
    h.wait_for_metric("superhub_probes_total{kind=\"http\",outcome=\"timeout\"} 1")
        .await;

    let dropped = h.status(&record.id).await;
    assert_eq!(dropped.state, "pending_probe");
    assert!(
        h.store
            .probe_history(&record.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
    h.clock.advance(Duration::from_secs(61));
    let rows = h.wait_for_probes(&record.id, "http", 1).await;
    let status = h.status(&record.id).await;
    assert_eq!(rows[0].outcome, "ok");
    assert_eq!(status.state, "listed");
    assert_eq!(status.probed_http_url.as_deref(), Some(new.url.as_str()));
}

each_backend!(a_tombstone_stored_while_probing_is_not_undone_by_the_result);

async fn a_tombstone_stored_while_probing_is_not_undone_by_the_result(db: TestDb) {
    let h = Harness::start(&db, |_| {}).await;
    let key = Keypair::generate();
    let (_hub, record) = h.register_silent(&key).await;

    store::tombstone(&h.store, &key, &record, h.clock.now_ms()).await;
    h.wait_for_metric("superhub_probes_total{kind=\"http\",outcome=\"timeout\"} 1")
        .await;

    assert_eq!(h.status(&record.id).await.state, "tombstoned");
    assert!(
        h.store
            .probe_history(&record.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

each_backend!(shutdown_abandons_a_probe_in_flight_unrecorded);

async fn shutdown_abandons_a_probe_in_flight_unrecorded(db: TestDb) {
    let h = Harness::start(&db, |c| c.probe.http_timeout = Duration::from_secs(60)).await;
    let key = Keypair::generate();
    let (_hub, record) = h.register_silent(&key).await;
    let Harness {
        superhub, store, ..
    } = h;

    let started = std::time::Instant::now();
    superhub.shutdown().await;

    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the probe did not hold up shutdown"
    );
    assert!(
        store
            .probe_history(&record.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let status = store.probe_status(&record.id).await.unwrap().unwrap();
    assert_eq!(status.state, "pending_probe");
    assert_eq!(status.last_probe_at, None);
}

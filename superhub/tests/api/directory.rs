//! The directory over HTTP (superhub.md §3, §5.2–§5.4): registration, detail, resolve and the
//! expiry sweep, on both databases. [`Fixture`] is a running super hub with a handle on its clock
//! and a second store on its database to arrange what probes and moderation would do.

mod detail;
mod registration;
mod resolve;
mod sweep;

use libp2p::identity::ed25519::Keypair;
use reqwest::Response;
use serde_json::Value;
use shared::clock::Clock;
use shared::db::DatabaseConfig;
use shared::envelope::Envelope;
use shared::record::HubRecord;
use superhub::store::{HubState, Store};
use testkit::record::{envelope_bytes, hub_record, sign_record};
use testkit::{TestDb, TestSuperhub};

/// A running super hub, its clock and a store on its database.
pub(crate) struct Fixture {
    pub(crate) superhub: TestSuperhub,
    pub(crate) clock: Clock,
    pub(crate) store: Store,
    _store_dir: tempfile::TempDir,
}

impl Fixture {
    pub(crate) async fn spawn(db: &TestDb) -> Self {
        Self::spawn_with(db, |_| {}).await
    }

    pub(crate) async fn spawn_with(
        db: &TestDb,
        adjust: impl FnOnce(&mut superhub::Config),
    ) -> Self {
        let mut clock = None;
        let superhub = TestSuperhub::spawn_with(db, |config| {
            // These tests arrange probe outcomes through the store; the scheduler would race them
            // (and resolve the records' example hosts).
            config.probe.enabled = false;
            adjust(config);
            clock = Some(config.clock.clone());
        })
        .await;
        let store_dir = tempfile::tempdir().unwrap();
        let store = Store::open(&DatabaseConfig::with_url(&db.url), store_dir.path())
            .await
            .unwrap();
        Self {
            superhub,
            clock: clock.unwrap(),
            store,
            _store_dir: store_dir,
        }
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// A valid record of `key` issued now.
    pub(crate) fn record(&self, key: &Keypair) -> HubRecord {
        hub_record(key, "https://hub.example.org", self.now())
    }

    /// `POST /api/v1/hubs` with `body` as `content_type`.
    pub(crate) async fn post_raw(&self, body: Vec<u8>, content_type: &str) -> Response {
        self.superhub
            .client
            .post(self.superhub.url("/api/v1/hubs"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Registers `envelope`.
    pub(crate) async fn register(&self, envelope: &Envelope) -> Response {
        self.post_raw(envelope_bytes(envelope), "application/json")
            .await
    }

    /// Registers `record` signed by `key`, expecting it accepted.
    pub(crate) async fn register_record(&self, key: &Keypair, record: &HubRecord) {
        let response = self.register(&sign_record(key, record)).await;
        assert!(
            response.status().is_success(),
            "registration answered {}",
            response.status()
        );
    }

    /// Sets hub `id` to `listed`, as a passed probe would.
    pub(crate) async fn list(&self, id: &str) {
        self.store
            .set_hub_state(id, HubState::Listed, self.now())
            .await
            .unwrap();
    }

    /// The metrics page.
    pub(crate) async fn metrics(&self) -> String {
        let addr = self.superhub.server().metrics_addr().unwrap();
        reqwest::get(format!("http://{addr}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// `GET path` as `(status, JSON body)`.
    pub(crate) async fn get_json(&self, path: &str) -> (u16, Value) {
        let response = self.superhub.get(path).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

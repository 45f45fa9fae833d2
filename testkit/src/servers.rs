//! Hubs and super hubs on port 0 with a test database, and an HTTP client pointed at them; a hub's
//! client also sends requests signed by a [`TestPeer`](crate::TestPeer).
//! Dropping a handle stops its server (its tasks are cancelled).

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;

use libp2p::Multiaddr;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use shared::ids::Ed25519PeerId;
use tempfile::TempDir;

use crate::{TestDb, TestPeer};

/// A server the harness can start for a test.
pub trait Spawn: Sized {
    /// Its config type.
    type Config;
    /// The `for_tests` config on `data_dir` and `database_url`.
    fn test_config(data_dir: &Path, database_url: &str) -> Self::Config;
    /// Starts it, panicking on failure.
    fn start(config: Self::Config) -> impl Future<Output = Self>;
    /// Its bound HTTP address.
    fn http_addr(&self) -> SocketAddr;
    /// Stops it gracefully.
    fn stop(self) -> impl Future<Output = ()>;
}

impl Spawn for hub::Server {
    type Config = hub::Config;

    fn test_config(data_dir: &Path, database_url: &str) -> hub::Config {
        hub::Config::for_tests(data_dir, database_url)
    }

    async fn start(config: hub::Config) -> Self {
        hub::Server::start(config).await.expect("hub starts")
    }

    fn http_addr(&self) -> SocketAddr {
        hub::Server::http_addr(self)
    }

    async fn stop(self) {
        self.shutdown().await;
    }
}

impl Spawn for superhub::Server {
    type Config = superhub::Config;

    fn test_config(data_dir: &Path, database_url: &str) -> superhub::Config {
        superhub::Config::for_tests(data_dir, database_url)
    }

    async fn start(config: superhub::Config) -> Self {
        superhub::Server::start(config)
            .await
            .expect("super hub starts")
    }

    fn http_addr(&self) -> SocketAddr {
        superhub::Server::http_addr(self)
    }

    async fn stop(self) {
        self.shutdown().await;
    }
}

/// A running hub for a test.
pub type TestHub = TestServer<hub::Server>;
/// A running super hub for a test.
pub type TestSuperhub = TestServer<superhub::Server>;

/// A server started for one test, with its data directory and an HTTP client.
#[derive(Debug)]
pub struct TestServer<S> {
    server: Option<S>,
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// A client for the server's HTTP API.
    pub client: reqwest::Client,
    data_dir: TempDir,
}

impl<S: Spawn> TestServer<S> {
    /// Starts the server with its test config on `db`.
    pub async fn spawn(db: &TestDb) -> Self {
        Self::spawn_with(db, |_| {}).await
    }

    /// Starts the server after `adjust` has changed the test config.
    pub async fn spawn_with(db: &TestDb, adjust: impl FnOnce(&mut S::Config)) -> Self {
        crate::init_tracing();
        let data_dir = tempfile::tempdir().expect("data dir");
        let mut config = S::test_config(data_dir.path(), &db.url);
        adjust(&mut config);
        let server = S::start(config).await;
        Self {
            base_url: format!("http://{}", server.http_addr()),
            server: Some(server),
            client: reqwest::Client::new(),
            data_dir,
        }
    }

    /// The running server.
    ///
    /// # Panics
    /// After [`TestServer::shutdown`].
    pub fn server(&self) -> &S {
        self.server.as_ref().expect("server is running")
    }

    /// `base_url` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// `GET path`.
    ///
    /// # Panics
    /// When the request cannot be sent.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("GET reaches the server")
    }

    /// `POST path` with `body` as JSON.
    ///
    /// # Panics
    /// When the request cannot be sent.
    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST reaches the server")
    }

    /// The data directory.
    pub fn data_path(&self) -> &Path {
        self.data_dir.path()
    }

    /// Stops the server gracefully.
    pub async fn shutdown(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }
}

impl TestHub {
    /// A hub on `db` in join mode `mode` that mails over SMTP to a fresh sink, with admin token
    /// `admin_token`; `adjust` applied last. The hub and the sink.
    pub async fn spawn_mailing(
        db: &TestDb,
        mode: hub::config::JoinMode,
        admin_token: &str,
        adjust: impl FnOnce(&mut hub::Config),
    ) -> (Self, crate::SmtpSink) {
        let sink = crate::SmtpSink::start().await;
        let smtp = sink.url();
        let admin_token = admin_token.to_owned();
        let hub = Self::spawn_with(db, move |c| {
            c.membership.join_mode = mode;
            c.email.transport = hub::config::MailTransportKind::Smtp;
            c.email.smtp_url = Some(smtp.into());
            c.admin.token = Some(admin_token.into());
            adjust(c);
        })
        .await;
        (hub, sink)
    }

    /// The hub's peer id: the audience of every PeerSig request to it.
    ///
    /// # Panics
    /// When the hub key is not ed25519.
    pub fn hub_id(&self) -> Ed25519PeerId {
        Ed25519PeerId::try_from(self.server().peer_id()).expect("the hub key is ed25519")
    }

    /// `POST /api/v1/admin{path}` with `body` and `admin_token`; the JSON answer.
    ///
    /// # Panics
    /// When the hub answers anything but a success.
    pub async fn admin_post(&self, admin_token: &str, path: &str, body: &Value) -> Value {
        let response = self
            .client
            .post(self.url(&format!("/api/v1/admin{path}")))
            .bearer_auth(admin_token)
            .json(body)
            .send()
            .await
            .expect("the admin API answers");
        let (status, body) = crate::json_of(response).await;
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    /// The id of the account `peer` is bound to, through the admin API with `admin_token` (a test
    /// that signs a read as `peer` from a second signer could repeat one of the peer's own calls
    /// byte for byte, which the hub refuses as `replayed`).
    ///
    /// # Panics
    /// When the admin API does not answer 200 with a member.
    pub async fn account_of(&self, admin_token: &str, peer: &libp2p::PeerId) -> String {
        let response = self
            .client
            .get(self.url(&format!("/api/v1/admin/members?q={}", peer.to_base58())))
            .bearer_auth(admin_token)
            .send()
            .await
            .expect("the admin API answers");
        let (status, body) = crate::json_of(response).await;
        assert_eq!(status, 200, "{body}");
        body["items"][0]["id"]
            .as_str()
            .expect("a member bound to the peer")
            .to_owned()
    }

    /// The hub's first libp2p listen address.
    pub fn p2p_addr(&self) -> Multiaddr {
        self.server().p2p_addrs()[0].clone()
    }

    /// The Prometheus text the hub's metrics listener serves.
    ///
    /// # Panics
    /// When metrics are disabled or the listener does not answer.
    pub async fn metrics(&self) -> String {
        let addr = self
            .server()
            .metrics_addr()
            .expect("metrics enabled in tests");
        self.client
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
            .expect("GET /metrics reaches the hub")
            .text()
            .await
            .expect("metrics are text")
    }

    /// A `method path` request carrying `body`, signed by `peer` (hub.md §3), ready to send.
    pub fn signed(
        &self,
        peer: &TestPeer,
        method: Method,
        path: &str,
        body: Vec<u8>,
    ) -> RequestBuilder {
        let request = self.client.request(method, self.url(path));
        let request = if body.is_empty() {
            request
        } else {
            request.body(body)
        };
        shared::peer_sig::sign_request(request, &peer.key, &self.hub_id(), crate::now_ms())
            .expect("an in-memory test request signs")
    }

    /// `POST /api/v1/verify` consuming `token` (hub.md §6.8): the status, the JSON body (`null`
    /// when there is none) and the session cookie (`name=value`) when one is set.
    ///
    /// # Panics
    /// When the request cannot be sent.
    pub async fn verify(&self, token: &str) -> (StatusCode, Value, Option<String>) {
        let response = self
            .post("/api/v1/verify", &json!({ "token": token }))
            .await;
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_owned);
        let (status, body) = crate::json_of(response).await;
        (status, body, cookie)
    }

    /// `GET path` signed by `peer`.
    ///
    /// # Panics
    /// When the request cannot be sent.
    pub async fn get_signed(&self, path: &str, peer: &TestPeer) -> reqwest::Response {
        self.signed(peer, Method::GET, path, Vec::new())
            .send()
            .await
            .expect("GET reaches the hub")
    }

    /// `POST path` with `body` as JSON, signed by `peer`.
    ///
    /// # Panics
    /// When the request cannot be sent.
    pub async fn post_signed(
        &self,
        path: &str,
        body: &Value,
        peer: &TestPeer,
    ) -> reqwest::Response {
        let bytes = serde_json::to_vec(body).expect("JSON serializes");
        self.signed(peer, Method::POST, path, bytes)
            .header("content-type", "application/json")
            .send()
            .await
            .expect("POST reaches the hub")
    }
}

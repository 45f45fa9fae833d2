//! [`Server`]: starts the hub in the order of hub.md §1 rule 1, owns every task, and stops them
//! gracefully.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use libp2p::{Multiaddr, PeerId};
use prometheus_client::registry::Registry;
use shared::config::{LoadConfigError, Overrides, Sources};
use shared::db::ConnectError;
use shared::peer_sig::PeerSigVerifier;
use shared::server::{BindError, Listeners, OpenIdentityError, TaskError, Tasks};

use crate::config::Config;
use crate::entitlements::{Entitlement, Entitlements};
use crate::members::Rights;
use crate::membership::{Enforcer, Membership};
use crate::metrics::Metrics;
use crate::p2p::{self, StartNetworkError};
use crate::presence::Presence;
use crate::state::AppState;
use crate::state::Limiters;
use crate::store::Store;
use shared::server::Readiness;
use shared::telemetry::LogConfig;

/// Everything must have stopped within this after a shutdown request (hub.md §1 rule 3).
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the hub could not start. Each variant names the file, address or database at fault.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory or the key file is unusable.
    #[error(transparent)]
    Identity(#[from] OpenIdentityError),
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Database(#[from] ConnectError),
    /// A config value only checkable with the key (e.g. `/p2p/<id>` suffixes).
    #[error(transparent)]
    Config(#[from] LoadConfigError),
    /// A listener could not be bound.
    #[error(transparent)]
    Bind(#[from] BindError),
    /// The mailer could not be set up.
    #[error(transparent)]
    Mailer(#[from] crate::email::MailerError),
    /// libp2p could not start or bind.
    #[error(transparent)]
    Network(#[from] StartNetworkError),
    /// The entitlement table could not be loaded.
    #[error("loading memberships: {0}")]
    Load(shared::db::StoreError),
    /// The state of the super hub announcements could not be read.
    #[error("reading the super hub announcements: {0}")]
    Directory(shared::db::StoreError),
}

/// A running hub. Dropping it without [`Server::shutdown`] cancels every task.
#[derive(Debug)]
pub struct Server {
    peer_id: PeerId,
    http_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    p2p_addrs: Vec<Multiaddr>,
    store: Store,
    enforcer: Enforcer,
    presence: Presence,
    tasks: Tasks,
}

impl Server {
    /// Starts the hub: data dir, key, database (with migrations), then every listener. Returns
    /// once all are bound, so addresses are known even when configured with port 0.
    ///
    /// # Errors
    /// [`StartError`] naming what failed; nothing keeps running after an error.
    pub async fn start(config: Config) -> Result<Self, StartError> {
        let data_dir = config.hub.data_dir.clone();
        let (key, id) = shared::server::open_identity(&data_dir, &config.key_path())?;
        config.external_addrs_for(&id.peer_id())?;

        let mailer = crate::email::Mailer::new(&config.email, &data_dir)?;
        let store = Store::open(&config.database, &data_dir).await?;
        tracing::info!(database = %store.display_url(), "database ready");

        let Listeners {
            http: http_listener,
            http_addr,
            metrics: metrics_listener,
            metrics_addr,
        } = Listeners::bind(&config.http, &config.metrics).await?;

        let mut registry = Registry::default();
        let metrics = Metrics::register(&mut registry);
        let entitlements = Entitlements::new(crate::membership::default_rights(&config));
        let network =
            p2p::spawn_network(&config, &key, &mut registry, &entitlements, &metrics).await?;
        let registry = Arc::new(registry);

        let p2p_addrs: Vec<Multiaddr> = network
            .external_addrs
            .iter()
            .map(|a| p2p::with_peer_id(a, id.peer_id()))
            .collect();
        if config.p2p.external_addrs.is_empty() {
            tracing::warn!(
                "p2p.external_addrs is empty: advertising listen addresses (development only)"
            );
        }
        let http_url = config.http.external_url(http_addr);
        let info = crate::http::info_document(&config, &id, &p2p_addrs, &http_url);
        let ready = Readiness::default();
        let presence = Presence::new(config.presence.clone(), metrics.clone());
        let tasks = Tasks::default();
        let enforcer = Enforcer {
            entitlements: entitlements.clone(),
            presence: presence.clone(),
            network: network.handle.clone(),
            tracker: tasks.tracker().clone(),
        };
        let config = Arc::new(config);
        let outbox_wake = Arc::new(tokio::sync::Notify::new());
        let membership = Membership::new(
            config.clone(),
            store.clone(),
            enforcer.clone(),
            key.clone(),
            http_url.clone(),
            metrics.clone(),
            outbox_wake.clone(),
        );
        let bound = membership.load().await.map_err(StartError::Load)?;
        tracing::info!(bound_peers = bound, "entitlement table loaded");
        let billing = crate::billing::Billing::new(&membership, &metrics);
        let info = Arc::new(info);
        let directory = crate::directory::Directory::new(
            config.clone(),
            store.clone(),
            key.clone(),
            info.clone(),
        );
        directory
            .load_statuses()
            .await
            .map_err(StartError::Directory)?;
        let decommissioned = directory
            .decommissioned_at()
            .await
            .map_err(StartError::Directory)?;
        let state = AppState {
            billing,
            membership: membership.clone(),
            hub_id: id,
            store: store.clone(),
            network: network.handle.clone(),
            info,
            directory: directory.clone(),
            ready: ready.clone(),
            presence: presence.clone(),
            entitlements: entitlements.clone(),
            peer_sig: Arc::new(PeerSigVerifier::new(id, config.presence.signature_window)),
            limits: Arc::new(Limiters::new(&config)),
            config,
        };

        let token = tasks.token().clone();
        tasks.spawn_infallible("libp2p", network.event_loop.run(token.child_token()));
        spawn_presence_jobs(&tasks, &presence, state.config.presence.sweep_interval);
        tasks.spawn_infallible(
            "membership-sweep",
            membership.clone().run_sweep(token.child_token()),
        );
        if let Some(billing) = state.billing.clone() {
            tasks.spawn_infallible(
                "stripe-reconcile",
                billing.run_reconciliation(token.child_token()),
            );
        }
        tasks.spawn_infallible(
            "email-outbox",
            crate::email::outbox::run(
                store.clone(),
                mailer,
                state.config.email.clone(),
                metrics.clone(),
                outbox_wake,
                token.child_token(),
            ),
        );
        let http = state.config.http.clone();
        let http_metrics = metrics.http.clone();
        let app = crate::routes::router(state, metrics.http.clone());
        let http_token = token.child_token();
        tasks.spawn("http", async move {
            shared::server::serve_http(http_listener, app, &http, http_metrics, http_token).await
        });
        if let Some(listener) = metrics_listener {
            tasks.spawn(
                "metrics",
                shared::server::serve_metrics(listener, registry, token.child_token()),
            );
        }
        ready.set();
        announce(&tasks, &directory, decommissioned.as_deref());

        tracing::info!(hub_id = %id, "hub started");
        tracing::info!(%http_url, "HTTP: /healthz, /readyz, /api/v1/info");
        for addr in &p2p_addrs {
            tracing::info!(%addr, "libp2p");
        }
        if let Some(addr) = metrics_addr {
            tracing::info!(url = %format!("http://{addr}/metrics"), "metrics");
        }
        tracing::info!(
            "configure with --config FILE (see `hub init`), HUB_<SECTION>__<KEY> variables, or --http-bind/--data-dir"
        );
        Ok(Self {
            peer_id: id.peer_id(),
            http_addr,
            metrics_addr,
            p2p_addrs,
            store,
            enforcer,
            presence,
            tasks,
        })
    }

    /// Sets what `peer` may do. Granting takes effect on the peer's next request; when the relay
    /// right ends, the peer's connections are closed (hub.md §4.3 rule 2), dropping its
    /// reservations and circuits.
    pub async fn set_rights(&self, peer: PeerId, rights: Rights, reason: &'static str) {
        self.enforcer
            .apply(peer, Some(Entitlement::bare(rights)), reason)
            .await;
    }

    /// The hub id (its libp2p PeerId).
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// The bound HTTP address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The bound metrics address, when metrics are enabled.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The advertised libp2p addresses, each ending in `/p2p/<hub id>`.
    pub fn p2p_addrs(&self) -> &[Multiaddr] {
        &self.p2p_addrs
    }

    /// Resolves when a task stops on its own, which is always an error. Cancel-safe.
    ///
    /// # Errors
    /// [`TaskError`] naming the task and its cause, e.g. a listener that failed.
    pub async fn join(&mut self) -> Result<(), TaskError> {
        Err(self.tasks.join().await)
    }

    /// Stops accepting, fans out `offline` for every live peer, cancels every task and waits for them (at most 10 s), then closes the
    /// database.
    pub async fn shutdown(self) {
        // Subscribers hear `offline` for every live peer before their sockets close (hub.md §1).
        self.presence.shutdown();
        if !self.tasks.shutdown(SHUTDOWN_TIMEOUT).await {
            tracing::warn!("some tasks did not stop within {SHUTDOWN_TIMEOUT:?}");
        }
        self.store.close().await;
        tracing::info!("hub stopped");
    }
}

impl shared::cli::Service for Server {
    type Config = Config;
    const ENV_PREFIX: &'static str = crate::config::ENV_PREFIX;
    type StartError = StartError;

    fn load_config(sources: &Sources, overrides: &Overrides) -> Result<Config, LoadConfigError> {
        Config::load(sources, overrides)
    }

    fn log_config(config: &Config) -> &LogConfig {
        &config.log
    }

    fn key_path(config: &Config) -> PathBuf {
        config.key_path()
    }

    fn http_bind(config: &Config) -> std::net::SocketAddr {
        config.http.bind
    }

    async fn start(config: Config) -> Result<Self, StartError> {
        Self::start(config).await
    }

    async fn join(&mut self) -> Result<(), TaskError> {
        Self::join(self).await
    }

    async fn shutdown(self) {
        Self::shutdown(self).await;
    }
}

/// Starts the announcer (hub.md §11.4) unless no super hub is configured or the hub is
/// decommissioned, and says which communities become public where.
fn announce(tasks: &Tasks, directory: &crate::directory::Directory, decommissioned: Option<&str>) {
    let urls = &directory.config().superhubs.urls;
    if let Some(at) = decommissioned {
        tracing::error!(
            decommissioned_at = %at,
            "this hub is decommissioned: it announces itself to no super hub (`hub decommission --revert` undoes this)"
        );
        return;
    }
    if urls.is_empty() {
        return;
    }
    for url in urls {
        tracing::warn!(superhub = %url, "this community will be publicly listed at {url}");
    }
    tasks.spawn_infallible(
        "superhub-announcer",
        crate::directory::run_announcer(directory.clone(), tasks.token().child_token()),
    );
}

/// The presence sweep (expired peers go offline) and the legacy refresh, both until cancelled.
fn spawn_presence_jobs(tasks: &Tasks, presence: &Presence, sweep_interval: Duration) {
    let token = tasks.token().child_token();
    let presence = presence.clone();
    tasks.spawn_infallible("presence", async move {
        let mut sweep = tokio::time::interval(sweep_interval);
        let mut refresh = tokio::time::interval(Duration::from_secs(1));
        let mut tick = 0u64;
        loop {
            tokio::select! {
                () = token.cancelled() => return,
                _ = sweep.tick() => presence.sweep(std::time::Instant::now()),
                _ = refresh.tick() => {
                    presence.refresh_legacy(tick);
                    tick += 1;
                }
            }
        }
    });
}

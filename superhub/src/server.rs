//! [`Server`]: starts the super hub in the order of superhub.md §1, owns every task, and stops
//! them gracefully.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use libp2p::PeerId;
use prometheus_client::registry::Registry;
use shared::api::{DirectoryPolicy, Software, SuperhubInfo};
use shared::config::{LoadConfigError, Overrides, Sources};
use shared::db::ConnectError;
use shared::server::{BindError, Listeners, OpenIdentityError, Readiness, TaskError, Tasks};

use shared::telemetry::LogConfig;

use crate::config::Config;
use crate::directory::Directory;
use crate::lease::Leases;
use crate::metrics::Metrics;
use crate::state::AppState;
use crate::store::Store;

/// Everything must have stopped within this after a shutdown request (superhub.md §1 rule 3).
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the super hub could not start. Each variant names the file, address or database at fault.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory or the key file is unusable.
    #[error(transparent)]
    Identity(#[from] OpenIdentityError),
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Database(#[from] ConnectError),
    /// A listener could not be bound.
    #[error(transparent)]
    Bind(#[from] BindError),
    /// The libp2p probe's swarm could not be built.
    #[error(transparent)]
    Probe(#[from] crate::probe::BuildSwarmError),
}

/// A running super hub.
#[derive(Debug)]
pub struct Server {
    peer_id: PeerId,
    http_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    store: Store,
    directory: Directory,
    leases: Leases,
    tasks: Tasks,
}

impl Server {
    /// Starts the super hub: data dir, key, database (with migrations), then every listener.
    /// Returns once all are bound, so addresses are known even when configured with port 0.
    ///
    /// # Errors
    /// [`StartError`] naming what failed.
    pub async fn start(config: Config) -> Result<Self, StartError> {
        let data_dir = config.superhub.data_dir.clone();
        let (key, id) = shared::server::open_identity(&data_dir, &config.key_path())?;
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

        let http_url = config.http.external_url(http_addr);
        let info = SuperhubInfo {
            id: id.to_string(),
            name: config.superhub.name.clone(),
            description: config.superhub.description.clone(),
            http_url: http_url.clone(),
            contact_email: config.superhub.contact_email.clone(),
            software: Software::this(shared::protocol::SUPERHUB_SOFTWARE),
            policy: Some(DirectoryPolicy {
                require_https: config.directory.require_https,
                record_max_lifetime_secs: config.directory.record_max_lifetime.as_secs(),
                probe_interval_secs: config.probe.interval.as_secs(),
                listing: "probe_required".to_owned(),
            }),
            counts: None,
            federation: None,
        };
        let ready = Readiness::default();
        let config = Arc::new(config);
        let directory = Directory::new(store.clone(), config.clone(), &id.to_string());
        let state = AppState {
            metrics: metrics.clone(),
            limits: Arc::new(crate::http::extract::IpLimiters::new(&config.rate_limits)),
            directory: directory.clone(),
            config,
            store: store.clone(),
            info: Arc::new(info),
            ready: ready.clone(),
        };

        let tasks = Tasks::default();
        let token = tasks.token().clone();
        let leases = Leases::new(store.kind(), &state.config.database.url);
        tasks.spawn_infallible(
            "directory sweep",
            crate::directory::sweep::run_sweep(
                store.clone(),
                state.config.clone(),
                metrics.directory.clone(),
                leases.clone(),
                token.child_token(),
            ),
        );
        if state.config.probe.enabled {
            crate::probe::Prober::start(
                &state.directory,
                &state.config,
                &key,
                &http_url,
                metrics.clone(),
                leases.clone(),
                &tasks,
            )?;
        } else {
            tracing::warn!("probe.enabled = false: no hub is probed, so none becomes listed");
        }
        crate::federation::spawn_pullers(
            &tasks,
            &state.directory,
            &state.config,
            &metrics.federation,
            &leases,
        );
        if let Ok(head) = store.changes_head().await {
            metrics.federation.set_changes_head(head);
        }
        let http = state.config.http.clone();
        let http_metrics = metrics.http.clone();
        let app = crate::http::router(state, metrics.http.clone());
        let http_token = token.child_token();
        tasks.spawn("http", async move {
            shared::server::serve_http(http_listener, app, &http, http_metrics, http_token).await
        });
        if let Some(listener) = metrics_listener {
            tasks.spawn(
                "metrics",
                shared::server::serve_metrics(listener, Arc::new(registry), token.child_token()),
            );
        }
        ready.set();

        tracing::info!(superhub_id = %id, "super hub started");
        tracing::info!(%http_url, "HTTP: /healthz, /readyz, /api/v1/info, /api/v1/hubs, /api/v1/resolve/{{slug}}");
        if let Some(addr) = metrics_addr {
            tracing::info!(url = %format!("http://{addr}/metrics"), "metrics");
        }
        tracing::info!(
            "configure with --config FILE (see `superhub init`), SUPERHUB_<SECTION>__<KEY> variables, or --http-bind/--data-dir"
        );
        Ok(Self {
            peer_id: id.peer_id(),
            http_addr,
            metrics_addr,
            store,
            directory,
            leases,
            tasks,
        })
    }

    /// The super hub id.
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

    /// The directory service (registration and the store), for tools and tests that register
    /// without HTTP.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// The advisory leases of this process (superhub.md §15), for single-flight jobs.
    pub fn leases(&self) -> &Leases {
        &self.leases
    }

    /// Resolves when a task stops on its own, which is always an error. Cancel-safe.
    ///
    /// # Errors
    /// [`TaskError`] naming the task and its cause.
    pub async fn join(&mut self) -> Result<(), TaskError> {
        Err(self.tasks.join().await)
    }

    /// Cancels every task and waits for them (at most 10 s), then closes the database.
    pub async fn shutdown(self) {
        if !self.tasks.shutdown(SHUTDOWN_TIMEOUT).await {
            tracing::warn!("some tasks did not stop within {SHUTDOWN_TIMEOUT:?}");
        }
        self.leases.close().await;
        self.store.close().await;
        tracing::info!("super hub stopped");
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

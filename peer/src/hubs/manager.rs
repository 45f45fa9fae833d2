//! Running the hubs: [`spawn`] starts one presence channel per hub of `hubs.urls` and `_hubs`,
//! [`Hubs::add`] / [`Hubs::leave`] start and stop one later, [`Hubs::pulse`] asks a hub to wake a
//! peer's relay reservation (peer.md §2.1 step 4), and address changes become `update`s.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use libp2p::PeerId;
use reqwest::{Method, StatusCode};
use shared::server::Tasks;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::client::{HubCallError, HubClient};
use super::context::Ctx;
use super::{HubKind, HubView, Hubs, channel};
use crate::hub_url::HubUrl;
use crate::node::Node;
use crate::p2p::NetEvent;
use crate::store::{HubSource, StoreError};

/// Hubs joined at most (peer.md §3).
pub const MAX_HUBS: usize = 16;
/// Deadline of `POST /api/pulse`.
pub(crate) const PULSE_TIMEOUT: Duration = Duration::from_secs(3);
/// One pulse per (hub, target) per this.
pub(crate) const PULSE_INTERVAL: Duration = Duration::from_secs(10);
/// Pulse times remembered at most.
const MAX_PULSES: usize = 1024;
/// How long `leave` waits for the channel's goodbye.
const LEAVE_WAIT: Duration = Duration::from_secs(5);

/// Why a hub could not be added or left.
#[derive(Debug, thiserror::Error)]
pub enum HubsError {
    /// Not one of our hubs.
    #[error("unknown hub")]
    Unknown,
    /// Already [`MAX_HUBS`] hubs.
    #[error("at most {MAX_HUBS} hubs")]
    TooMany,
    /// The hub subsystem is not running (before `spawn`, after shutdown).
    #[error("hubs are not running")]
    NotRunning,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a pulse achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PulseOutcome {
    /// 200: the hub asked the peer, this is its answer.
    Answered(serde_json::Value),
    /// 404 `not_found` / `relay_disabled`: the hub cannot help; skip it.
    Skip(String),
}

/// The running side of the registry.
#[derive(Debug)]
pub(crate) struct Manager {
    node: Weak<Node>,
    token: CancellationToken,
    tracker: TaskTracker,
    channels: Mutex<HashMap<HubUrl, Running>>,
    pulses: Mutex<HashMap<(HubUrl, PeerId), Instant>>,
}

#[derive(Debug)]
struct Running {
    token: CancellationToken,
    handle: JoinHandle<()>,
    client: Arc<HubClient>,
}

/// Turns address changes into presence updates; [`start_configured`] then starts the hubs.
pub fn spawn(node: &Arc<Node>, tasks: &Tasks) {
    let manager = Manager {
        node: Arc::downgrade(node),
        token: tasks.token().child_token(),
        tracker: tasks.tracker().clone(),
        channels: Mutex::new(HashMap::new()),
        pulses: Mutex::new(HashMap::new()),
    };
    if node.hubs.manager.set(manager).is_err() {
        tracing::error!("hubs spawned twice");
        return;
    }
    let node = node.clone();
    let token = tasks.token().child_token();
    tasks.spawn_infallible("hubs", async move {
        let mut net = node.net.subscribe();
        loop {
            tokio::select! {
                () = token.cancelled() => return,
                event = net.recv() => match event {
                    Ok(NetEvent::NewListenAddr { .. } | NetEvent::ExpiredListenAddr { .. }
                        | NetEvent::ReservationAccepted { .. }) => node.hubs.presence_changed(),
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        node.hubs.presence_changed();
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                        token.cancelled().await;
                        return;
                    }
                },
            }
        }
    });
}

/// Stores the hubs of `hubs.urls` and starts every enabled hub of the `_hubs` table. Awaited
/// by `Peer::start`, so a hub added once it returns can never race a stored row being started.
pub async fn start_configured(node: &Arc<Node>) {
    let now = node.clock.now_ms();
    for raw in &node.config.hubs.urls {
        match HubUrl::parse(raw) {
            Ok(url) => {
                if let Err(error) = node.store.insert_hub(&url, HubSource::Config, now).await {
                    tracing::warn!(hub = %url, %error, "hub not stored");
                }
            }
            Err(error) => tracing::warn!(url = raw, %error, "ignoring a configured hub URL"),
        }
    }
    let rows = match node.store.list_hubs().await {
        Ok(rows) => rows,
        Err(error) => {
            tracing::error!(%error, "cannot read _hubs");
            return;
        }
    };
    for row in rows.into_iter().filter(|r| r.enabled) {
        if let Err(error) = node.hubs.start(row.url.clone(), row.source) {
            tracing::warn!(hub = %row.url, %error, "hub not started");
        }
    }
}

impl Hubs {
    fn manager(&self) -> Result<&Manager, HubsError> {
        self.manager.get().ok_or(HubsError::NotRunning)
    }

    /// Adds a hub (stored in `_hubs` with `source`) and starts its presence channel. Returns
    /// false when it was there already.
    ///
    /// # Errors
    /// [`HubsError`].
    pub async fn add(&self, url: HubUrl, source: HubSource) -> Result<bool, HubsError> {
        let manager = self.manager()?;
        let node = manager.node.upgrade().ok_or(HubsError::NotRunning)?;
        if self.get(&url).is_some() {
            return Ok(false);
        }
        if self.list().len() >= MAX_HUBS {
            return Err(HubsError::TooMany);
        }
        node.store
            .insert_hub(&url, source, node.clock.now_ms())
            .await?;
        self.start(url, source)
    }

    /// Registers `url` and starts its channel (the row exists already).
    fn start(&self, url: HubUrl, source: HubSource) -> Result<bool, HubsError> {
        let manager = self.manager()?;
        let node = manager.node.upgrade().ok_or(HubsError::NotRunning)?;
        if self.list().len() >= MAX_HUBS {
            return Err(HubsError::TooMany);
        }
        if !self.insert(HubView::new(url.clone(), source)) {
            return Ok(false);
        }
        let client = Arc::new(HubClient::new(
            url.clone(),
            node.key.clone(),
            node.clock.clone(),
        ));
        let token = manager.token.child_token();
        let ctx = Arc::new(Ctx::new(
            node,
            client.clone(),
            token.clone(),
            manager.tracker.clone(),
        ));
        tracing::info!(hub = %url, source = source.as_str(), "hub added");
        let handle = manager.tracker.spawn(channel::run(ctx));
        manager
            .channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                url,
                Running {
                    token,
                    handle,
                    client,
                },
            );
        Ok(true)
    }

    /// Leaves a hub: stops presence there (sending `offline`), drops it from the registry (its
    /// relay reservation is released by the relay client) and deletes its `_hubs` row.
    ///
    /// # Errors
    /// [`HubsError::Unknown`] for a hub we are not in.
    pub async fn leave(&self, url: &HubUrl) -> Result<(), HubsError> {
        let manager = self.manager()?;
        let node = manager.node.upgrade().ok_or(HubsError::NotRunning)?;
        if self.get(url).is_none() {
            return Err(HubsError::Unknown);
        }
        let running = manager
            .channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(url);
        if let Some(running) = running {
            running.token.cancel();
            if tokio::time::timeout(LEAVE_WAIT, running.handle)
                .await
                .is_err()
            {
                tracing::warn!(hub = %url, "hub channel did not stop in time");
            }
        }
        self.remove(url);
        node.store.delete_hub(url).await?;
        tracing::info!(hub = %url, "left hub");
        Ok(())
    }

    /// Our presence changed (addresses, circuit, label, avatar): every hub gets an `update`.
    pub fn presence_changed(&self) {
        self.presence.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that changes whenever [`Hubs::presence_changed`] is called.
    pub fn presence_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.presence.subscribe()
    }

    /// `POST {hub}/api/pulse?peer=<target>` (3 s): signed at signed hubs, unsigned at legacy
    /// hubs; at most one per (hub, target) per 10 s.
    ///
    /// # Errors
    /// [`HubCallError`]; [`HubCallError::RateLimited`] when pulsed within the last 10 s.
    pub async fn pulse(&self, url: &HubUrl, target: &PeerId) -> Result<PulseOutcome, HubCallError> {
        let manager = self
            .manager()
            .map_err(|e| HubCallError::Unreachable(e.to_string()))?;
        let client = manager
            .channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(url)
            .map(|r| r.client.clone())
            .ok_or_else(|| HubCallError::Unreachable("unknown hub".to_owned()))?;
        {
            let mut pulses = manager.pulses.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            pulses.retain(|_, at| now.duration_since(*at) < PULSE_INTERVAL);
            let key = (url.clone(), *target);
            if let Some(at) = pulses.get(&key) {
                return Err(HubCallError::RateLimited(
                    PULSE_INTERVAL.saturating_sub(now.duration_since(*at)),
                ));
            }
            if pulses.len() < MAX_PULSES {
                pulses.insert(key, now);
            }
        }
        let target_path = format!("/api/pulse?peer={target}");
        let body = Some(b"{}".to_vec());
        let answer = match self.get(url).and_then(|v| v.kind) {
            Some(HubKind::Signed) => {
                client
                    .signed("pulse", Method::POST, &target_path, body, PULSE_TIMEOUT)
                    .await?
            }
            Some(HubKind::Legacy) => {
                client
                    .call(Method::POST, &target_path, body, PULSE_TIMEOUT)
                    .await?
            }
            // Not discovered yet: never risk an unsigned call to a signed hub.
            None => {
                return Err(HubCallError::Unreachable(
                    "hub kind not known yet".to_owned(),
                ));
            }
        };
        match answer.status {
            StatusCode::OK => Ok(PulseOutcome::Answered(answer.json()?)),
            StatusCode::NOT_FOUND => Ok(PulseOutcome::Skip(answer.code())),
            _ => Err(answer.error()),
        }
    }
}

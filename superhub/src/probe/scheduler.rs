//! The probe scheduler (superhub.md §4.1): every `probe.tick_millis` (and whenever registration
//! stores a record that needs a probe) it claims due hubs up to the free probe slots and probes
//! them; each finished probe is recorded and frees its slot. The queue is the database, so
//! registration never waits for a probe.

use std::sync::Arc;
use std::time::Instant;

use shared::clock::Clock;
use shared::server::Tasks;
use tokio::sync::{Notify, mpsc};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::http::HttpProbe;
use super::outcome::HttpOutcome;
use super::p2p::{BuildSwarmError, P2pProbe};
use super::transition::{decide, jitter_ms};
use crate::config::{Config, ProbeConfig};
use crate::lease::Leases;
use crate::metrics::{KindLabel, Metrics, ProbeLabels};
use crate::store::{DueProbe, ProbeReport, ProbeResult, Recorded, Store, StoreError};

/// The probe service: the scheduler's state and both probes. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Prober {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    config: ProbeConfig,
    clock: Clock,
    http: HttpProbe,
    p2p: Option<P2pProbe>,
    metrics: Metrics,
    wakeup: Arc<Notify>,
    /// Each probe runs as its own task here (never inside the scheduler's task: a probe holding
    /// a SQLite write transaction must keep running while the scheduler waits for the lock).
    /// The `probe` lease: one replica schedules at a time (superhub.md §15).
    leases: Leases,
    tracker: TaskTracker,
    token: CancellationToken,
}

/// Probes started and not yet recorded: their hub ids, and the channel each reports its end on.
#[derive(Debug)]
pub(crate) struct InFlight {
    ids: Vec<String>,
    done_tx: mpsc::Sender<String>,
    done_rx: mpsc::Receiver<String>,
}

impl InFlight {
    fn new(concurrency: usize) -> Self {
        // At most `concurrency` probes are in flight and each reports once: sends never wait.
        let (done_tx, done_rx) = mpsc::channel(concurrency);
        Self {
            ids: Vec::new(),
            done_tx,
            done_rx,
        }
    }
}

impl Prober {
    /// Builds the probes and spawns the scheduler (and the libp2p probe's swarm, when
    /// `probe.p2p`) on `tasks`. The directory's probe wakeup starts a tick at once;
    /// `external_url` goes into the probe's User-Agent; a tick runs only while this process holds
    /// the `probe` lease.
    ///
    /// # Errors
    /// [`BuildSwarmError`] when the libp2p probe's transport cannot be built.
    pub(crate) fn start(
        directory: &crate::directory::Directory,
        config: &Config,
        key: &libp2p::identity::ed25519::Keypair,
        external_url: &str,
        metrics: Metrics,
        leases: Leases,
        tasks: &Tasks,
    ) -> Result<Self, BuildSwarmError> {
        let p2p = if config.probe.p2p {
            Some(P2pProbe::start(&config.probe, key, tasks)?)
        } else {
            None
        };
        let prober = Self {
            inner: Arc::new(Inner {
                store: directory.store().clone(),
                config: config.probe.clone(),
                clock: config.clock.clone(),
                http: HttpProbe::new(&config.probe, external_url),
                p2p,
                metrics,
                wakeup: directory.probe_wakeup(),
                leases,
                tracker: tasks.tracker().clone(),
                token: tasks.token().child_token(),
            }),
        };
        let token = prober.inner.token.clone();
        tasks.spawn_infallible("probe-scheduler", prober.clone().run(token));
        Ok(prober)
    }

    /// Ticks until `token` is cancelled, which also abandons the probes in flight unrecorded.
    async fn run(self, token: CancellationToken) {
        let mut ticker = tokio::time::interval(self.inner.config.tick());
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut in_flight = InFlight::new(self.inner.config.concurrency);
        let mut lease = None;
        loop {
            tokio::select! {
                () = token.cancelled() => return,
                Some(id) = in_flight.done_rx.recv() => {
                    in_flight.ids.retain(|busy| *busy != id);
                }
                _ = ticker.tick() => {}
                () = self.inner.wakeup.notified() => {}
            }
            if !self.inner.leases.hold(&mut lease, "probe").await {
                continue;
            }
            if let Err(error) = self.tick(&mut in_flight).await {
                tracing::warn!(%error, "probe scheduler tick failed; retrying at the next tick");
            }
        }
    }

    /// One tick: claims due hubs up to the free slots, in the order of §4.1 rule 1, starts
    /// their probes, and updates `superhub_probe_due`. Replicas sharing a database may wrap this
    /// in a lease; claims are already exclusive per hub.
    ///
    /// # Errors
    /// [`StoreError`]; probes already started keep running.
    pub(crate) async fn tick(&self, in_flight: &mut InFlight) -> Result<(), StoreError> {
        let inner = &self.inner;
        let now_ms = inner.clock.now_ms();
        let free = inner.config.concurrency.saturating_sub(in_flight.ids.len());
        let claimed = inner
            .store
            .claim_due_probes(now_ms, free, &in_flight.ids)
            .await?;
        for hub in claimed {
            in_flight.ids.push(hub.id.clone());
            let (this, done) = (self.clone(), in_flight.done_tx.clone());
            inner.tracker.spawn(async move {
                tokio::select! {
                    () = this.inner.token.cancelled() => {}
                    () = this.probe(&hub) => {}
                }
                let _ = done.try_send(hub.id);
            });
        }
        let due = inner.store.count_due_probes(now_ms).await?;
        inner.metrics.probe_due.set(due);
        Ok(())
    }

    /// Probes `hub` over HTTP and (when enabled) libp2p at once, then records the result.
    async fn probe(&self, hub: &DueProbe) {
        let inner = &self.inner;
        let http = async {
            let started = Instant::now();
            let result = inner.http.probe(&hub.http_url, &hub.id).await;
            self.observe("http", result.outcome.as_str(), started);
            result
        };
        let p2p = async {
            let p2p = inner.p2p.as_ref()?;
            let started = Instant::now();
            let result = p2p.probe(&hub.id, &hub.multiaddrs).await;
            self.observe("p2p", result.outcome.as_str(), started);
            Some(result)
        };
        let (http, p2p) = tokio::join!(http, p2p);
        let now_ms = inner.clock.now_ms();
        let report = ProbeReport {
            hub,
            at: now_ms,
            http: ProbeResult {
                outcome: http.outcome.as_str(),
                rtt_ms: http.rtt_ms,
            },
            p2p: p2p.map(|p| ProbeResult {
                outcome: p.outcome.as_str(),
                rtt_ms: p.rtt_ms,
            }),
        };
        let ok = http.outcome == HttpOutcome::Ok;
        let jitter = jitter_ms(inner.config.jitter);
        let recorded = inner
            .store
            .record_probe(&report, |state, failures| {
                decide(&inner.config, state, failures, ok, now_ms, jitter)
            })
            .await;
        match recorded {
            Ok(Recorded::Applied(state)) => tracing::debug!(
                hub = %hub.id, outcome = http.outcome.as_str(), state = state.as_str(), "probed"
            ),
            Ok(Recorded::Superseded) => tracing::debug!(
                hub = %hub.id, "probe result dropped: the record changed while probing"
            ),
            Err(error) => tracing::warn!(hub = %hub.id, %error, "probe result not recorded"),
        }
    }

    fn observe(&self, kind: &'static str, outcome: &'static str, started: Instant) {
        let metrics = &self.inner.metrics;
        metrics
            .probes
            .get_or_create(&ProbeLabels { kind, outcome })
            .inc();
        metrics
            .probe_duration
            .get_or_create(&KindLabel { kind })
            .observe(started.elapsed().as_secs_f64());
    }
}

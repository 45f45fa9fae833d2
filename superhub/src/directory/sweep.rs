//! The expiry sweep (superhub.md §3.5, §4.4): [`sweep_once`] runs one pass — records past their
//! `expires_at` become `expired`, and expired records, tombstones and probe rows past their
//! retention are deleted. [`run_sweep`] repeats it every `directory.sweep_interval` and refreshes
//! the hub gauges. One pass is a plain function so a replica lease can wrap it.

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::metrics::DirectoryMetrics;
use crate::store::{Store, StoreError};

const DAY_MS: i64 = 86_400_000;

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Records that became `expired`.
    pub expired: u64,
    /// Expired hubs deleted after `directory.expired_retention_days`.
    pub deleted_expired: u64,
    /// Tombstones deleted after `directory.tombstone_retention_days`.
    pub deleted_tombstones: u64,
    /// Probe rows deleted after `probe.history_days`.
    pub deleted_probes: u64,
}

fn days_before(now_ms: i64, days: u32) -> i64 {
    now_ms.saturating_sub(i64::from(days).saturating_mul(DAY_MS))
}

/// One sweep at `now_ms`.
///
/// # Errors
/// [`StoreError`]; steps done before the failure stay done.
pub async fn sweep_once(store: &Store, config: &Config, now_ms: i64) -> Result<Swept, StoreError> {
    let directory = &config.directory;
    let expired = store.expire_records(now_ms).await?;
    let deleted_expired = store
        .delete_expired_hubs(
            days_before(now_ms, directory.expired_retention_days),
            now_ms,
        )
        .await?;
    let deleted_tombstones = store
        .delete_old_tombstones(
            days_before(now_ms, directory.tombstone_retention_days),
            now_ms,
        )
        .await?;
    let deleted_probes = store
        .delete_old_probes(days_before(now_ms, config.probe.history_days))
        .await?;
    Ok(Swept {
        expired,
        deleted_expired,
        deleted_tombstones,
        deleted_probes,
    })
}

/// Sweeps every `directory.sweep_interval` until cancelled (on one replica at a time: the
/// `sweep` lease, superhub.md §15), then refreshes `superhub_hubs` and
/// `superhub_hubs_hidden`. Failures are logged and retried on the next tick.
pub(crate) async fn run_sweep(
    store: Store,
    config: std::sync::Arc<Config>,
    metrics: DirectoryMetrics,
    leases: crate::lease::Leases,
    token: CancellationToken,
) {
    let mut lease = None;
    let mut tick = tokio::time::interval(config.directory.sweep_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            _ = tick.tick() => {
                if !leases.hold(&mut lease, "sweep").await {
                    continue;
                }
                let now_ms = config.clock.now_ms();
                match sweep_once(&store, &config, now_ms).await {
                    Ok(swept) if swept != Swept::default() => {
                        tracing::info!(?swept, "directory sweep");
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "directory sweep failed; retrying next period"),
                }
                match store.count_hubs().await {
                    Ok(counts) => metrics.set_hubs(&counts),
                    Err(error) => tracing::warn!(%error, "counting hubs failed"),
                }
            }
        }
    }
}

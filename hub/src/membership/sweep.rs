//! The membership sweep (hub.md §6.7), run every `membership.sweep_interval_secs`: accounts whose
//! comp or grace ended are recomputed (and lose their rights at once), stale unverified accounts
//! and expired secrets are deleted, and the `hub_members` gauge is refreshed.

use tokio_util::sync::CancellationToken;

use super::{Membership, Result};
use crate::members;
use crate::metrics::MemberLabels;
use crate::store::StoreError;

/// How long sent or abandoned outbox rows are kept (for the admin's mail statistics).
const HISTORY_MS: i64 = 7 * 86_400_000;
/// Accounts recomputed per sweep at most; the next sweep takes the rest.
const RECOMPUTE_BATCH: i64 = 1000;

impl Membership {
    /// Runs the sweep until cancelled. Failures are logged and retried on the next tick.
    pub(crate) async fn run_sweep(self, token: CancellationToken) {
        let period = self.config().membership.sweep_interval;
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = token.cancelled() => return,
                _ = tick.tick() => {
                    if let Err(error) = self.sweep_once().await {
                        tracing::warn!(%error, "membership sweep failed; retrying next period");
                    }
                }
            }
        }
    }

    /// One sweep.
    pub(crate) async fn sweep_once(&self) -> Result<()> {
        let now = self.now_ms();
        for account_id in self
            .store()
            .list_accounts_due_recompute(now, RECOMPUTE_BATCH)
            .await?
        {
            let mut tx = self.store().begin_write().await?;
            match self.recompute_in(&mut tx, &account_id, now).await {
                Ok(_) | Err(StoreError::NotFound) => {}
                Err(other) => return Err(other.into()),
            }
            tx.commit().await.map_err(StoreError::from)?;
            self.apply_account(&account_id, &[], "sweep").await?;
        }
        let days = i64::try_from(self.config().membership.pending_expiry_days).unwrap_or(3650);
        let stale = self
            .store()
            .delete_stale_pending_accounts(now - days * 86_400_000, now)
            .await?;
        let secrets = self.store().delete_expired_secrets(now).await?;
        if stale + secrets > 0 {
            tracing::info!(
                stale_accounts = stale,
                expired_secrets = secrets,
                "membership sweep"
            );
        }
        let fixed = self.reconcile().await?;
        if fixed > 0 {
            tracing::warn!(
                entries = fixed,
                "membership sweep repaired entitlement entries"
            );
        }
        let horizon = now - self.revocation_horizon_ms();
        let pruned = self
            .store()
            .delete_old_history(horizon, now - HISTORY_MS)
            .await?;
        if pruned > 0 {
            tracing::debug!(rows = pruned, "pruned old revocations and sent mail");
        }
        self.prune_revocations();
        Ok(self.refresh_member_gauge().await?)
    }

    /// Sets `hub_members{state,tier}` from the database.
    pub(crate) async fn refresh_member_gauge(&self) -> Result<(), StoreError> {
        let counts = self.store().count_members().await?;
        let gauge = &self.inner.metrics.members;
        self.inner.metrics.zero_members();
        let members = members::published_member_count(&counts);
        self.inner.member_count.store(
            u64::try_from(members).unwrap_or(0),
            std::sync::atomic::Ordering::Relaxed,
        );
        for (state, tier, n) in counts {
            gauge
                .get_or_create(&MemberLabels {
                    state: state.label(),
                    tier: tier.label(),
                })
                .set(n);
        }
        Ok(())
    }
}

//! Enforcement (hub.md §6.4–§6.6, §7.4): the one code path that turns a committed account change
//! into entitlements ([`Membership::apply_account`]) — it recomputes the account's standing,
//! updates the in-memory table and, when a right is lost, revokes relay and presence at once and
//! records a voucher revocation. Start-up loading and the sweep's reconciliation live here too.
//!
//! The hub is the only writer of its database, so the table never disagrees with committed rows
//! for longer than the call that committed them.

use libp2p::PeerId;
use shared::error_code::ErrorCode;
use sqlx::AnyConnection;

use super::{Error, Membership, Result};
use crate::config::{Config, JoinMode};
use crate::entitlements::{Entitlement, Entitlements};
use crate::members::{self, Facts, Rights, Standing};
use crate::p2p::NetworkHandle;
use crate::presence::Presence;
use crate::store::{self, StoreError};

/// The default rights of peers without an account (hub.md §6.2 open autojoin).
pub(crate) fn default_rights(config: &Config) -> Rights {
    if config.membership.join_mode == JoinMode::Open && config.membership.open_autojoin {
        Rights::ALL
    } else {
        Rights::NONE
    }
}

/// Applies entitlement changes: the table, and revocation of what was lost (hub.md §4.3, §6.6).
#[derive(Debug, Clone)]
pub(crate) struct Enforcer {
    pub(crate) entitlements: Entitlements,
    pub(crate) presence: Presence,
    pub(crate) network: NetworkHandle,
    /// The server's task tracker: enforcement after a commit runs on it, so shutdown waits for it.
    pub(crate) tracker: tokio_util::task::TaskTracker,
}

impl Enforcer {
    /// Sets the entry of `peer`; a lost presence right closes its presence sessions with the
    /// entry's refusal code, a lost right of either kind closes its libp2p connections (dropping
    /// reservations and circuits). Returns the rights before.
    pub(crate) async fn apply(
        &self,
        peer: PeerId,
        entry: Option<Entitlement>,
        reason: &'static str,
    ) -> Rights {
        let before = self.entitlements.set(peer, entry);
        let after = self.entitlements.rights(&peer);
        if before.presence && !after.presence {
            self.presence
                .revoke(&peer, self.entitlements.refusal(&peer).as_str());
        }
        if (before.relay && !after.relay) || (before.presence && !after.presence) {
            let _ = self.network.disconnect(peer, reason).await;
        }
        before
    }
}

impl Membership {
    /// Fills the entitlement table from the database (hub.md §1 rule 1, before listeners open):
    /// every bound peer with its account's rights, and the voucher revocations still relevant.
    pub(crate) async fn load(&self) -> Result<usize, StoreError> {
        // Plain `set`: the event loop does not run yet, and nobody can hold a right to lose.
        let entries = self.bound_entries().await?;
        for (peer, entry) in &entries {
            self.inner.enforcer.entitlements.set(*peer, Some(*entry));
        }
        let since = self.now_ms() - self.revocation_horizon_ms();
        for revocation in self.inner.store.list_revocations(since, i64::MAX).await? {
            if let Ok(peer) = revocation.peer_id.parse::<PeerId>() {
                self.inner
                    .enforcer
                    .entitlements
                    .revoke_vouchers(peer, revocation.revoked_before);
            }
        }
        Ok(entries.len())
    }

    /// Brings the table in line with the database (the sweep's backstop for an update that failed
    /// after its commit): every bound peer gets its account's entry, and an account entry whose
    /// peer is no longer bound goes back to the default. Returns how many entries changed.
    pub(crate) async fn reconcile(&self) -> Result<usize, StoreError> {
        // Read under the lock, so an enforcement that ran after the read cannot be undone here.
        let _serial = self.inner.apply_lock.lock().await;
        let entries = self.bound_entries().await?;
        let entitlements = &self.inner.enforcer.entitlements;
        let mut changed = 0;
        let bound: std::collections::HashSet<PeerId> =
            entries.iter().map(|(peer, _)| *peer).collect();
        for peer in entitlements.account_peers() {
            if !bound.contains(&peer) {
                self.inner.enforcer.apply(peer, None, "reconcile").await;
                changed += 1;
            }
        }
        for (peer, entry) in entries {
            if entitlements.entry(&peer) != Some(entry) {
                self.inner
                    .enforcer
                    .apply(peer, Some(entry), "reconcile")
                    .await;
                changed += 1;
            }
        }
        Ok(changed)
    }

    /// Ends the rights of `peers` inside the caller's open transaction, before it commits (hub.md
    /// §6.6, §7.4): the table first, so no failure after the commit can leave a right in memory,
    /// then each peer's voucher revocation row, which commits with the change. `entry` is what the
    /// peers keep (`None`: the default of unbound peers). Should the commit fail, the table is
    /// stricter than the database until the sweep's reconciliation.
    pub(crate) async fn revoke_in(
        &self,
        conn: &mut AnyConnection,
        peers: &[String],
        entry: Option<Entitlement>,
        reason: &'static str,
        now: i64,
    ) -> Result<(), StoreError> {
        for peer in peers.iter().filter_map(|p| p.parse::<PeerId>().ok()) {
            self.inner.enforcer.apply(peer, entry, reason).await;
            self.inner.enforcer.entitlements.revoke_vouchers(peer, now);
        }
        for peer in peers {
            store::insert_revocation(conn, peer, reason, now).await?;
        }
        Ok(())
    }

    /// Every bound peer with the entry its account's standing gives it.
    async fn bound_entries(&self) -> Result<Vec<(PeerId, Entitlement)>, StoreError> {
        let guest_presence = self.inner.config.membership.guest_presence;
        let peers = self.inner.store.list_bound_peers().await?;
        Ok(peers
            .iter()
            .filter_map(|bound| {
                let Ok(peer) = bound.peer_id.parse::<PeerId>() else {
                    tracing::warn!(peer = %bound.peer_id, "skipping a binding whose PeerId does not parse");
                    return None;
                };
                let standing = Standing {
                    state: bound.state,
                    tier: bound.tier,
                    grace_until: None,
                };
                Some((peer, entry_for(&standing, guest_presence)))
            })
            .collect())
    }

    /// How long a revocation matters: a voucher issued before it has expired by then.
    pub(crate) fn revocation_horizon_ms(&self) -> i64 {
        let ttl =
            i64::try_from(self.inner.config.vouchers.ttl.as_secs()).unwrap_or(i64::MAX / 1000);
        (ttl + shared::voucher::LEEWAY_SECS as i64) * 1000
    }

    /// Recomputes an account's standing inside the caller's transaction and stores it
    /// (hub.md §6.4). Returns the new standing.
    pub(crate) async fn recompute_in(
        &self,
        conn: &mut AnyConnection,
        account_id: &str,
        now: i64,
    ) -> Result<Standing, StoreError> {
        let account = store::get_account(conn, account_id).await?;
        let facts = Facts {
            state: account.state,
            comped_at: account.comped_at,
            comped_until: account.comped_until,
            ever_paid_at: account.ever_paid_at,
            subscriptions: store::list_subscription_facts(conn, account_id).await?,
        };
        let membership = &self.inner.config.membership;
        let standing = members::recompute(
            &facts,
            membership.access,
            self.inner.config.billing.grace_days,
            now,
        );
        let changed = standing.state != account.state
            || standing.tier != account.tier
            || standing.grace_until != account.grace_until;
        if changed {
            store::update_standing(conn, account_id, &standing, now).await?;
        }
        Ok(standing)
    }

    /// The one code path after a committed membership change: reads the account and its peers
    /// and brings their entitlements in line, revoking what was lost within this call (§6.6).
    /// An account that no longer exists leaves `gone_peers` (its former peers) at the default.
    pub(crate) async fn apply_account(
        &self,
        account_id: &str,
        gone_peers: &[String],
        reason: &'static str,
    ) -> Result<()> {
        // Runs as its own task on the server's tracker: the change is committed, so a client that
        // goes away or a handler timeout must not cancel its enforcement halfway, and shutdown
        // waits for it before the pool closes. The sweep's reconciliation is the backstop for a
        // failure in here.
        let this = self.clone();
        let account_id = account_id.to_owned();
        let gone_peers = gone_peers.to_vec();
        let enforcement = self.inner.enforcer.tracker.spawn(async move {
            this.apply_now(&account_id, &gone_peers, reason).await?;
            // Membership counts change with the same commits (hub.md §15 "and on change").
            if let Err(error) = this.refresh_member_gauge().await {
                tracing::warn!(%error, "hub_members not refreshed");
            }
            Ok(())
        });
        enforcement.await.map_err(Error::Enforce)?
    }

    async fn apply_now(
        &self,
        account_id: &str,
        gone_peers: &[String],
        reason: &'static str,
    ) -> Result<()> {
        let _serial = self.inner.apply_lock.lock().await;
        self.inner.config.membership.faults.after_commit()?;
        let mut conn = self.inner.store.acquire().await?;
        let account = match store::get_account(&mut conn, account_id).await {
            Ok(account) => Some(account),
            Err(StoreError::NotFound) => None,
            Err(other) => return Err(other.into()),
        };
        let bindings = store::list_bindings(&mut conn, account_id).await?;
        drop(conn);
        let guest_presence = self.inner.config.membership.guest_presence;
        let mut lost = Vec::new();
        if let Some(account) = account {
            let standing = Standing {
                state: account.state,
                tier: account.tier,
                grace_until: account.grace_until,
            };
            let entry = entry_for(&standing, guest_presence);
            for binding in &bindings {
                let Ok(peer) = binding.peer_id.parse::<PeerId>() else {
                    continue;
                };
                let before = self.inner.enforcer.apply(peer, Some(entry), reason).await;
                if before.relay && !entry.rights.relay {
                    lost.push(peer);
                }
            }
        }
        for peer_id in gone_peers {
            if let Ok(peer) = peer_id.parse::<PeerId>() {
                self.inner.enforcer.apply(peer, None, reason).await;
                lost.push(peer);
            }
        }
        if !lost.is_empty() {
            self.revoke_vouchers(&lost, reason).await?;
        }
        Ok(())
    }

    /// Records voucher revocations for `peers` (hub.md §7.4) in the database and the table.
    pub(crate) async fn revoke_vouchers(&self, peers: &[PeerId], reason: &str) -> Result<()> {
        let mut tx = self.inner.store.begin_write().await?;
        // Stamped once the write lock is held, so readers polling `since` never miss it.
        let now = self.now_ms();
        for peer in peers {
            store::insert_revocation(&mut tx, &peer.to_string(), reason, now).await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        for peer in peers {
            self.inner.enforcer.entitlements.revoke_vouchers(*peer, now);
        }
        Ok(())
    }

    /// Forgets in-memory revocations whose vouchers have all expired.
    pub(crate) fn prune_revocations(&self) {
        self.inner
            .enforcer
            .entitlements
            .prune_revocations(self.now_ms() - self.revocation_horizon_ms());
    }
}

/// The table entry of a peer whose account stands at `standing` (hub.md §6.5).
pub(crate) fn entry_for(standing: &Standing, guest_presence: bool) -> Entitlement {
    let rights = members::rights(standing, guest_presence);
    let refusal = if rights.presence && rights.relay {
        ErrorCode::NotMember
    } else {
        members::refusal_code(Some(standing), guest_presence)
    };
    Entitlement {
        rights,
        state: Some(standing.state),
        tier: Some(standing.tier),
        refusal,
    }
}

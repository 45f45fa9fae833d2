//! Membership (hub.md §6–§7): the flows that change accounts — join, verification, sessions, bind
//! codes, vouchers — and the one code path that turns a committed change into entitlements
//! ([`Membership::apply_account`]): it recomputes the account's standing, updates the in-memory
//! entitlement table and, when a right is lost, revokes relay and presence at once (§6.6) and
//! records a voucher revocation (§7.4).
//!
//! The hub is the only writer of its database, so the table never disagrees with committed rows
//! for longer than the call that committed them.

pub(crate) mod admin;
pub(crate) mod codes;
pub(crate) mod flows;
mod profile;
mod sweep;
mod vouchers;

use std::sync::Arc;

use libp2p::PeerId;
use libp2p::identity::ed25519;
use shared::ids::Ed25519PeerId;
use sqlx::AnyConnection;

pub(crate) use flows::{JoinOutcome, JoinRequest, Proof, TokenInfo};

use crate::config::{Config, JoinMode};
use crate::entitlements::{Entitlement, Entitlements};
use crate::http::{ApiError, ApiResult};
use crate::members::{self, Facts, Rights, Standing, State};
use crate::metrics::Metrics;
use crate::p2p::NetworkHandle;
use crate::presence::Presence;
use crate::store::{self, Store, StoreError};
use crate::utc::now_ms;

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
                .revoke(&peer, self.entitlements.refusal(&peer));
        }
        if (before.relay && !after.relay) || (before.presence && !after.presence) {
            let _ = self.network.disconnect(peer, reason).await;
        }
        before
    }
}

/// The membership service. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Membership {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Arc<Config>,
    store: Store,
    enforcer: Enforcer,
    key: ed25519::Keypair,
    hub_id: Ed25519PeerId,
    /// `http.external_url` (or the bound address): links, cookies, voucher `hub_url`.
    external_url: String,
    metrics: Metrics,
    /// Notified after a commit that enqueued mail, so the outbox sends it at once.
    outbox_wake: Arc<tokio::sync::Notify>,
    /// Serializes [`Membership::apply_account`]: each call reads the database and writes the
    /// table under it, so the last call always leaves the table at the newest committed state
    /// (two interleaved calls could otherwise write an older standing last).
    apply_lock: tokio::sync::Mutex<()>,
    /// Accounts in `active`/`grace` with a tier other than `guest` (hub.md §11.1), as of the last
    /// gauge refresh.
    member_count: std::sync::atomic::AtomicU64,
}

impl Membership {
    pub(crate) fn new(
        config: Arc<Config>,
        store: Store,
        enforcer: Enforcer,
        key: ed25519::Keypair,
        external_url: String,
        metrics: Metrics,
        outbox_wake: Arc<tokio::sync::Notify>,
    ) -> Self {
        let hub_id = Ed25519PeerId::from(key.public());
        Self {
            inner: Arc::new(Inner {
                config,
                store,
                enforcer,
                key,
                hub_id,
                external_url,
                metrics,
                outbox_wake,
                apply_lock: tokio::sync::Mutex::new(()),
                member_count: std::sync::atomic::AtomicU64::new(0),
            }),
        }
    }

    pub(crate) fn config(&self) -> &Config {
        &self.inner.config
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The public base URL, without a trailing `/`.
    pub(crate) fn external_url(&self) -> &str {
        self.inner.external_url.trim_end_matches('/')
    }

    /// Fills the entitlement table from the database (hub.md §1 rule 1, before listeners open):
    /// every bound peer with its account's rights, and the voucher revocations still relevant.
    pub(crate) async fn load(&self) -> Result<usize, StoreError> {
        // Plain `set`: the event loop does not run yet, and nobody can hold a right to lose.
        let entries = self.bound_entries().await?;
        for (peer, entry) in &entries {
            self.inner.enforcer.entitlements.set(*peer, Some(*entry));
        }
        let since = now_ms() - self.revocation_horizon_ms();
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

    /// Brings every bound peer's entry in line with the database (the sweep's backstop for an
    /// update that failed after its commit); returns how many entries changed.
    pub(crate) async fn reconcile(&self) -> Result<usize, StoreError> {
        let entries = self.bound_entries().await?;
        let _serial = self.inner.apply_lock.lock().await;
        let mut changed = 0;
        for (peer, entry) in entries {
            if self.inner.enforcer.entitlements.entry(&peer) != Some(entry) {
                self.inner
                    .enforcer
                    .apply(peer, Some(entry), "reconcile")
                    .await;
                changed += 1;
            }
        }
        Ok(changed)
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
    ) -> ApiResult<()> {
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
        enforcement
            .await
            .map_err(|e| ApiError::Internal(format!("entitlement update: {e}")))?
    }

    async fn apply_now(
        &self,
        account_id: &str,
        gone_peers: &[String],
        reason: &'static str,
    ) -> ApiResult<()> {
        let _serial = self.inner.apply_lock.lock().await;
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
    pub(crate) async fn revoke_vouchers(&self, peers: &[PeerId], reason: &str) -> ApiResult<()> {
        let mut tx = self.inner.store.begin_write().await?;
        // Stamped once the write lock is held, so readers polling `since` never miss it.
        let now = now_ms();
        for peer in peers {
            store::insert_revocation(&mut tx, &peer.to_string(), reason, now).await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        for peer in peers {
            self.inner.enforcer.entitlements.revoke_vouchers(*peer, now);
        }
        Ok(())
    }

    /// Open autojoin (hub.md §6.2): in an `open` community with `open_autojoin`, a peer that
    /// proved its key and has no account yet gets an email-less `active` account bound to it.
    /// Cheap when nothing is to be done (one table lookup); a failure is logged, never fatal —
    /// the peer keeps the default rights of an open community.
    /// `admit` is asked last, only when an account would be created: the caller's rate limit
    /// (an account per fresh key must not be free).
    pub(crate) async fn autojoin(
        &self,
        peer: &Ed25519PeerId,
        proof_ts: i64,
        proof_sig: &str,
        admit: impl FnOnce() -> bool,
    ) {
        let membership = &self.inner.config.membership;
        if membership.join_mode != JoinMode::Open
            || !membership.open_autojoin
            || self.entitlements().has_entry(&peer.peer_id())
        {
            return;
        }
        // A peer whose email join waits for its link is bound by that link, not here (binding it
        // now would make the link fail with `peer_already_bound`).
        match self
            .store()
            .has_pending_join(&peer.to_string(), now_ms())
            .await
        {
            Ok(false) if admit() => {}
            Ok(_) => return,
            Err(error) => {
                tracing::warn!(%peer, %error, "open autojoin skipped: database unavailable");
                return;
            }
        }
        let proof = Proof {
            peer: *peer,
            ts: proof_ts,
            sig: proof_sig.to_owned(),
        };
        if let Err(error) = self.create_open_account(&proof, None, "autojoin").await {
            tracing::warn!(%peer, %error, "open autojoin failed; the peer keeps the open default rights");
        }
    }

    /// The published member count (refreshed with the `hub_members` gauge).
    pub(crate) fn member_count(&self) -> u64 {
        self.inner
            .member_count
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Tells the outbox that committed mail waits.
    pub(crate) fn wake_outbox(&self) {
        self.inner.outbox_wake.notify_one();
    }

    /// Forgets in-memory revocations whose vouchers have all expired.
    pub(crate) fn prune_revocations(&self) {
        self.inner
            .enforcer
            .entitlements
            .prune_revocations(now_ms() - self.revocation_horizon_ms());
    }

    /// The entitlement of a bound peer's account, to answer membership questions.
    fn entitlements(&self) -> &Entitlements {
        &self.inner.enforcer.entitlements
    }
}

/// The table entry of a peer whose account stands at `standing` (hub.md §6.5).
pub(crate) fn entry_for(standing: &Standing, guest_presence: bool) -> Entitlement {
    let rights = members::rights(standing, guest_presence);
    let refusal = if rights.presence && rights.relay {
        "not_member"
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

/// Whether an account in `state` has verified its address (every state after `pending_email`).
pub(crate) fn is_verified(state: State) -> bool {
    state != State::PendingEmail
}

/// The snake_case text of a serializable enumeration value (`State::PendingEmail` → `pending_email`).
pub(crate) fn enum_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

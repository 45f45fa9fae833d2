//! Membership (hub.md §6–§7): the service that changes accounts, split by concept — join,
//! verification links, sessions, the account view, bindings and bind codes, vouchers,
//! administration — and `enforce`, the one path that turns a committed change into
//! entitlements and revocations. [`rules`] holds the pure rules (states, tiers, recompute).
//! Operations answer a [`Error`]; the HTTP layer and the pages map it in one place each.

mod account;
pub(crate) mod admin;
mod bindings;
pub(crate) mod codes;
mod enforce;
mod error;
mod join;
pub mod rules;
mod sessions;
mod sweep;
mod verify;
mod vouchers;

use std::sync::Arc;

use libp2p::identity::ed25519;
use shared::ids::Ed25519PeerId;

pub(crate) use bindings::Proof;
pub(crate) use enforce::{Enforcer, default_rights};
pub(crate) use error::{Error, Result};
pub(crate) use join::{JoinOutcome, JoinRequest, email_field};
pub(crate) use verify::{TokenInfo, TokenPurpose};

use crate::config::Config;
use crate::entitlements::Entitlements;
use crate::metrics::Metrics;
use crate::store::Store;

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

    /// Now in unix ms, on the configured clock (tests move it forward).
    pub(crate) fn now_ms(&self) -> i64 {
        self.inner.config.clock.now_ms()
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The public base URL, without a trailing `/`.
    pub(crate) fn external_url(&self) -> &str {
        self.inner.external_url.trim_end_matches('/')
    }

    /// This hub's id (the PeerId of its key).
    pub(crate) fn hub_id(&self) -> &Ed25519PeerId {
        &self.inner.hub_id
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

    /// The entitlement of a bound peer's account, to answer membership questions.
    fn entitlements(&self) -> &Entitlements {
        &self.inner.enforcer.entitlements
    }
}

/// The snake_case text of a serializable enumeration value (`State::PendingEmail` → `pending_email`).
pub(crate) fn enum_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

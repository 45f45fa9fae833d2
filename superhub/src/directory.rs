//! The directory's rules (superhub.md §3): registration checks an envelope (§3.1), orders it by
//! `seq` against what is stored (§3.2) and stores it with its effects (§3.3). Federation stores
//! pulled items through [`Directory::store_checked_in`], the same path, a feed page per
//! transaction.

pub mod check;
pub mod detail;
pub mod resolve;
pub mod search;
pub mod summary;
pub mod sweep;

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use shared::clock::Clock;
use shared::error_code::ErrorCode;
use shared::rate_limit::{RateLimited, RateLimiter};
use sqlx::AnyConnection;

use crate::config::Config;
use crate::store::{
    HubState, Provenance, PutRecord, PutTombstone, Store, StoreError, lock_directory,
};
pub use check::{Checked, Refusal, check, check_envelope};

/// Why a registration was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// Rows 1–10 of §3.1.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// Row 11: the hub registered too often.
    #[error(transparent)]
    RateLimited(#[from] RateLimited),
    /// Row 12: `stale_seq` or `tombstoned`.
    #[error("{0}")]
    Conflict(ErrorCode),
    /// The database failed; nothing was stored.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The answer to an accepted (or idempotently repeated) registration (§3.3 rule 4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Registered {
    /// The hub id.
    pub id: String,
    /// The stored `seq`.
    pub seq: u64,
    /// The hub's state now.
    pub state: &'static str,
    /// Records only: when the record expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Records only: re-announce after this (80 % of the remaining lifetime).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_after_secs: Option<i64>,
    /// This request made a probe due (answered 202); an idempotent repeat answers 200.
    #[serde(skip)]
    pub probe_pending: bool,
    /// Something was stored (false for an idempotent repeat).
    #[serde(skip)]
    pub stored: bool,
}

/// The registration service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Directory {
    store: Store,
    config: Arc<Config>,
    clock: Clock,
    this_superhub: Arc<str>,
    register_hub: Arc<RateLimiter<String>>,
    probe_wakeup: Arc<tokio::sync::Notify>,
}

impl Directory {
    /// The directory of the super hub with id `this_superhub`.
    pub fn new(store: Store, config: Arc<Config>, this_superhub: &str) -> Self {
        Self {
            register_hub: Arc::new(RateLimiter::new(config.rate_limits.register_hub)),
            clock: config.clock.clone(),
            store,
            config,
            this_superhub: this_superhub.into(),
            probe_wakeup: Arc::default(),
        }
    }

    /// Notified whenever a stored record needs a probe, so the scheduler starts it at once.
    pub fn probe_wakeup(&self) -> Arc<tokio::sync::Notify> {
        self.probe_wakeup.clone()
    }

    /// Starts the probe scheduler's next round at once: a stored record needs a probe.
    pub fn wake_prober(&self) {
        self.probe_wakeup.notify_one();
    }

    /// Now, on the directory's clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// `POST /api/v1/hubs`: rows 1–12 of §3.1 over the request body, then the effects of §3.3.
    ///
    /// # Errors
    /// [`RegisterError`]; nothing is stored.
    pub async fn register(&self, body: &[u8]) -> Result<Registered, RegisterError> {
        let now_ms = self.now_ms();
        let checked = check(body, &self.config.directory, now_ms)?;
        self.register_hub
            .check(checked.hub_id().to_owned(), Instant::now())?;
        let provenance = Provenance::direct(&self.this_superhub);
        self.store_checked(&checked, &provenance, now_ms).await
    }

    /// Orders and stores a checked item (§3.2, §3.3) with its provenance, in a transaction of
    /// its own; wakes the prober when a probe became due.
    ///
    /// # Errors
    /// [`RegisterError::Conflict`] when the stored state orders after it, or
    /// [`RegisterError::Store`].
    pub async fn store_checked(
        &self,
        checked: &Checked,
        provenance: &Provenance,
        now_ms: i64,
    ) -> Result<Registered, RegisterError> {
        let mut tx = self.store.begin_write().await?;
        lock_directory(&mut tx, now_ms).await?;
        let registered = self
            .store_checked_in(&mut tx, checked, provenance, now_ms)
            .await?;
        if registered.stored {
            tx.commit().await.map_err(StoreError::from)?;
        }
        if registered.probe_pending {
            self.wake_prober();
        }
        Ok(registered)
    }

    /// [`Directory::store_checked`] inside the caller's write transaction, which holds
    /// [`lock_directory`] already (federation stores a feed page in one). The caller commits,
    /// then calls [`Directory::wake_prober`] if any answer has `probe_pending`.
    ///
    /// # Errors
    /// As [`Directory::store_checked`]; after [`RegisterError::Store`] the caller's transaction
    /// must be rolled back, after a conflict it may continue.
    pub async fn store_checked_in(
        &self,
        conn: &mut AnyConnection,
        checked: &Checked,
        provenance: &Provenance,
        now_ms: i64,
    ) -> Result<Registered, RegisterError> {
        match checked {
            Checked::Record(envelope, record) => {
                let put = self
                    .store
                    .put_record_in(conn, envelope, record, provenance, now_ms)
                    .await?;
                let (state, probe_pending, stored) = match put {
                    PutRecord::Stored { state, probe_due } => (state, probe_due, true),
                    // A repeat starts nothing: 200 with the current state (§3.2).
                    PutRecord::Unchanged { state } => (state, false, false),
                    PutRecord::Stale => return Err(RegisterError::Conflict(ErrorCode::StaleSeq)),
                    PutRecord::Tombstoned => {
                        return Err(RegisterError::Conflict(ErrorCode::Tombstoned));
                    }
                };
                let remaining_ms = record.expires_at.saturating_sub(now_ms).max(0);
                Ok(Registered {
                    id: record.id.clone(),
                    seq: record.seq,
                    state: state.as_str(),
                    expires_at: Some(record.expires_at),
                    refresh_after_secs: Some(remaining_ms * 8 / 10 / 1000),
                    probe_pending,
                    stored,
                })
            }
            Checked::Tombstone(envelope, tombstone) => {
                let put = self
                    .store
                    .put_tombstone_in(conn, envelope, tombstone, provenance, now_ms)
                    .await?;
                let stored = match put {
                    PutTombstone::Stored => true,
                    PutTombstone::Unchanged => false,
                    PutTombstone::Stale => {
                        return Err(RegisterError::Conflict(ErrorCode::StaleSeq));
                    }
                };
                Ok(Registered {
                    id: tombstone.id.clone(),
                    seq: tombstone.seq,
                    state: HubState::Tombstoned.as_str(),
                    expires_at: None,
                    refresh_after_secs: None,
                    probe_pending: false,
                    stored,
                })
            }
        }
    }
}

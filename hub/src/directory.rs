//! The hub's side of the super hub directory (hub.md §11.3–11.4): it signs hub records and
//! tombstones with the hub key, keeps the current record for `GET /api/v1/record`, announces it to
//! the configured super hubs and remembers how each answered.
//!
//! `record` builds the payload from the info document, `client` speaks `POST /api/v1/hubs`,
//! `announcer` is the periodic task and `withdraw` posts a tombstone on decommissioning.

mod announcer;
mod client;
mod record;
mod withdraw;

use std::sync::{Arc, Mutex};

use libp2p::identity::ed25519;
use shared::api::{HubInfo, SuperhubStatus};
use shared::db::StoreError;
use shared::envelope::{Envelope, EnvelopeType};
use shared::record::{InvalidRecord, Tombstone};

use crate::config::Config;
use crate::store::{Announcement, Store};

pub(crate) use announcer::run as run_announcer;
pub use withdraw::{Refusal, Withdrawal};

/// The `hub_state` key set while the hub is decommissioned (hub.md §11.4 rule 4).
pub(crate) const DECOMMISSIONED_AT: &str = "decommissioned_at";
/// The longest tombstone reason.
pub const MAX_REASON_CHARS: usize = 200;

/// Why a record or tombstone could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// The `seq` or the member count could not be read or stored.
    #[error("issuing a signed record: {0}")]
    Store(#[from] StoreError),
    /// The payload breaks a rule of hub.md §11.3: a bug, since the config was checked at load.
    #[error("the hub record breaks a rule of hub.md §11.3: {0}")]
    Invalid(#[from] InvalidRecord),
}

/// Signs and announces this hub's records. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Directory {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Arc<Config>,
    store: Store,
    key: ed25519::Keypair,
    info: Arc<HubInfo>,
    /// The latest record issued and its `expires_at`.
    current: tokio::sync::Mutex<Option<(Envelope, i64)>>,
    /// Per configured super hub, what `/api/v1/info` shows; the announcer keeps it current.
    statuses: Mutex<Vec<SuperhubStatus>>,
}

impl Directory {
    /// The directory of the hub described by `info`, signing with `key`.
    pub(crate) fn new(
        config: Arc<Config>,
        store: Store,
        key: ed25519::Keypair,
        info: Arc<HubInfo>,
    ) -> Self {
        let statuses = config
            .superhubs
            .urls
            .iter()
            .map(|url| SuperhubStatus {
                url: url.clone(),
                state: None,
                last_success_at: None,
            })
            .collect();
        Self {
            inner: Arc::new(Inner {
                config,
                store,
                key,
                info,
                current: tokio::sync::Mutex::new(None),
                statuses: Mutex::new(statuses),
            }),
        }
    }

    /// Fills the statuses from the `announcements` table, so `/api/v1/info` shows the last
    /// success from before a restart.
    pub(crate) async fn load_statuses(&self) -> Result<(), StoreError> {
        let rows = self.inner.store.list_announcements().await?;
        let mut statuses = self.lock_statuses();
        for status in statuses.iter_mut() {
            if let Some(row) = rows.iter().find(|r| r.superhub_url == status.url) {
                status.state.clone_from(&row.last_state);
                status.last_success_at = row.last_success_at;
            }
        }
        Ok(())
    }

    /// The statuses of the configured super hubs, in config order.
    pub(crate) fn statuses(&self) -> Vec<SuperhubStatus> {
        self.lock_statuses().clone()
    }

    /// The current record envelope; a new one when none was issued or the last has expired.
    ///
    /// # Errors
    /// [`IssueError`].
    pub(crate) async fn current_record(&self) -> Result<Envelope, IssueError> {
        let mut current = self.inner.current.lock().await;
        let now = self.now_ms();
        if let Some((envelope, expires_at)) = current.as_ref()
            && *expires_at > now
        {
            return Ok(envelope.clone());
        }
        let (envelope, expires_at) = self.sign_record().await?;
        *current = Some((envelope.clone(), expires_at));
        Ok(envelope)
    }

    /// Issues a new record envelope (a fresh `seq`), which becomes the current one.
    ///
    /// # Errors
    /// [`IssueError`].
    pub(crate) async fn issue_record(&self) -> Result<Envelope, IssueError> {
        let mut current = self.inner.current.lock().await;
        let (envelope, expires_at) = self.sign_record().await?;
        *current = Some((envelope.clone(), expires_at));
        Ok(envelope)
    }

    /// Issues a tombstone (this hub leaves the directory) and its `seq`.
    ///
    /// # Errors
    /// [`IssueError`]; `Invalid` for a reason over [`MAX_REASON_CHARS`].
    pub(crate) async fn issue_tombstone(
        &self,
        reason: &str,
    ) -> Result<(Envelope, u64), IssueError> {
        if reason.chars().count() > MAX_REASON_CHARS {
            return Err(IssueError::Invalid(InvalidRecord {
                field: "reason",
                rule: format!("at most {MAX_REASON_CHARS} characters"),
            }));
        }
        let issued_at = self.now_ms();
        let seq = self.inner.store.next_record_seq(issued_at).await?;
        let tombstone = Tombstone {
            v: 1,
            id: self.inner.info.id.clone(),
            seq,
            issued_at,
            reason: reason.to_owned(),
        };
        let payload = serde_json::to_string(&tombstone).expect("invariant: a tombstone serializes");
        let envelope = Envelope::sign(&self.inner.key, EnvelopeType::HubTombstone, payload);
        Ok((envelope, seq))
    }

    /// Records an announcement's outcome in the table and the statuses.
    pub(crate) async fn record_outcome(&self, row: &Announcement) -> Result<(), StoreError> {
        self.inner.store.upsert_announcement(row).await?;
        let mut statuses = self.lock_statuses();
        if let Some(status) = statuses.iter_mut().find(|s| s.url == row.superhub_url)
            && row.last_success_at.is_some()
        {
            status.state.clone_from(&row.last_state);
            status.last_success_at = row.last_success_at;
        }
        Ok(())
    }

    /// When the hub was decommissioned, if it is.
    pub(crate) async fn decommissioned_at(&self) -> Result<Option<String>, StoreError> {
        self.inner.store.find_state(DECOMMISSIONED_AT).await
    }

    /// The hub's configuration.
    pub(crate) fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Now on the config's clock (ms).
    pub(crate) fn now_ms(&self) -> i64 {
        self.inner.config.clock.now_ms()
    }

    async fn sign_record(&self) -> Result<(Envelope, i64), IssueError> {
        let config = &self.inner.config;
        let member_count = if config.hub.publish_member_count {
            let counts = self.inner.store.count_members().await?;
            let count = crate::members::published_member_count(&counts);
            Some(u64::try_from(count).unwrap_or(0))
        } else {
            None
        };
        let issued_at = self.now_ms();
        let seq = self.inner.store.next_record_seq(issued_at).await?;
        let record = record::build(
            &self.inner.info,
            member_count,
            seq,
            issued_at,
            config.superhubs.record_ttl,
        )?;
        record.validate()?;
        let payload = serde_json::to_string(&record).expect("invariant: a record serializes");
        let envelope = Envelope::sign(&self.inner.key, EnvelopeType::HubRecord, payload);
        Ok((envelope, record.expires_at))
    }

    fn lock_statuses(&self) -> std::sync::MutexGuard<'_, Vec<SuperhubStatus>> {
        self.inner
            .statuses
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

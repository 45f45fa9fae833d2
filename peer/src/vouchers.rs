//! Checking other peers' membership vouchers (peer.md §3.7), as a group host does on `join`:
//! [`Checker::check`] runs the checks of the §3.7 table in order (the first failure decides) with
//! [`shared::voucher`] for the signature and claims, the community's info document (cached
//! [`info::TTL`], refetched once on a mismatch) and its revocation list. [`Checker::watch`]
//! polls a community's revocations every `groups.revocation_poll_secs`; every new entry goes out
//! on [`Checker::revoked`] so hosts can remove the members it admitted.
//!
//! # Layout
//! - `info`: the info document subset and its cache; `revocations`: the revocation answer and
//!   the kept lists; `expiry`: the code of an expired voucher.

mod expiry;
pub mod info;
pub mod revocations;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use libp2p::PeerId;
use shared::clock::Clock;
use shared::ids::Ed25519PeerId;
use shared::server::Tasks;
use shared::voucher::{Claims, Expected, VoucherError};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::hub_url::HubUrl;
use crate::node::Node;

/// Deadline of the info and revocation reads (peer.md §13: hub HTTP).
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// [`Revoked`] notices a subscriber may fall behind.
pub const REVOKED_BUFFER: usize = 256;

/// A voucher that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    /// When it was issued (unix ms): revocations with a later `revoked_before` void it.
    pub iat_ms: i64,
    /// When it expires (unix ms).
    pub exp_ms: i64,
    /// `member`, `paid` or `comped`.
    pub tier: String,
}

/// Why a voucher was refused; [`VoucherRefusal::code`] is the group error code (peer.md §8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VoucherRefusal {
    /// Not a voucher, a bad signature, another audience or holder, or revoked.
    #[error("voucher_invalid")]
    Invalid,
    /// Expired or not yet valid (60 s leeway).
    #[error("voucher_expired")]
    Expired,
    /// The community's info document is unavailable and none is cached.
    #[error("voucher_unverifiable")]
    Unverifiable,
    /// Issued by another hub or for another community.
    #[error("voucher_wrong_community")]
    WrongCommunity,
    /// A guest voucher: it proves an account, not membership.
    #[error("voucher_guest")]
    Guest,
}

impl VoucherRefusal {
    /// The wire code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Invalid => "voucher_invalid",
            Self::Expired => "voucher_expired",
            Self::Unverifiable => "voucher_unverifiable",
            Self::WrongCommunity => "voucher_wrong_community",
            Self::Guest => "voucher_guest",
        }
    }
}

/// A revocation read from a watched community: vouchers of `peer` issued before
/// `revoked_before_ms` are void.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// The community.
    pub community: HubUrl,
    /// The holder.
    pub peer: PeerId,
    /// Unix ms.
    pub revoked_before_ms: i64,
}

/// The voucher checker of a node. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Checker {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    clock: Clock,
    http: reqwest::Client,
    poll: Duration,
    infos: Mutex<info::Cache>,
    lists: Mutex<revocations::Lists>,
    /// The watched communities: a token stopping the poll and whether a first poll was made.
    watched: Mutex<HashMap<HubUrl, (CancellationToken, watch::Receiver<bool>)>>,
    revoked_tx: broadcast::Sender<Revoked>,
    tasks: OnceLock<(TaskTracker, CancellationToken)>,
}

/// Lets [`Checker::watch`] run its polls on the peer's tasks.
pub fn spawn(node: &Arc<Node>, tasks: &Tasks) {
    let _ = node
        .vouchers
        .shared
        .tasks
        .set((tasks.tracker().clone(), tasks.token().child_token()));
}

impl Checker {
    /// A checker on `clock`, polling revocations every `poll`.
    pub fn new(clock: Clock, poll: Duration) -> Self {
        let (revoked_tx, _) = broadcast::channel(REVOKED_BUFFER);
        Self {
            shared: Arc::new(Shared {
                clock,
                http: shared::http_client::outbound(
                    &shared::protocol::agent_version(crate::SOFTWARE),
                    HTTP_TIMEOUT,
                ),
                poll,
                infos: Mutex::default(),
                lists: Mutex::default(),
                watched: Mutex::default(),
                revoked_tx,
                tasks: OnceLock::new(),
            }),
        }
    }

    /// Checks `jwt`, presented by the authenticated `caller`, for `community` (peer.md §3.7):
    /// structure, signature, audience and holder, time, the community's info document, tier,
    /// revocation — the first failure decides. Starts watching `community`'s revocations and
    /// waits (at most [`HTTP_TIMEOUT`]) for their first read.
    ///
    /// # Errors
    /// [`VoucherRefusal`].
    pub async fn check(
        &self,
        caller: PeerId,
        jwt: &str,
        community: &HubUrl,
    ) -> Result<Admission, VoucherRefusal> {
        let result = self.decide(caller, jwt, community).await;
        if let Err(refusal) = result {
            tracing::debug!(peer = %caller, %community, code = refusal.code(), "voucher refused");
        }
        result
    }

    async fn decide(
        &self,
        caller: PeerId,
        jwt: &str,
        community: &HubUrl,
    ) -> Result<Admission, VoucherRefusal> {
        let subject = Ed25519PeerId::try_from(caller).map_err(|_| VoucherRefusal::Invalid)?;
        let expected = Expected {
            subject: Some(&subject),
            ..Expected::default()
        };
        let claims = match shared::voucher::verify(jwt, &expected) {
            Ok(claims) => claims,
            Err(VoucherError::Expired) => return Err(expiry::expired_or_invalid(jwt, &subject)),
            Err(_) => return Err(VoucherRefusal::Invalid),
        };
        self.issued_by(community, &claims).await?;
        if claims.tier == "guest" {
            return Err(VoucherRefusal::Guest);
        }
        let iat_ms = secs_to_ms(claims.iat);
        self.watch(community);
        let polled = self
            .shared
            .watched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(community)
            .map(|(_, polled)| polled.clone());
        if let Some(mut polled) = polled {
            let _ = tokio::time::timeout(HTTP_TIMEOUT, polled.wait_for(|done| *done)).await;
        }
        if self.shared.lists().revoked(community, &caller, iat_ms) {
            return Err(VoucherRefusal::Invalid);
        }
        Ok(Admission {
            iat_ms,
            exp_ms: secs_to_ms(claims.exp),
            tier: claims.tier,
        })
    }

    /// The info-document rows: unverifiable without a document, wrong community on a
    /// mismatch after one refetch (of a document at least [`info::MIN_REFETCH`] old). A failed
    /// fetch is not repeated within [`info::MIN_REFETCH`].
    async fn issued_by(&self, community: &HubUrl, claims: &Claims) -> Result<(), VoucherRefusal> {
        let now = self.shared.clock.now_ms();
        let cached = self.shared.infos().get(community).cloned();
        let cached = match cached {
            Some(c) if !info::older_than(c.fetched_ms, info::TTL, now) => Some(c),
            stale => self.fetch_info(community).await.or(stale),
        };
        let Some(cached) = cached else {
            return Err(VoucherRefusal::Unverifiable);
        };
        if cached.info.issued(claims) {
            return Ok(());
        }
        if info::older_than(cached.fetched_ms, info::MIN_REFETCH, now)
            && let Some(fresh) = self.fetch_info(community).await
            && fresh.info.issued(claims)
        {
            return Ok(());
        }
        Err(VoucherRefusal::WrongCommunity)
    }

    /// Fetches and caches `community`'s info document; `None` (logged) when it fails.
    async fn fetch_info(&self, community: &HubUrl) -> Option<info::Cached> {
        if self
            .shared
            .infos()
            .failed_recently(community, self.shared.clock.now_ms())
        {
            return None;
        }
        match info::fetch(&self.shared.http, community).await {
            Ok(fetched) => {
                let now = self.shared.clock.now_ms();
                self.shared
                    .infos()
                    .insert(community.clone(), fetched.clone(), now);
                Some(info::Cached {
                    info: fetched,
                    fetched_ms: now,
                })
            }
            Err(error) => {
                tracing::warn!(%community, %error, "community info document unavailable");
                let now = self.shared.clock.now_ms();
                self.shared.infos().fetch_failed(community, now);
                None
            }
        }
    }

    /// Polls `community`'s revocation list from now on (at once, then every
    /// `groups.revocation_poll_secs`). False when it cannot: the peer is not started or shut
    /// down, or [`revocations::MAX_COMMUNITIES`] are watched already.
    pub fn watch(&self, community: &HubUrl) -> bool {
        let Some((tracker, parent)) = self.shared.tasks.get() else {
            return false;
        };
        let mut watched = self
            .shared
            .watched
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if watched.contains_key(community) {
            return true;
        }
        if parent.is_cancelled() || watched.len() >= revocations::MAX_COMMUNITIES {
            tracing::warn!(%community, "revocation list not watched: too many communities");
            return false;
        }
        let token = parent.child_token();
        let (polled_tx, polled_rx) = watch::channel(false);
        watched.insert(community.clone(), (token.clone(), polled_rx));
        tracker.spawn(poll(
            self.shared.clone(),
            community.clone(),
            polled_tx,
            token,
        ));
        true
    }

    /// Stops polling `community` and forgets its list.
    pub fn unwatch(&self, community: &HubUrl) {
        let removed = self
            .shared
            .watched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(community);
        if let Some((token, _)) = removed {
            token.cancel();
        }
        self.shared.lists().remove(community);
    }

    /// The revocations read from now on, as they arrive.
    pub fn revoked(&self) -> broadcast::Receiver<Revoked> {
        self.shared.revoked_tx.subscribe()
    }
}

impl Shared {
    fn infos(&self) -> std::sync::MutexGuard<'_, info::Cache> {
        self.infos.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lists(&self) -> std::sync::MutexGuard<'_, revocations::Lists> {
        self.lists.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Reads `community`'s revocations at once (since now − 25 h), then every poll period from the
/// previous answer's `now`, until `token` is cancelled.
async fn poll(
    shared: Arc<Shared>,
    community: HubUrl,
    polled: watch::Sender<bool>,
    token: CancellationToken,
) {
    let keep = i64::try_from(revocations::KEEP.as_millis()).unwrap_or(i64::MAX);
    let mut since = shared.clock.now_ms().saturating_sub(keep);
    tracing::info!(%community, every = ?shared.poll, "watching voucher revocations");
    loop {
        match revocations::fetch(&shared.http, &community, since).await {
            Ok(answer) => {
                let news = shared
                    .lists()
                    .apply(&community, &answer.entries, shared.clock.now_ms());
                since = answer.now_ms;
                for entry in news {
                    tracing::info!(%community, peer = %entry.peer, revoked_before = entry.revoked_before_ms, "voucher revoked");
                    let _ = shared.revoked_tx.send(Revoked {
                        community: community.clone(),
                        peer: entry.peer,
                        revoked_before_ms: entry.revoked_before_ms,
                    });
                }
            }
            Err(error) => tracing::warn!(%community, %error, "revocation list unavailable"),
        }
        polled.send_replace(true);
        tokio::select! {
            () = token.cancelled() => return,
            () = tokio::time::sleep(shared.poll) => {}
        }
    }
}

/// Unix seconds as ms, saturating.
fn secs_to_ms(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_group_error_codes() {
        for (refusal, code) in [
            (VoucherRefusal::Invalid, "voucher_invalid"),
            (VoucherRefusal::Expired, "voucher_expired"),
            (VoucherRefusal::Unverifiable, "voucher_unverifiable"),
            (VoucherRefusal::WrongCommunity, "voucher_wrong_community"),
            (VoucherRefusal::Guest, "voucher_guest"),
        ] {
            assert_eq!(refusal.code(), code);
            assert_eq!(refusal.to_string(), code);
        }
    }
}

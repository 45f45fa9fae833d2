//! The hubs this peer takes part in (peer.md §3): [`Hubs`], the shared registry of one
//! [`HubView`] per hub that the presence channels write and the relay client, dialling and the
//! local API read. Every change bumps a watch counter so readers can react.
//!
//! The presence client lives in the children: `client` (HTTP with PeerSig, §3.2), `discovery`
//! (kind, info, relay, membership), `ws` (WS v2/v1 sessions), `sse` (fallback), `publish`
//! (`POST /publish`), `inbound` (received frames), `context` + `channel` (one state machine per
//! hub) and `manager` ([`spawn`], [`start_configured`], [`Hubs::add`], [`Hubs::leave`], [`Hubs::pulse`]).

mod channel;
pub mod client;
mod context;
pub mod discovery;
pub mod inbound;
mod manager;
mod publish;
pub mod sse;
mod ws;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use libp2p::{Multiaddr, PeerId};
use serde::Serialize;
use tokio::sync::watch;

use crate::event::{Event, Events, StateChange};
use crate::hub_url::HubUrl;
use crate::store::HubSource;

pub use client::HubCallError;
pub use manager::{HubsError, MAX_HUBS, PulseOutcome, spawn, start_configured};

/// What kind of hub answers at a URL (peer.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HubKind {
    /// A hub.md hub: signed presence, PeerSig, memberships.
    Signed,
    /// An unmodified goop2 hub: unsigned fallback only.
    Legacy,
}

/// Who a hub relay admits (hub.md §4.3, `relay.reservations` / `relay.circuit_sources`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Admission {
    /// Every peer.
    Any,
    /// Only peers whose membership grants `relay` (or, for circuit sources, an accepted voucher).
    Members,
}

/// `GET {hub}/relay` (peer.md §3.5), with zero values already replaced by the peer's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayInfo {
    /// The relay's PeerId (the hub id at a signed hub).
    pub peer_id: PeerId,
    /// Dialable relay addresses, filtered and ending in `/p2p/<peer_id>` (§3.5 rule 1).
    pub addrs: Vec<Multiaddr>,
    /// `cleanup_delay_sec` (default 0.5 s).
    pub cleanup_delay: Duration,
    /// `poll_deadline_sec` (default 5 s).
    pub poll_deadline: Duration,
    /// `connect_timeout_sec` (default 5 s).
    pub connect_timeout: Duration,
    /// `refresh_interval_sec` (default 90 s).
    pub refresh_interval: Duration,
    /// `recovery_grace_sec` (default 2 s).
    pub recovery_grace: Duration,
}

/// One hub as the rest of the peer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubView {
    /// The hub.
    pub url: HubUrl,
    /// Where the entry came from.
    pub source: HubSource,
    /// Known after the first `/api/capabilities`.
    pub kind: Option<HubKind>,
    /// Presence channel state: `connecting`, `online`, `fallback` (SSE), `failing`, `refused`
    /// (membership refusal), `replaced`.
    pub state: String,
    /// The hub id from `/api/v1/info` (signed hubs).
    pub hub_id: Option<PeerId>,
    /// Membership state (peer.md §3.6), `legacy` at goop2 hubs.
    pub membership: Option<String>,
    /// Membership tier.
    pub tier: Option<String>,
    /// Whether the hub currently grants us `presence` (always at legacy hubs).
    pub presence_allowed: bool,
    /// Whether we may reserve at its relay: `reservations = "any"`, legacy, or our membership
    /// grants `relay` (peer.md §3.5 admission).
    pub relay_allowed: bool,
    /// Whether our membership grants `relay` (always at legacy hubs): what admits us as circuit
    /// source where the relay admits only members ([`HubView::circuit_source_allowed`]).
    pub relay_entitled: bool,
    /// Who the relay admits as circuit source.
    pub circuit_sources: Admission,
    /// The relay, when the hub has one.
    pub relay: Option<RelayInfo>,
    /// Relay reservation state (§3.5): `none`, `reserving`, `reserved`, `recovering`,
    /// `not_entitled`, `denied`, `error`.
    pub relay_state: String,
    /// Our circuit address through this relay, when reserved.
    pub circuit_addr: Option<Multiaddr>,
    /// What the relay client has to say about `relay_state` (`denied`: the refusal and the retry
    /// delay; `recovering`: what failed); the `detail` of `relay.state` events.
    pub relay_error: Option<String>,
    /// The last error code, when failing.
    pub last_error: Option<String>,
}

impl HubView {
    /// A hub not contacted yet.
    pub fn new(url: HubUrl, source: HubSource) -> Self {
        Self {
            url,
            source,
            kind: None,
            state: "connecting".to_owned(),
            hub_id: None,
            membership: None,
            tier: None,
            presence_allowed: false,
            relay_allowed: false,
            relay_entitled: false,
            circuit_sources: Admission::Any,
            relay: None,
            relay_state: "none".to_owned(),
            circuit_addr: None,
            relay_error: None,
            last_error: None,
        }
    }

    /// Whether the relay admits us as circuit source without a voucher (§3.5 rule 8): it admits
    /// any source, or our membership grants `relay`. Open reservations don't count: a hub may take
    /// anyone's reservation and still admit only members as sources.
    pub fn circuit_source_allowed(&self) -> bool {
        self.circuit_sources == Admission::Any || self.relay_entitled
    }
}

/// The registry. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Hubs {
    inner: Arc<Mutex<BTreeMap<HubUrl, HubView>>>,
    changes: watch::Sender<u64>,
    presence: watch::Sender<u64>,
    reread: watch::Sender<u64>,
    events: Events,
    manager: Arc<OnceLock<manager::Manager>>,
}

impl Hubs {
    /// An empty registry emitting `hub.state` / `relay.state` / `membership.state` on `events`.
    pub fn new(events: Events) -> Self {
        Self {
            inner: Arc::new(Mutex::new(BTreeMap::new())),
            changes: watch::channel(0).0,
            presence: watch::channel(0).0,
            reread: watch::channel(0).0,
            events,
            manager: Arc::new(OnceLock::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<HubUrl, HubView>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks every hub whose presence is refused to re-read its membership now (a join or a
    /// `POST /api/memberships/refresh` changed it) instead of at the next periodic re-read.
    pub fn reread_memberships(&self) {
        self.reread.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that changes whenever [`Hubs::reread_memberships`] is called.
    pub(crate) fn reread_requests(&self) -> watch::Receiver<u64> {
        self.reread.subscribe()
    }

    /// Every hub, in URL order.
    pub fn list(&self) -> Vec<HubView> {
        self.lock().values().cloned().collect()
    }

    /// One hub.
    pub fn get(&self, url: &HubUrl) -> Option<HubView> {
        self.lock().get(url).cloned()
    }

    /// The hub whose relay is `relay`.
    pub fn by_relay(&self, relay: &PeerId) -> Option<HubView> {
        self.lock()
            .values()
            .find(|h| h.relay.as_ref().is_some_and(|r| &r.peer_id == relay))
            .cloned()
    }

    /// A receiver whose value changes on every registry change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Adds a hub; returns false when it is already there.
    pub fn insert(&self, view: HubView) -> bool {
        let added = {
            let mut hubs = self.lock();
            if hubs.contains_key(&view.url) {
                false
            } else {
                hubs.insert(view.url.clone(), view);
                true
            }
        };
        if added {
            self.changes.send_modify(|n| *n += 1);
        }
        added
    }

    /// Removes a hub; returns whether it was there.
    pub fn remove(&self, url: &HubUrl) -> bool {
        let removed = self.lock().remove(url).is_some();
        if removed {
            self.changes.send_modify(|n| *n += 1);
        }
        removed
    }

    /// Changes one hub; emits `hub.state`, `relay.state` and `membership.state` for whichever of
    /// those changed. Returns false for an unknown hub.
    pub fn update(&self, url: &HubUrl, change: impl FnOnce(&mut HubView)) -> bool {
        let (before, after) = {
            let mut hubs = self.lock();
            let Some(view) = hubs.get_mut(url) else {
                return false;
            };
            let before = view.clone();
            change(view);
            (before, view.clone())
        };
        if before == after {
            return true;
        }
        let detail = after.last_error.clone();
        let event = |state: &str| StateChange {
            url: url.to_string(),
            state: state.to_owned(),
            detail: detail.clone(),
        };
        if before.state != after.state {
            self.events.emit(Event::HubState(event(&after.state)));
        }
        if before.relay_state != after.relay_state {
            self.events.emit(Event::RelayState(StateChange {
                detail: after.relay_error.clone(),
                ..event(&after.relay_state)
            }));
        }
        if before.membership != after.membership {
            let state = after.membership.as_deref().unwrap_or("none");
            self.events.emit(Event::MembershipState(event(state)));
        }
        self.changes.send_modify(|n| *n += 1);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn update_emits_only_the_states_that_changed() {
        let events = Events::default();
        let hubs = Hubs::new(events.clone());
        let url = HubUrl::parse("http://h.example").unwrap();
        let mut rx = events.subscribe();
        let mut changes = hubs.subscribe();
        assert!(hubs.insert(HubView::new(url.clone(), HubSource::Config)));

        assert!(hubs.update(&url, |h| h.relay_state = "reserved".to_owned()));

        let event = rx.try_recv().unwrap();
        assert_eq!(event.event.kind(), "relay.state");
        assert!(rx.try_recv().is_err());
        assert!(changes.has_changed().unwrap());
        changes.mark_unchanged();
        assert!(hubs.update(&url, |h| h.relay_state = "reserved".to_owned()));
        assert!(!changes.has_changed().unwrap());
        assert!(!hubs.update(&HubUrl::parse("http://other").unwrap(), |_| {}));
    }
}

//! The merged peer table (peer.md §3.4): one entry per PeerId with a sighting per source (a hub
//! or gossip). Hubs and gossip feed it; dialling, the local API and the events read it.
//!
//! # Layout
//! - `table`: the state and every rule of §3.4 as functions of `now` (merging, liveness per
//!   source kind, snapshots, expiry, grace removal, the reachability rule).
//! - `cache`: which entries are due for `_peer_cache`, and what it adds at start.
//! - `maintenance`: the task that loads `_peer_cache`, prunes every second and writes the cache.
//! - `probe`: the task that probes new and unreachable peers with `/goop/content/1.0.0`, and
//!   the reachability rule.
mod cache;
mod maintenance;
mod probe;
mod table;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, MutexGuard};

use libp2p::{Multiaddr, PeerId};
use serde::Serialize;
use shared::presence::PresenceMsg;
use shared::server::Tasks;
use tokio::sync::Notify;

use crate::event::{Event, Events, PeerGone};
use crate::hub_url::HubUrl;
use crate::node::Node;
use table::{Change, Table};

/// Most peers kept in the table; beyond it the longest-offline entry is evicted.
pub const MAX_PEERS: usize = 10_000;

/// Where a sighting came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// A hub's presence channel.
    Hub(HubUrl),
    /// `goop.presence.v1` gossip.
    Gossip,
}

impl Source {
    /// `hub:<url>` or `gossip`.
    pub fn label(&self) -> String {
        match self {
            Self::Hub(url) => format!("hub:{url}"),
            Self::Gossip => "gossip".to_owned(),
        }
    }
}

/// One source's view of a peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sighting {
    /// `hub:<url>` or `gossip`.
    pub source: String,
    /// Unix ms of the last message from this source.
    pub last_seen: i64,
    /// What the hub says (never from gossip).
    pub verified: bool,
    /// The source said `offline` (or its snapshot dropped the peer).
    pub offline: bool,
}

/// A peer as `GET /api/peers` shows it (peer.md §11.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerView {
    /// The PeerId.
    pub peer_id: String,
    /// Display name.
    pub label: String,
    /// Announced email (only hubs we administer forward it).
    pub email: String,
    /// Verified by any hub that currently sees it.
    pub verified: bool,
    /// `avatarHash`.
    pub avatar_hash: String,
    /// Any source sees it live.
    pub online: bool,
    /// Last content probe result; `None` before the first.
    pub reachable: Option<bool>,
    /// Unix ms of the newest sighting.
    pub last_seen: i64,
    /// User flag.
    pub favorite: bool,
    /// User flag: every inbound stream from it is reset.
    pub blocked: bool,
    /// `goopClientVersion`.
    pub client_version: String,
    /// Per source.
    pub sightings: Vec<Sighting>,
}

/// What a peer says about itself in `identity.response` (peer.md §7.2).
#[derive(Debug, Clone, Copy)]
pub struct IdentityFields<'a> {
    /// Display name.
    pub label: &'a str,
    /// Announced email.
    pub email: &'a str,
    /// `avatarHash`.
    pub avatar_hash: &'a str,
    /// `goopClientVersion`.
    pub client_version: &'a str,
}

/// The shared table. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PeerTable {
    inner: Arc<Mutex<Table>>,
    events: Events,
    /// Wakes the probe task when a peer wants a probe.
    probe_wake: Arc<Notify>,
}

impl PeerTable {
    /// An empty table emitting on `events`.
    pub fn new(events: Events) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Table::default())),
            events,
            probe_wake: Arc::new(Notify::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn emit(&self, changes: impl IntoIterator<Item = Change>) {
        for change in changes {
            match change {
                Change::Update(view) => self.events.emit(Event::PeerUpdate(
                    serde_json::to_value(view).unwrap_or_default(),
                )),
                Change::Gone(peer) => self.events.emit(Event::PeerGone(PeerGone {
                    peer_id: peer.to_base58(),
                })),
            }
        }
    }

    /// Takes an `online`/`update` message from `source` (peer.md §3.4): scalars take the newest
    /// message by receive time (an empty `publicKey`/`goopClientVersion` never overwrites);
    /// `verified` counts for hubs only. A new peer, or an unreachable one, is queued for a
    /// content probe. Emits `peer.update` when the entry changed in more than its times.
    pub fn upsert(&self, source: Source, msg: &PresenceMsg, verified: bool, now: i64) {
        let peer = msg.peer_id.peer_id();
        let (change, wants_probe) = {
            let mut table = self.lock();
            let change = table.upsert(source, msg, verified, now);
            let wants = |e: &table::Entry| e.probe.wanted && !e.probe.in_flight;
            (change, table.peers.get(&peer).is_some_and(wants))
        };
        self.emit(change);
        if wants_probe {
            self.probe_wake.notify_one();
        }
    }

    /// `offline` from `source`: that source no longer sees the peer.
    pub fn mark_offline(&self, source: &Source, peer: &PeerId, now: i64) {
        let change = self.lock().mark_offline(source, peer, now);
        self.emit(change);
    }

    /// A v2 stream of `source` starts a snapshot (WS v2 `auth-ok`, SSE `?v=2`). From now on the
    /// source is a v2 stream: its sightings stay live without a timer until an `offline`, the
    /// end of a snapshot that lacks them, or [`PeerTable::stream_ended`] plus `ttl_secs`.
    pub fn begin_snapshot(&self, source: &Source, now: i64) {
        self.lock().begin_snapshot(source, now);
    }

    /// `snapshot-end`: every sighting of `source` not refreshed since
    /// [`PeerTable::begin_snapshot`] becomes offline (peer.md §3.4).
    pub fn end_snapshot(&self, source: &Source, now: i64) {
        let changes = self.lock().end_snapshot(source, now);
        self.emit(changes);
    }

    /// The stream of `source` ended: its sightings are kept at most `presence.ttl_secs` from now
    /// unless a new snapshot replaces them (peer.md §3.4). No effect on a legacy source, whose
    /// sightings expire by their own `last_seen`.
    pub fn stream_ended(&self, source: &Source, now: i64) {
        self.lock().stream_ended(source, now);
    }

    /// `source` is gone for good (the hub was left): its live sightings go offline at once
    /// rather than after `ttl_secs`.
    pub fn forget_source(&self, source: &Source, now: i64) {
        let changes = self.lock().forget_source(source, now);
        self.emit(changes);
    }

    /// Removes a peer; emits `peer.gone`.
    pub fn remove(&self, peer: &PeerId) {
        let change = self.lock().remove(peer);
        self.emit(change);
    }

    /// Marks or unmarks `peer` as a favourite (never pruned), creating an offline entry for a
    /// peer not seen yet. Written to `_peer_cache` within a second. False when the table is full.
    pub fn set_favorite(&self, peer: &PeerId, favorite: bool, now: i64) -> bool {
        self.set_flag(peer, now, |e| e.favorite = favorite)
    }

    /// Blocks or unblocks `peer`: every inbound stream from a blocked peer is reset. As
    /// [`PeerTable::set_favorite`] otherwise.
    pub fn set_blocked(&self, peer: &PeerId, blocked: bool, now: i64) -> bool {
        self.set_flag(peer, now, |e| e.blocked = blocked)
    }

    fn set_flag(&self, peer: &PeerId, now: i64, set: impl FnOnce(&mut table::Entry)) -> bool {
        let Some(change) = self.lock().set_flag(peer, now, set) else {
            return false;
        };
        self.emit(change);
        true
    }

    /// Takes what `peer` said about itself in `identity.response` (peer.md §7.2): label, email,
    /// avatar hash, client version (an empty one never overwrites). A new peer gets an entry
    /// without sightings (offline). Emits `peer.update` when the view changed.
    pub fn apply_identity(&self, peer: PeerId, identity: &IdentityFields<'_>, now: i64) {
        let change = self.lock().set_flag(&peer, now, |e| {
            identity.label.clone_into(&mut e.label);
            identity.email.clone_into(&mut e.email);
            identity.avatar_hash.clone_into(&mut e.avatar_hash);
            if !identity.client_version.is_empty() {
                identity.client_version.clone_into(&mut e.client_version);
            }
        });
        self.emit(change.flatten());
    }

    /// Records the outcome of a content probe (peer.md §3.4): success ⇒ reachable, two
    /// failures at least 2 s apart ⇒ unreachable.
    pub fn record_probe(&self, peer: &PeerId, reachable: bool, now: i64) {
        let change = self.lock().record_probe(peer, reachable, now);
        self.emit(change);
        self.probe_wake.notify_one();
    }

    /// The expiry and removal pass of the prune tick, with the configured TTL and grace.
    pub(crate) fn prune(&self, now: i64, ttl_ms: i64, grace_ms: i64) {
        let changes = self.lock().prune(now, ttl_ms, grace_ms);
        self.emit(changes);
    }

    /// The addresses `peer` announced.
    pub fn addrs(&self, peer: &PeerId) -> Vec<Multiaddr> {
        self.lock()
            .peers
            .get(peer)
            .map(|e| e.addrs.clone())
            .unwrap_or_default()
    }

    /// The encryption key `peer` announced through a hub (empty when none).
    pub fn public_key(&self, peer: &PeerId) -> String {
        self.lock()
            .peers
            .get(peer)
            .map(|e| e.public_key.clone())
            .unwrap_or_default()
    }

    /// The hubs whose presence currently reports `peer` (not offline).
    pub fn hubs_seeing(&self, peer: &PeerId) -> Vec<HubUrl> {
        self.lock()
            .peers
            .get(peer)
            .map(|e| {
                e.sightings
                    .iter()
                    .filter(|(_, s)| !s.offline)
                    .filter_map(|(source, _)| match source {
                        Source::Hub(url) => Some(url.clone()),
                        Source::Gossip => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// One peer's view.
    pub fn get(&self, peer: &PeerId) -> Option<PeerView> {
        self.lock().peers.get(peer).map(|e| e.view(peer))
    }

    /// Every peer, optionally only those seen through `hub` and only online ones, by PeerId.
    pub fn list(&self, hub: Option<&HubUrl>, online_only: bool) -> Vec<PeerView> {
        let table = self.lock();
        let mut views: Vec<PeerView> = table
            .peers
            .iter()
            // With a hub, "online" means online there: a peer online only through gossip or
            // another hub is not listed under a hub that took it offline.
            .filter(|(_, e)| {
                hub.is_none_or(|url| {
                    e.sightings
                        .get(&Source::Hub(url.clone()))
                        .is_some_and(|s| !online_only || !s.offline)
                })
            })
            .map(|(peer, e)| e.view(peer))
            .filter(|v| !online_only || v.online)
            .collect();
        views.sort_by(|a, b| a.peer_id.cmp(&b.peer_id));
        views
    }

    /// Whether `peer` is on the user's blocklist.
    pub fn is_blocked(&self, peer: &PeerId) -> bool {
        self.lock().peers.get(peer).is_some_and(|e| e.blocked)
    }
}

/// Starts the table's tasks: `_peer_cache` loading and writing with the 1 s prune tick, and the
/// content prober.
pub(crate) fn spawn(node: &Arc<Node>, tasks: &Tasks) {
    tasks.spawn_infallible(
        "peer table",
        maintenance::run(node.clone(), tasks.token().child_token()),
    );
    tasks.spawn_infallible(
        "content prober",
        probe::run(
            node.clone(),
            tasks.tracker().clone(),
            tasks.token().child_token(),
        ),
    );
}

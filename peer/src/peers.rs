//! The merged peer table (peer.md §3.4): one entry per PeerId with a sighting per source (a hub
//! or gossip). Hubs and gossip feed it; dialling, the local API and the events read it.
//!
//! This first cut keeps entries and sightings; the liveness, snapshot, pruning and persistence
//! rules of §3.4 are filled in by `peers/` modules.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use libp2p::{Multiaddr, PeerId};
use serde::Serialize;
use shared::presence::PresenceMsg;

use crate::event::{Event, Events, PeerGone};
use crate::hub_url::HubUrl;

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

/// One entry of the table.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) label: String,
    pub(crate) email: String,
    pub(crate) avatar_hash: String,
    pub(crate) client_version: String,
    pub(crate) addrs: Vec<Multiaddr>,
    pub(crate) reachable: Option<bool>,
    pub(crate) favorite: bool,
    pub(crate) blocked: bool,
    pub(crate) sightings: BTreeMap<Source, SightingState>,
}

/// What one source says about one peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SightingState {
    pub(crate) last_seen: i64,
    pub(crate) verified: bool,
    pub(crate) offline: bool,
}

/// The shared table. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PeerTable {
    inner: Arc<Mutex<HashMap<PeerId, Entry>>>,
    snapshots: Arc<Mutex<HashMap<Source, i64>>>,
    events: Events,
}

impl PeerTable {
    /// An empty table emitting on `events`.
    pub fn new(events: Events) -> Self {
        Self {
            inner: Arc::new(Mutex::new(HashMap::new())),
            snapshots: Arc::new(Mutex::new(HashMap::new())),
            events,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PeerId, Entry>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_snapshots(&self) -> std::sync::MutexGuard<'_, HashMap<Source, i64>> {
        self.snapshots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes an `online`/`update` message from `source` (peer.md §3.4 merging rules: scalars take
    /// the newest message; an empty value never overwrites a non-empty client version).
    pub fn upsert(&self, source: Source, msg: &PresenceMsg, verified: bool, now: i64) {
        let peer: PeerId = msg.peer_id.peer_id();
        let view = {
            let mut table = self.lock();
            if !table.contains_key(&peer) && table.len() >= MAX_PEERS {
                evict_one(&mut table);
            }
            let entry = table.entry(peer).or_insert_with(|| Entry {
                label: String::new(),
                email: String::new(),
                avatar_hash: String::new(),
                client_version: String::new(),
                addrs: Vec::new(),
                reachable: None,
                favorite: false,
                blocked: false,
                sightings: BTreeMap::new(),
            });
            entry.label.clone_from(&msg.content);
            entry.email.clone_from(&msg.email);
            entry.avatar_hash.clone_from(&msg.avatar_hash);
            if !msg.goop_client_version.is_empty() {
                entry.client_version.clone_from(&msg.goop_client_version);
            }
            entry.addrs = msg.addrs.iter().filter_map(|a| a.parse().ok()).collect();
            let verified = matches!(source, Source::Hub(_)) && verified;
            entry.sightings.insert(
                source,
                SightingState {
                    last_seen: now,
                    verified,
                    offline: false,
                },
            );
            view_of(&peer, entry)
        };
        self.events.emit(Event::PeerUpdate(
            serde_json::to_value(view).unwrap_or_default(),
        ));
    }

    /// `offline` from `source`: that source no longer sees the peer.
    pub fn mark_offline(&self, source: &Source, peer: &PeerId, now: i64) {
        let view = {
            let mut table = self.lock();
            let Some(entry) = table.get_mut(peer) else {
                return;
            };
            let Some(sighting) = entry.sightings.get_mut(source) else {
                return;
            };
            sighting.offline = true;
            sighting.last_seen = now;
            view_of(peer, entry)
        };
        self.events.emit(Event::PeerUpdate(
            serde_json::to_value(view).unwrap_or_default(),
        ));
    }

    /// A v2 stream of `source` starts a snapshot (WS v2 `auth-ok`, SSE `?v=2`): sightings of that
    /// source not refreshed by the snapshot go offline at [`PeerTable::end_snapshot`].
    pub fn begin_snapshot(&self, source: &Source, now: i64) {
        self.lock_snapshots().insert(source.clone(), now);
    }

    /// `snapshot-end`: every sighting of `source` older than the snapshot's start becomes offline
    /// (peer.md §3.4).
    pub fn end_snapshot(&self, source: &Source, now: i64) {
        let Some(started) = self.lock_snapshots().remove(source) else {
            return;
        };
        let stale: Vec<PeerId> = self
            .lock()
            .iter()
            .filter(|(_, e)| {
                e.sightings
                    .get(source)
                    .is_some_and(|s| !s.offline && s.last_seen < started)
            })
            .map(|(peer, _)| *peer)
            .collect();
        for peer in stale {
            self.mark_offline(source, &peer, now);
        }
    }

    /// The stream of `source` ended: its sightings are kept at most `presence.ttl_secs` from now
    /// unless a new snapshot replaces them (peer.md §3.4).
    pub fn stream_ended(&self, source: &Source, now: i64) {
        self.lock_snapshots().remove(source);
        let _ = now;
    }

    /// Removes a peer (pruning); emits `peer.gone`.
    pub fn remove(&self, peer: &PeerId) {
        if self.lock().remove(peer).is_some() {
            self.events.emit(Event::PeerGone(PeerGone {
                peer_id: peer.to_base58(),
            }));
        }
    }

    /// The addresses `peer` announced.
    pub fn addrs(&self, peer: &PeerId) -> Vec<Multiaddr> {
        self.lock()
            .get(peer)
            .map(|e| e.addrs.clone())
            .unwrap_or_default()
    }

    /// The hubs whose presence currently reports `peer` (not offline).
    pub fn hubs_seeing(&self, peer: &PeerId) -> Vec<HubUrl> {
        self.lock()
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
        self.lock().get(peer).map(|e| view_of(peer, e))
    }

    /// Every peer, optionally only those seen through `hub` and only online ones.
    pub fn list(&self, hub: Option<&HubUrl>, online_only: bool) -> Vec<PeerView> {
        let table = self.lock();
        let mut views: Vec<PeerView> = table
            .iter()
            .filter(|(_, e)| {
                hub.is_none_or(|url| e.sightings.contains_key(&Source::Hub(url.clone())))
            })
            .map(|(peer, e)| view_of(peer, e))
            .filter(|v| !online_only || v.online)
            .collect();
        views.sort_by(|a, b| a.peer_id.cmp(&b.peer_id));
        views
    }

    /// Sets the user's favourite flag; false for an unknown peer. Emits `peer.update`.
    pub fn set_favorite(&self, peer: &PeerId, favorite: bool) -> bool {
        self.set_flag(peer, |e| e.favorite = favorite)
    }

    /// Sets the user's block flag; false for an unknown peer. Emits `peer.update`.
    pub fn set_blocked(&self, peer: &PeerId, blocked: bool) -> bool {
        self.set_flag(peer, |e| e.blocked = blocked)
    }

    fn set_flag(&self, peer: &PeerId, change: impl FnOnce(&mut Entry)) -> bool {
        let view = {
            let mut table = self.lock();
            let Some(entry) = table.get_mut(peer) else {
                return false;
            };
            change(entry);
            view_of(peer, entry)
        };
        self.events.emit(Event::PeerUpdate(
            serde_json::to_value(view).unwrap_or_default(),
        ));
        true
    }

    /// Whether `peer` is on the user's blocklist.
    pub fn is_blocked(&self, peer: &PeerId) -> bool {
        self.lock().get(peer).is_some_and(|e| e.blocked)
    }
}

fn view_of(peer: &PeerId, entry: &Entry) -> PeerView {
    let sightings: Vec<Sighting> = entry
        .sightings
        .iter()
        .map(|(source, s)| Sighting {
            source: source.label(),
            last_seen: s.last_seen,
            verified: s.verified,
            offline: s.offline,
        })
        .collect();
    PeerView {
        peer_id: peer.to_base58(),
        label: entry.label.clone(),
        email: entry.email.clone(),
        verified: entry.sightings.values().any(|s| s.verified && !s.offline),
        avatar_hash: entry.avatar_hash.clone(),
        online: entry.sightings.values().any(|s| !s.offline),
        reachable: entry.reachable,
        last_seen: entry
            .sightings
            .values()
            .map(|s| s.last_seen)
            .max()
            .unwrap_or(0),
        favorite: entry.favorite,
        blocked: entry.blocked,
        client_version: entry.client_version.clone(),
        sightings,
    }
}

/// Drops the entry that has been offline longest (never a favourite or blocked one).
fn evict_one(table: &mut HashMap<PeerId, Entry>) {
    let victim = table
        .iter()
        .filter(|(_, e)| !e.favorite && !e.blocked && e.sightings.values().all(|s| s.offline))
        .min_by_key(|(_, e)| e.sightings.values().map(|s| s.last_seen).max().unwrap_or(0))
        .map(|(peer, _)| *peer);
    if let Some(peer) = victim {
        table.remove(&peer);
    }
}

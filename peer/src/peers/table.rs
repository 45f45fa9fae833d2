//! The state behind [`super::PeerTable`] and the rules of peer.md §3.4 as plain functions of
//! `now`: merging, liveness per source kind, snapshots, expiry, grace removal and the
//! user flags (the reachability rule is in `probe`, the cache bookkeeping in `cache`). Nothing
//! here waits or emits; callers turn the returned [`Change`]s into
//! events.

use std::collections::{BTreeMap, HashMap, HashSet};

use libp2p::{Multiaddr, PeerId};
use shared::presence::PresenceMsg;

use super::{MAX_PEERS, PeerView, Sighting, Source};

use super::cache::{CACHE_WRITE_MS, CacheState};
use super::probe::ProbeState;

/// What a mutation changed, for the event bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// `peer.update` with the new view.
    Update(PeerView),
    /// `peer.gone`.
    Gone(PeerId),
}

/// What one source says about one peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SightingState {
    /// Shown as `last_seen`: the last frame, or now for a live sighting on a healthy v2 stream.
    pub(crate) last_seen: i64,
    /// Receive time of the last frame from this source about this peer.
    pub(crate) heard_at: i64,
    pub(crate) verified: bool,
    pub(crate) offline: bool,
}

/// What we know of one source's stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SourceState {
    /// The source is a v2 stream (WS v2, SSE `?v=2`): its sightings have no timer while healthy.
    v2: bool,
    /// Start of the snapshot in progress.
    snapshot_started: Option<i64>,
    /// The stream ended at this time and no new one has started since.
    ended_at: Option<i64>,
}

/// One entry of the table.
#[derive(Debug, Clone, Default)]
pub(crate) struct Entry {
    pub(crate) label: String,
    pub(crate) email: String,
    pub(crate) avatar_hash: String,
    pub(crate) client_version: String,
    pub(crate) public_key: String,
    pub(crate) addrs: Vec<Multiaddr>,
    /// Receive time of the message the scalars came from.
    pub(super) scalars_at: i64,
    pub(crate) reachable: Option<bool>,
    pub(crate) probe: ProbeState,
    pub(crate) favorite: bool,
    pub(crate) blocked: bool,
    pub(crate) sightings: BTreeMap<Source, SightingState>,
    /// When the peer stopped being online; `None` while online.
    pub(super) offline_since: Option<i64>,
    /// `last_seen` of the cache row, for an entry no source has seen since start.
    pub(super) cached_last_seen: i64,
    pub(super) cache: CacheState,
}

impl Entry {
    pub(super) fn online(&self) -> bool {
        self.sightings.values().any(|s| !s.offline)
    }

    pub(super) fn last_seen(&self) -> i64 {
        self.sightings
            .values()
            .map(|s| s.last_seen)
            .max()
            .unwrap_or(0)
            .max(self.cached_last_seen)
    }

    pub(crate) fn view(&self, peer: &PeerId) -> PeerView {
        PeerView {
            peer_id: peer.to_base58(),
            label: self.label.clone(),
            email: self.email.clone(),
            verified: self.sightings.values().any(|s| s.verified && !s.offline),
            avatar_hash: self.avatar_hash.clone(),
            online: self.online(),
            reachable: self.reachable,
            last_seen: self.last_seen(),
            favorite: self.favorite,
            blocked: self.blocked,
            client_version: self.client_version.clone(),
            sightings: self
                .sightings
                .iter()
                .map(|(source, s)| Sighting {
                    source: source.label(),
                    last_seen: s.last_seen,
                    verified: s.verified,
                    offline: s.offline,
                })
                .collect(),
        }
    }

    /// Keeps `offline_since` in step with the sightings.
    pub(super) fn settle(&mut self, now: i64) {
        if self.online() {
            self.offline_since = None;
        } else if self.offline_since.is_none() {
            self.offline_since = Some(now);
        }
    }
}

/// A view with every time zeroed: two views equal under it differ only in `last_seen`, which is
/// not a change worth an event.
fn timeless(mut view: PeerView) -> PeerView {
    view.last_seen = 0;
    for sighting in &mut view.sightings {
        sighting.last_seen = 0;
    }
    view
}

/// The whole table.
#[derive(Debug, Default)]
pub(crate) struct Table {
    pub(crate) peers: HashMap<PeerId, Entry>,
    pub(super) sources: HashMap<Source, SourceState>,
    /// Peers removed since the last flush, whose cache rows go.
    pub(super) removed: HashSet<PeerId>,
}

impl Table {
    /// Runs `change` on `peer`'s entry and reports a [`Change::Update`] when the view changed in
    /// more than its times. The entry's cache row becomes dirty on any change.
    pub(super) fn edit(
        &mut self,
        peer: &PeerId,
        now: i64,
        change: impl FnOnce(&mut Entry),
    ) -> Option<Change> {
        let entry = self.peers.get_mut(peer)?;
        let before = timeless(entry.view(peer));
        change(entry);
        entry.settle(now);
        let after = entry.view(peer);
        if timeless(after.clone()) == before {
            return None;
        }
        entry.cache.dirty = true;
        Some(Change::Update(after))
    }

    /// Makes room for one more entry: false when the table is full of peers that cannot go.
    pub(super) fn make_room(&mut self) -> bool {
        if self.peers.len() < MAX_PEERS {
            return true;
        }
        let victim = self
            .peers
            .iter()
            .filter(|(_, e)| !e.favorite && !e.blocked && !e.online())
            .min_by_key(|(_, e)| e.last_seen())
            .map(|(peer, _)| *peer);
        match victim {
            Some(peer) => {
                self.peers.remove(&peer);
                self.removed.insert(peer);
                true
            }
            None => false,
        }
    }

    /// `online`/`update` from `source` (peer.md §3.4 merging rules).
    pub(crate) fn upsert(
        &mut self,
        source: Source,
        msg: &PresenceMsg,
        verified: bool,
        now: i64,
    ) -> Option<Change> {
        let peer = msg.peer_id.peer_id();
        let mut created = false;
        if !self.peers.contains_key(&peer) {
            if !self.make_room() {
                tracing::debug!(%peer, "peer table full, sighting dropped");
                return None;
            }
            self.peers.insert(peer, Entry::default());
            created = true;
        }
        let verified = matches!(source, Source::Hub(_)) && verified;
        self.edit(&peer, now, |entry| {
            if now >= entry.scalars_at {
                entry.scalars_at = now;
                entry.label.clone_from(&msg.content);
                entry.email.clone_from(&msg.email);
                entry.avatar_hash.clone_from(&msg.avatar_hash);
                entry.addrs = msg.addrs.iter().filter_map(|a| a.parse().ok()).collect();
                if !msg.goop_client_version.is_empty() {
                    entry.client_version.clone_from(&msg.goop_client_version);
                }
                if !msg.public_key.is_empty() {
                    entry.public_key.clone_from(&msg.public_key);
                }
            }
            entry.sightings.insert(
                source,
                SightingState {
                    last_seen: now,
                    heard_at: now,
                    verified,
                    offline: false,
                },
            );
            if created || entry.reachable == Some(false) {
                entry.probe.wanted = true;
            }
        })
    }

    /// `offline` from `source`.
    pub(crate) fn mark_offline(
        &mut self,
        source: &Source,
        peer: &PeerId,
        now: i64,
    ) -> Option<Change> {
        let live = |e: &Entry| e.sightings.get(source).is_some_and(|s| !s.offline);
        if !self.peers.get(peer).is_some_and(live) {
            return None;
        }
        self.edit(peer, now, |entry| {
            if let Some(sighting) = entry.sightings.get_mut(source) {
                sighting.offline = true;
                sighting.last_seen = now;
                sighting.heard_at = now;
            }
        })
    }

    /// A v2 stream of `source` starts a snapshot.
    pub(crate) fn begin_snapshot(&mut self, source: &Source, now: i64) {
        let state = self.sources.entry(source.clone()).or_default();
        state.v2 = true;
        state.snapshot_started = Some(now);
        state.ended_at = None;
    }

    /// `snapshot-end`: every live sighting of `source` not heard since the snapshot began goes
    /// offline.
    pub(crate) fn end_snapshot(&mut self, source: &Source, now: i64) -> Vec<Change> {
        let Some(started) = self
            .sources
            .get_mut(source)
            .and_then(|s| s.snapshot_started.take())
        else {
            return Vec::new();
        };
        let stale: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, e)| {
                e.sightings
                    .get(source)
                    .is_some_and(|s| !s.offline && s.heard_at < started)
            })
            .map(|(peer, _)| *peer)
            .collect();
        stale
            .iter()
            .filter_map(|peer| self.mark_offline(source, peer, now))
            .collect()
    }

    /// The stream of `source` ended.
    pub(crate) fn stream_ended(&mut self, source: &Source, now: i64) {
        if let Some(state) = self.sources.get_mut(source) {
            state.snapshot_started = None;
            if state.v2 {
                state.ended_at = Some(now);
            }
        }
    }

    /// `source` is gone for good (the hub was left): every live sighting of it goes offline now
    /// and its stream state is forgotten.
    pub(crate) fn forget_source(&mut self, source: &Source, now: i64) -> Vec<Change> {
        self.sources.remove(source);
        let live: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, e)| e.sightings.get(source).is_some_and(|s| !s.offline))
            .map(|(peer, _)| *peer)
            .collect();
        live.iter()
            .filter_map(|peer| self.mark_offline(source, peer, now))
            .collect()
    }

    /// The prune tick: expires sightings by their source's liveness rule and removes peers
    /// offline longer than `grace_ms` (never favourites or blocked peers).
    pub(crate) fn prune(&mut self, now: i64, ttl_ms: i64, grace_ms: i64) -> Vec<Change> {
        let mut changes = Vec::new();
        let peers: Vec<PeerId> = self.peers.keys().copied().collect();
        for peer in peers {
            let sources = &self.sources;
            let Some(entry) = self.peers.get_mut(&peer) else {
                continue;
            };
            let mut expired = Vec::new();
            for (source, sighting) in &mut entry.sightings {
                if sighting.offline {
                    continue;
                }
                let state = sources.get(source).copied().unwrap_or_default();
                let reference = match (state.v2, state.ended_at) {
                    (true, None) => {
                        sighting.last_seen = sighting.last_seen.max(now);
                        continue;
                    }
                    (true, Some(ended)) => ended.max(sighting.heard_at),
                    (false, _) => sighting.heard_at,
                };
                if now - reference > ttl_ms {
                    expired.push(source.clone());
                }
            }
            if !expired.is_empty() {
                changes.extend(self.edit(&peer, now, |entry| {
                    for source in &expired {
                        if let Some(sighting) = entry.sightings.get_mut(source) {
                            sighting.offline = true;
                        }
                    }
                }));
            }
            let Some(entry) = self.peers.get_mut(&peer) else {
                continue;
            };
            if entry.last_seen() - entry.cache.written_last_seen >= CACHE_WRITE_MS {
                entry.cache.dirty = true;
            }
            let gone = !entry.favorite
                && !entry.blocked
                && entry
                    .offline_since
                    .is_some_and(|since| now - since > grace_ms);
            if gone {
                self.peers.remove(&peer);
                self.removed.insert(peer);
                changes.push(Change::Gone(peer));
            }
        }
        changes
    }

    /// Removes `peer` outright.
    pub(crate) fn remove(&mut self, peer: &PeerId) -> Option<Change> {
        self.peers.remove(peer)?;
        self.removed.insert(*peer);
        Some(Change::Gone(*peer))
    }

    /// Sets a user flag, creating a bare entry for a peer not seen yet. `None` in the outer
    /// option: the table is full.
    pub(crate) fn set_flag(
        &mut self,
        peer: &PeerId,
        now: i64,
        set: impl FnOnce(&mut Entry),
    ) -> Option<Option<Change>> {
        if !self.peers.contains_key(peer) {
            if !self.make_room() {
                return None;
            }
            self.peers.insert(
                *peer,
                Entry {
                    offline_since: Some(now),
                    ..Entry::default()
                },
            );
        }
        let change = self.edit(peer, now, set);
        if let Some(entry) = self.peers.get_mut(peer) {
            entry.cache.dirty = true;
            entry.cache.urgent = true;
        }
        Some(change)
    }
}

//! The state behind [`super::PeerTable`] and the rules of peer.md §3.4 as plain functions of
//! `now`: merging, liveness per source kind, snapshots, expiry, grace removal and the
//! reachability rule. Nothing here waits or emits; callers turn the returned [`Change`]s into
//! events.

use std::collections::{BTreeMap, HashMap, HashSet};

use libp2p::{Multiaddr, PeerId};
use shared::presence::PresenceMsg;

use super::{MAX_PEERS, PeerView, Sighting, Source};
use crate::store::PeerCacheRow;

/// Two probe failures at least this far apart make a peer unreachable (peer.md §3.4).
pub(crate) const PROBE_RETRY_MS: i64 = 2_000;
/// A `_peer_cache` row is written at most once per this (peer.md §12).
pub(crate) const CACHE_WRITE_MS: i64 = 30_000;

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

/// Content probing state of one peer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ProbeState {
    /// A probe should run once `now >= not_before`.
    pub(crate) wanted: bool,
    pub(crate) in_flight: bool,
    pub(crate) not_before: i64,
    /// Time of the first failure of the current run of failures.
    first_failure_at: Option<i64>,
}

/// `_peer_cache` bookkeeping of one entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct CacheState {
    dirty: bool,
    /// A user flag changed: written at the next flush, whatever the 30 s rule says.
    urgent: bool,
    written_at: Option<i64>,
    written_last_seen: i64,
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
    scalars_at: i64,
    pub(crate) reachable: Option<bool>,
    pub(crate) probe: ProbeState,
    pub(crate) favorite: bool,
    pub(crate) blocked: bool,
    pub(crate) sightings: BTreeMap<Source, SightingState>,
    /// When the peer stopped being online; `None` while online.
    offline_since: Option<i64>,
    /// `last_seen` of the cache row, for an entry no source has seen since start.
    cached_last_seen: i64,
    cache: CacheState,
}

impl Entry {
    fn online(&self) -> bool {
        self.sightings.values().any(|s| !s.offline)
    }

    fn last_seen(&self) -> i64 {
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
    fn settle(&mut self, now: i64) {
        if self.online() {
            self.offline_since = None;
        } else if self.offline_since.is_none() {
            self.offline_since = Some(now);
        }
    }

    fn row(&self, peer: &PeerId) -> PeerCacheRow {
        PeerCacheRow {
            peer_id: *peer,
            label: self.label.clone(),
            email: self.email.clone(),
            avatar_hash: self.avatar_hash.clone(),
            client_version: self.client_version.clone(),
            public_key: self.public_key.clone(),
            addrs: self.addrs.iter().map(ToString::to_string).collect(),
            last_seen: self.last_seen(),
            favorite: self.favorite,
            blocked: self.blocked,
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
    sources: HashMap<Source, SourceState>,
    /// Peers removed since the last flush, whose cache rows go.
    removed: HashSet<PeerId>,
}

impl Table {
    /// Runs `change` on `peer`'s entry and reports a [`Change::Update`] when the view changed in
    /// more than its times. The entry's cache row becomes dirty on any change.
    fn edit(&mut self, peer: &PeerId, now: i64, change: impl FnOnce(&mut Entry)) -> Option<Change> {
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
    fn make_room(&mut self) -> bool {
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

    /// Applies a probe outcome (peer.md §3.4): success ⇒ reachable; two failures at least
    /// [`PROBE_RETRY_MS`] apart ⇒ unreachable, the first one schedules the second attempt.
    pub(crate) fn record_probe(
        &mut self,
        peer: &PeerId,
        reachable: bool,
        now: i64,
    ) -> Option<Change> {
        self.edit(peer, now, |entry| {
            let probe = &mut entry.probe;
            probe.in_flight = false;
            if reachable {
                entry.reachable = Some(true);
                probe.wanted = false;
                probe.first_failure_at = None;
                return;
            }
            match probe.first_failure_at {
                Some(first) if now - first >= PROBE_RETRY_MS => {
                    entry.reachable = Some(false);
                    probe.wanted = false;
                    probe.first_failure_at = None;
                }
                Some(first) => {
                    probe.wanted = true;
                    probe.not_before = first + PROBE_RETRY_MS;
                }
                None => {
                    probe.first_failure_at = Some(now);
                    probe.wanted = true;
                    probe.not_before = now + PROBE_RETRY_MS;
                }
            }
        })
    }

    /// Up to `max` online peers whose probe is due; they are marked in flight.
    pub(crate) fn take_due_probes(&mut self, now: i64, max: usize) -> Vec<PeerId> {
        let mut due = Vec::new();
        for (peer, entry) in &mut self.peers {
            if due.len() >= max {
                break;
            }
            let probe = &mut entry.probe;
            let online = entry.sightings.values().any(|s| !s.offline);
            if probe.wanted
                && !probe.in_flight
                && probe.not_before <= now
                && !entry.blocked
                && online
            {
                probe.in_flight = true;
                probe.wanted = false;
                due.push(*peer);
            }
        }
        due
    }

    /// A probe ended without an outcome (the peer is shutting down): it is wanted again.
    pub(crate) fn abandon_probe(&mut self, peer: &PeerId) {
        if let Some(entry) = self.peers.get_mut(peer) {
            entry.probe.in_flight = false;
            entry.probe.wanted = true;
        }
    }

    /// Adds cache rows at start: unknown peers become offline entries; known ones take the
    /// user flags and fill empty scalars.
    pub(crate) fn load(&mut self, rows: Vec<PeerCacheRow>, now: i64) {
        for row in rows {
            let written = CacheState {
                dirty: false,
                urgent: false,
                written_at: Some(now),
                written_last_seen: row.last_seen,
            };
            if let Some(entry) = self.peers.get_mut(&row.peer_id) {
                entry.favorite |= row.favorite;
                entry.blocked |= row.blocked;
                for (mine, cached) in [
                    (&mut entry.label, row.label),
                    (&mut entry.avatar_hash, row.avatar_hash),
                    (&mut entry.client_version, row.client_version),
                    (&mut entry.public_key, row.public_key),
                ] {
                    if mine.is_empty() {
                        *mine = cached;
                    }
                }
                entry.cache.dirty = true;
                continue;
            }
            if self.peers.len() >= MAX_PEERS {
                continue;
            }
            let entry = Entry {
                label: row.label,
                email: row.email,
                avatar_hash: row.avatar_hash,
                client_version: row.client_version,
                public_key: row.public_key,
                addrs: row.addrs.iter().filter_map(|a| a.parse().ok()).collect(),
                favorite: row.favorite,
                blocked: row.blocked,
                offline_since: Some(if row.last_seen > 0 {
                    row.last_seen
                } else {
                    now
                }),
                cached_last_seen: row.last_seen,
                cache: written,
                ..Entry::default()
            };
            self.peers.insert(row.peer_id, entry);
        }
    }

    /// The rows to write now (dirty and past the 30 s rule, or all dirty with `all`) and the
    /// rows to delete; both are marked written.
    pub(crate) fn take_cache_work(
        &mut self,
        now: i64,
        all: bool,
        max: usize,
    ) -> (Vec<PeerCacheRow>, Vec<PeerId>) {
        let mut rows = Vec::new();
        for (peer, entry) in &mut self.peers {
            if rows.len() >= max {
                break;
            }
            let cache = entry.cache;
            let allowed =
                all || cache.urgent || cache.written_at.is_none_or(|w| now - w >= CACHE_WRITE_MS);
            if cache.dirty && allowed {
                entry.cache = CacheState {
                    dirty: false,
                    urgent: false,
                    written_at: Some(now),
                    written_last_seen: entry.last_seen(),
                };
                rows.push(entry.row(peer));
            }
        }
        let peers = &self.peers;
        let removed: Vec<PeerId> = self
            .removed
            .drain()
            .filter(|p| !peers.contains_key(p))
            .collect();
        (rows, removed)
    }

    /// A failed flush: the rows become dirty again and the deletions are retried.
    pub(crate) fn requeue_cache_work(&mut self, rows: &[PeerCacheRow], removed: Vec<PeerId>) {
        for row in rows {
            if let Some(entry) = self.peers.get_mut(&row.peer_id) {
                entry.cache.dirty = true;
            }
        }
        self.removed
            .extend(removed.into_iter().filter(|p| !self.peers.contains_key(p)));
    }
}

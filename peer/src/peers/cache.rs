//! `_peer_cache` bookkeeping of the table (peer.md §12): which rows are due for writing (each
//! at most once per 30 s, user flags at once), which go, and what the cache adds at start.

use libp2p::PeerId;

use super::MAX_PEERS;
use super::table::{Entry, Table};
use crate::store::PeerCacheRow;

/// A `_peer_cache` row is written at most once per this (peer.md §12).
pub(crate) const CACHE_WRITE_MS: i64 = 30_000;

/// `_peer_cache` bookkeeping of one entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct CacheState {
    pub(super) dirty: bool,
    /// A user flag changed: written at the next flush, whatever the 30 s rule says.
    pub(super) urgent: bool,
    pub(super) written_at: Option<i64>,
    pub(super) written_last_seen: i64,
}

impl Entry {
    pub(super) fn row(&self, peer: &PeerId) -> PeerCacheRow {
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

impl Table {
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

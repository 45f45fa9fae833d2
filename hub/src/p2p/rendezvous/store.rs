//! The registrations of the hub's one namespace (hub.md §4.4): at most one per peer (a new
//! REGISTER replaces it), at most `rendezvous.max_registrations` in total, each until its TTL
//! ends. Every registration gets a sequence number; a DISCOVER cookie is the last number its
//! caller saw, so paging needs no per-caller state.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use libp2p::PeerId;

/// One stored registration.
#[derive(Debug, Clone)]
struct Entry {
    /// The signed envelope as the peer sent it.
    record: Vec<u8>,
    ttl: u64,
    expires: Instant,
    seq: u64,
}

/// A registration handed out by [`Registrations::discover`], with the TTL it has left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub(crate) record: Vec<u8>,
    pub(crate) ttl: u64,
}

/// Why a registration was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Full {
    /// `rendezvous.max_registrations` are held by other peers.
    Total,
}

/// All registrations, indexed by peer, by sequence number and by expiry.
#[derive(Debug)]
pub(crate) struct Registrations {
    max_total: usize,
    by_peer: HashMap<PeerId, Entry>,
    by_seq: BTreeMap<u64, PeerId>,
    by_expiry: BTreeSet<(Instant, PeerId)>,
    next_seq: u64,
}

impl Registrations {
    /// At most `max_total` registrations.
    pub(crate) fn new(max_total: usize) -> Self {
        Self {
            max_total,
            by_peer: HashMap::new(),
            by_seq: BTreeMap::new(),
            by_expiry: BTreeSet::new(),
            next_seq: 1,
        }
    }

    /// Stores (or replaces) `peer`'s registration for `ttl` seconds from `now`.
    pub(crate) fn add(
        &mut self,
        peer: PeerId,
        record: Vec<u8>,
        ttl: u64,
        now: Instant,
    ) -> Result<(), Full> {
        self.expire(now);
        if !self.by_peer.contains_key(&peer) && self.by_peer.len() >= self.max_total {
            return Err(Full::Total);
        }
        self.remove(&peer);
        let (seq, expires) = (self.next_seq, now + Duration::from_secs(ttl));
        self.next_seq += 1;
        self.by_seq.insert(seq, peer);
        self.by_expiry.insert((expires, peer));
        self.by_peer.insert(
            peer,
            Entry {
                record,
                ttl,
                expires,
                seq,
            },
        );
        Ok(())
    }

    /// Drops `peer`'s registration; whether it had one.
    pub(crate) fn remove(&mut self, peer: &PeerId) -> bool {
        let Some(entry) = self.by_peer.remove(peer) else {
            return false;
        };
        self.by_seq.remove(&entry.seq);
        self.by_expiry.remove(&(entry.expires, *peer));
        true
    }

    /// Live registrations with a sequence number above `after`, oldest first, at most `limit`
    /// and at most `max_bytes` of records; with the cookie value to continue from.
    pub(crate) fn discover(
        &mut self,
        after: u64,
        limit: usize,
        max_bytes: usize,
        now: Instant,
    ) -> (Vec<Found>, u64) {
        self.expire(now);
        let (mut found, mut last, mut bytes) = (Vec::new(), after, 0usize);
        for (seq, peer) in self.by_seq.range(after.saturating_add(1)..) {
            let entry = &self.by_peer[peer];
            bytes += entry.record.len();
            if found.len() == limit || (bytes > max_bytes && !found.is_empty()) {
                break;
            }
            let left = entry.expires.saturating_duration_since(now).as_secs();
            found.push(Found {
                record: entry.record.clone(),
                ttl: left.clamp(1, entry.ttl),
            });
            last = *seq;
        }
        (found, last)
    }

    /// How many registrations are held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.by_peer.len()
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(expires, peer)) = self.by_expiry.first() {
            if expires > now {
                break;
            }
            self.remove(&peer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_beyond_the_total_is_refused_but_a_renewal_is_not() {
        let (mut store, now) = (Registrations::new(1), Instant::now());
        let (a, b) = (PeerId::random(), PeerId::random());
        store.add(a, b"a".to_vec(), 60, now).unwrap();

        assert_eq!(store.add(b, b"b".to_vec(), 60, now), Err(Full::Total));
        store.add(a, b"a2".to_vec(), 60, now).expect("renewal");
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn expired_registrations_are_not_found_and_free_their_slot() {
        let (mut store, now) = (Registrations::new(1), Instant::now());
        let (a, b) = (PeerId::random(), PeerId::random());
        store.add(a, b"a".to_vec(), 60, now).unwrap();
        let later = now + Duration::from_secs(61);

        assert!(store.discover(0, 10, 1024, later).0.is_empty());
        store
            .add(b, b"b".to_vec(), 60, later)
            .expect("the slot is free");
    }

    #[test]
    fn discover_pages_by_cookie_and_reports_ttl_left() {
        let (mut store, now) = (Registrations::new(10), Instant::now());
        for record in [b"a", b"b", b"c"] {
            store
                .add(PeerId::random(), record.to_vec(), 120, now)
                .unwrap();
        }
        let later = now + Duration::from_secs(20);

        let (first, cookie) = store.discover(0, 2, 1024, later);
        let (rest, end) = store.discover(cookie, 2, 1024, later);
        let (none, same) = store.discover(end, 2, 1024, later);

        let records = |found: &[Found]| found.iter().map(|f| f.record.clone()).collect::<Vec<_>>();
        assert_eq!(records(&first), [b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(records(&rest), [b"c".to_vec()]);
        assert!(none.is_empty());
        assert_eq!(same, end);
        assert_eq!(first[0].ttl, 100);
    }

    #[test]
    fn discover_stops_at_the_byte_budget_but_returns_at_least_one() {
        let (mut store, now) = (Registrations::new(10), Instant::now());
        for _ in 0..3 {
            store.add(PeerId::random(), vec![0; 100], 60, now).unwrap();
        }

        assert_eq!(store.discover(0, 10, 150, now).0.len(), 1);
        assert_eq!(store.discover(0, 10, 10, now).0.len(), 1);
    }

    #[test]
    fn removed_registration_is_not_found() {
        let (mut store, now) = (Registrations::new(10), Instant::now());
        let a = PeerId::random();
        store.add(a, b"a".to_vec(), 60, now).unwrap();

        assert!(store.remove(&a));
        assert!(store.discover(0, 10, 1024, now).0.is_empty());
        assert!(!store.remove(&a));
    }
}

//! The receiver's duplicate filter (peer.md §4.2): `(caller, id)` pairs seen within
//! [`WINDOW_MS`], at most [`CAPACITY`], oldest evicted first.

use std::collections::{HashSet, VecDeque};

use libp2p::PeerId;

/// How long a pair is remembered.
pub const WINDOW_MS: i64 = 10 * 60 * 1000;
/// Most pairs remembered.
pub const CAPACITY: usize = 4096;

type Key = (PeerId, String);

/// Pairs in arrival order (times never decrease within one clock, so the front is the oldest).
#[derive(Debug, Default)]
pub(crate) struct Dedup {
    seen: HashSet<Key>,
    order: VecDeque<(i64, Key)>,
}

impl Dedup {
    /// Records `(caller, id)` at `now`; answers whether it is new (to be dispatched).
    pub(crate) fn first_time(&mut self, caller: PeerId, id: &str, now: i64) -> bool {
        while let Some((at, _)) = self.order.front() {
            if now.saturating_sub(*at) < WINDOW_MS {
                break;
            }
            self.evict_oldest();
        }
        let key = (caller, id.to_owned());
        if self.seen.contains(&key) {
            return false;
        }
        if self.order.len() >= CAPACITY {
            self.evict_oldest();
        }
        self.seen.insert(key.clone());
        self.order.push_back((now, key));
        true
    }

    fn evict_oldest(&mut self) {
        if let Some((_, key)) = self.order.pop_front() {
            self.seen.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_is_new_once_per_window() {
        let (mut dedup, a, b) = (Dedup::default(), PeerId::random(), PeerId::random());

        assert!(dedup.first_time(a, "x", 0));
        assert!(!dedup.first_time(a, "x", 1));
        assert!(dedup.first_time(b, "x", 1));
        assert!(dedup.first_time(a, "x", WINDOW_MS + 1));
    }

    #[test]
    fn the_oldest_pair_is_evicted_at_capacity() {
        let (mut dedup, a) = (Dedup::default(), PeerId::random());
        for i in 0..CAPACITY {
            assert!(dedup.first_time(a, &i.to_string(), 0));
        }

        assert!(dedup.first_time(a, "new", 0));

        assert!(!dedup.first_time(a, "1", 0));
        assert!(dedup.first_time(a, "0", 0));
        assert_eq!(dedup.seen.len(), CAPACITY);
    }
}

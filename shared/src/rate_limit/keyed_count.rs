//! [`KeyedCount`]: how many of something each key holds (connections per client address, replay
//! entries per client, streams per address), keeping only keys whose count is above zero.

use std::collections::HashMap;
use std::hash::Hash;

/// Counts per key. A key leaves the map when its count returns to zero, so the map never holds
/// more keys than the total it counts.
#[derive(Debug, Clone)]
pub struct KeyedCount<K> {
    counts: HashMap<K, usize>,
}

impl<K> Default for KeyedCount<K> {
    fn default() -> Self {
        Self {
            counts: HashMap::new(),
        }
    }
}

impl<K: Hash + Eq> KeyedCount<K> {
    /// The count of `key` (0 when absent).
    pub fn get(&self, key: &K) -> usize {
        self.counts.get(key).copied().unwrap_or(0)
    }

    /// Adds one to `key`.
    pub fn add(&mut self, key: K) {
        *self.counts.entry(key).or_insert(0) += 1;
    }

    /// Takes one from `key`, dropping it at zero; a key at zero is left alone.
    pub fn remove_one(&mut self, key: &K) {
        if let Some(count) = self.counts.get_mut(key) {
            *count -= 1;
            if *count == 0 {
                self.counts.remove(key);
            }
        }
    }

    /// Keys with a count above zero.
    pub fn keys(&self) -> usize {
        self.counts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_leaves_the_map_at_zero_and_never_goes_below() {
        let mut counts = KeyedCount::default();
        counts.add("a");
        counts.add("a");
        counts.add("b");
        counts.remove_one(&"a");
        assert_eq!((counts.get(&"a"), counts.keys()), (1, 2));
        counts.remove_one(&"a");
        counts.remove_one(&"a");
        assert_eq!((counts.get(&"a"), counts.keys()), (0, 1));
        counts.remove_one(&"zzz");
        assert_eq!(counts.keys(), 1);
    }
}

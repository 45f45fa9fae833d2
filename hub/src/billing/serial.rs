//! One event at a time per subscription: the fetch from Stripe and the transaction that writes
//! its result run under a lock on the subscription id, so no other event of that subscription
//! can commit in between and leave the fetched object older than the row (hub.md §8.5 rule 2).
//! The hub is the only writer of its database, so a lock in the process is enough; events of
//! different subscriptions never wait for each other.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// Unused entries are dropped once the map holds this many.
const PRUNE_AT: usize = 1024;

/// Locks keyed by subscription id; an entry lives while someone holds or waits for it.
#[derive(Debug, Default)]
pub(crate) struct SubscriptionLocks {
    held: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

impl SubscriptionLocks {
    /// Waits for the lock of subscription `id`; it is released when the guard drops.
    pub(crate) async fn lock(&self, id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
            match held.get(id).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    if held.len() >= PRUNE_AT {
                        held.retain(|_, entry| entry.strong_count() > 0);
                    }
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    held.insert(id.to_owned(), Arc::downgrade(&lock));
                    lock
                }
            }
        };
        lock.lock_owned().await
    }

    #[cfg(test)]
    fn entries(&self) -> usize {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use futures::FutureExt as _;

    use super::*;

    #[tokio::test]
    async fn lock_waits_for_the_same_subscription_only() {
        let locks = SubscriptionLocks::default();
        let held = locks.lock("sub_1").await;

        assert!(
            locks.lock("sub_1").now_or_never().is_none(),
            "the same id waits"
        );
        assert!(
            locks.lock("sub_2").now_or_never().is_some(),
            "another id does not"
        );
        drop(held);
        assert!(
            locks.lock("sub_1").now_or_never().is_some(),
            "released on drop"
        );
    }

    #[tokio::test]
    async fn unused_entries_are_pruned_when_the_map_is_full() {
        let locks = SubscriptionLocks::default();
        for i in 0..PRUNE_AT {
            drop(locks.lock(&format!("sub_{i}")).await);
        }
        let kept = locks.lock("sub_kept").await;

        assert_eq!(locks.entries(), 1, "only the held entry stays");
        drop(kept);
    }
}

//! Admission of inbound MQ streams (peer.md §4 common rules): at most [`PER_REMOTE`] at once per
//! remote, [`GLOBAL`] in all, and [`RATE`] per remote. A stream that is not admitted is reset.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use libp2p::PeerId;
use shared::rate_limit::{RateLimit, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Concurrent inbound MQ streams per remote peer.
pub const PER_REMOTE: usize = 32;
/// Concurrent inbound MQ streams in all.
pub const GLOBAL: usize = 512;
/// 50 messages per second, burst 100, per remote peer.
pub const RATE: RateLimit = RateLimit::new(100, 0.02);
/// Remotes whose rate bucket is kept.
const RATE_KEYS: usize = 4096;

/// Why a stream was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// [`GLOBAL`] streams are open.
    #[error("global inbound stream cap reached")]
    Global,
    /// [`PER_REMOTE`] streams of this remote are open.
    #[error("per-peer concurrency limit reached")]
    Concurrency,
    /// The remote exceeded [`RATE`].
    #[error("rate limited")]
    Rate,
}

/// The admission state of one node.
#[derive(Debug)]
pub(crate) struct Gate {
    global: Arc<Semaphore>,
    open: Arc<Mutex<HashMap<PeerId, usize>>>,
    rate: RateLimiter<PeerId>,
}

impl Default for Gate {
    fn default() -> Self {
        Self {
            global: Arc::new(Semaphore::new(GLOBAL)),
            open: Arc::default(),
            rate: RateLimiter::with_capacity(RATE, RATE_KEYS),
        }
    }
}

/// An admitted stream; dropping it frees its slots.
#[derive(Debug)]
pub(crate) struct Admitted {
    _global: OwnedSemaphorePermit,
    open: Arc<Mutex<HashMap<PeerId, usize>>>,
    peer: PeerId,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.peer) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.peer);
            }
        }
    }
}

impl Gate {
    /// Admits a stream of `peer` at `now`, or says why not.
    pub(crate) fn admit(&self, peer: PeerId, now: Instant) -> Result<Admitted, Refused> {
        let global = self
            .global
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refused::Global)?;
        {
            let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
            if open.get(&peer).is_some_and(|n| *n >= PER_REMOTE) {
                return Err(Refused::Concurrency);
            }
            self.rate.check(peer, now).map_err(|_| Refused::Rate)?;
            *open.entry(peer).or_insert(0) += 1;
        }
        Ok(Admitted {
            _global: global,
            open: self.open.clone(),
            peer,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_remote_gets_its_burst_then_fifty_per_second() {
        let (gate, peer, now) = (Gate::default(), PeerId::random(), Instant::now());
        for _ in 0..100 {
            drop(gate.admit(peer, now).unwrap());
        }

        assert_eq!(gate.admit(peer, now).unwrap_err(), Refused::Rate);
        assert!(gate.admit(PeerId::random(), now).is_ok());
        let later = now + Duration::from_millis(100);
        for _ in 0..5 {
            drop(gate.admit(peer, later).unwrap());
        }
        assert_eq!(gate.admit(peer, later).unwrap_err(), Refused::Rate);
    }

    #[test]
    fn a_remote_holds_at_most_32_streams_at_once() {
        let (gate, peer, now) = (Gate::default(), PeerId::random(), Instant::now());
        let held: Vec<Admitted> = (0..PER_REMOTE)
            .map(|_| gate.admit(peer, now).unwrap())
            .collect();

        assert_eq!(gate.admit(peer, now).unwrap_err(), Refused::Concurrency);
        drop(held);
        assert!(gate.admit(peer, now).is_ok());
    }

    #[test]
    fn all_remotes_together_hold_at_most_512_streams() {
        let (gate, now) = (Gate::default(), Instant::now());
        let held: Vec<Admitted> = (0..GLOBAL)
            .map(|_| gate.admit(PeerId::random(), now).unwrap())
            .collect();

        assert_eq!(
            gate.admit(PeerId::random(), now).unwrap_err(),
            Refused::Global
        );
        drop(held);
    }
}

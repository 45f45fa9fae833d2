//! The servers' wall clock in unix milliseconds, with a hook that lets tests move time forward:
//! grace periods, comp ends and lapses are tested by advancing a [`Clock`], never by waiting.
//!
//! ```
//! use std::time::Duration;
//! use shared::clock::Clock;
//!
//! let clock = Clock::system();
//! let before = clock.now_ms();
//! clock.advance(Duration::from_secs(86_400));
//! assert!(clock.now_ms() >= before + 86_400_000);
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// The system clock plus an offset that only moves forward. Clones share the offset, so a test
/// that keeps a clone of the clock it gave a server moves that server's time.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// The system clock (offset zero).
    pub fn system() -> Self {
        Self::default()
    }

    /// Now, in unix milliseconds (0 before 1970, saturating far in the future).
    pub fn now_ms(&self) -> i64 {
        unix_ms().saturating_add(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Now, in whole unix seconds.
    pub fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// Moves this clock (and every clone of it) forward by `by`.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX / 2);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

/// The system clock in unix milliseconds, without any test offset (0 before 1970, saturating far
/// in the future): for what tests never move, such as timestamps in logs and presence.
pub fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_an_advance() {
        let clock = Clock::system();
        let clone = clock.clone();
        let before = clone.now_ms();

        clock.advance(Duration::from_secs(3600));

        assert!(clone.now_ms() - before >= 3_600_000);
        assert!(Clock::system().now_ms() < clone.now_ms() - 3_000_000);
    }
}

//! Token buckets (hub.md §13.2, feature `server`): `burst` tokens, one more every `refill`. Keyed limiters hold a
//! bounded number of buckets; full buckets carry no information and are dropped first.

#[cfg(test)]
mod proptests;

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::config::LoadConfigError;
use crate::config::secs::MAX_SECS;

/// Buckets per keyed limiter before full ones are pruned.
const MAX_KEYS: usize = 100_000;

/// A token bucket: `burst` tokens, one more every `refill_secs` (hub.md §13.2).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Bucket size.
    pub burst: u32,
    /// Seconds per token.
    pub refill_secs: f64,
}

impl RateLimit {
    /// `burst` tokens, one more every `refill_secs`.
    pub const fn new(burst: u32, refill_secs: f64) -> Self {
        Self { burst, refill_secs }
    }

    /// The refill period of one token.
    pub fn refill(&self) -> Duration {
        Duration::from_secs_f64(self.refill_secs)
    }

    /// Checks `burst ≥ 1` and `0 < refill_secs ≤` [`MAX_SECS`]: a longer refill would overflow
    /// the `Retry-After` duration of a refusal.
    ///
    /// # Errors
    /// [`LoadConfigError::Rule`] naming `key`.
    pub fn validate(&self, key: &str) -> Result<(), LoadConfigError> {
        let max = MAX_SECS as f64;
        if self.burst == 0 || !(self.refill_secs > 0.0 && self.refill_secs <= max) {
            return Err(LoadConfigError::rule(
                key,
                format!("burst ≥ 1 and 0 < refill_secs ≤ {MAX_SECS}"),
            ));
        }
        Ok(())
    }
}

/// A refusal: the bucket is empty until `retry_after` has passed (answered as 429 with
/// `Retry-After`).
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("rate limited; a token is back in {retry_after:?}")]
pub struct RateLimited {
    /// How long until a token is there.
    pub retry_after: Duration,
}

/// One bucket.
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    /// A bucket holding `burst` tokens.
    pub fn full(limit: RateLimit, now: Instant) -> Self {
        Self {
            tokens: f64::from(limit.burst),
            updated: now,
        }
    }

    fn refill(&mut self, limit: RateLimit, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed / limit.refill_secs).min(f64::from(limit.burst));
        self.updated = now;
    }

    /// Takes one token, or tells how long until one is there.
    pub fn take(&mut self, limit: RateLimit, now: Instant) -> Result<(), RateLimited> {
        self.refill(limit, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(RateLimited {
                retry_after: Duration::from_secs_f64((1.0 - self.tokens) * limit.refill_secs),
            })
        }
    }

    /// How long until a token is there, without taking one; `None` when one is there now.
    fn wait(&self, limit: RateLimit, now: Instant) -> Option<Duration> {
        let mut copy = *self;
        copy.refill(limit, now);
        (copy.tokens < 1.0)
            .then(|| Duration::from_secs_f64((1.0 - copy.tokens) * limit.refill_secs))
    }

    fn is_full(&self, limit: RateLimit, now: Instant) -> bool {
        let mut copy = *self;
        copy.refill(limit, now);
        copy.tokens >= f64::from(limit.burst)
    }
}

/// Buckets per key (client IP, PeerId).
#[derive(Debug)]
pub struct RateLimiter<K> {
    limit: RateLimit,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq> RateLimiter<K> {
    /// No buckets yet; each key starts full.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `key`; [`RateLimited`] when its bucket is empty.
    pub fn check(&self, key: K, now: Instant) -> Result<(), RateLimited> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_KEYS && !buckets.contains_key(&key) {
            let limit = self.limit;
            buckets.retain(|_, bucket| !bucket.is_full(limit, now));
        }
        buckets
            .entry(key)
            .or_insert_with(|| Bucket::full(self.limit, now))
            .take(self.limit, now)
    }
}

impl<K: Hash + Eq> RateLimiter<K> {
    /// Whether `key`'s bucket is empty, without taking a token: `Some(retry_after)` when it is.
    /// For limits on failures, checked before the attempt and charged only when it fails.
    pub fn exhausted(&self, key: &K, now: Instant) -> Option<Duration> {
        let buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        buckets.get(key)?.wait(self.limit, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: RateLimit = RateLimit {
        burst: 3,
        refill_secs: 2.0,
    };

    #[test]
    fn burst_is_spent_then_refused_with_retry_after() {
        let limiter = RateLimiter::new(LIMIT);
        let now = Instant::now();

        let results: Vec<_> = (0..4).map(|_| limiter.check("ip", now)).collect();

        assert!(results[..3].iter().all(Result::is_ok));
        assert_eq!(
            results[3],
            Err(RateLimited {
                retry_after: Duration::from_secs(2)
            })
        );
    }

    #[test]
    fn one_token_returns_after_refill_period() {
        let limiter = RateLimiter::new(LIMIT);
        let now = Instant::now();
        for _ in 0..3 {
            limiter.check("ip", now).unwrap();
        }

        assert!(limiter.check("ip", now + Duration::from_secs(2)).is_ok());
        assert!(limiter.check("ip", now + Duration::from_secs(2)).is_err());
    }

    #[test]
    fn exhausted_reports_an_empty_bucket_without_taking_a_token() {
        let limiter = RateLimiter::new(LIMIT);
        let now = Instant::now();

        assert_eq!(limiter.exhausted(&"ip", now), None);
        for _ in 0..3 {
            limiter.check("ip", now).unwrap();
        }

        assert_eq!(limiter.exhausted(&"ip", now), Some(Duration::from_secs(2)));
        assert_eq!(limiter.exhausted(&"ip", now + Duration::from_secs(2)), None);
        assert!(limiter.check("ip", now + Duration::from_secs(2)).is_ok());
    }

    #[test]
    fn keys_have_separate_buckets() {
        let limiter = RateLimiter::new(RateLimit {
            burst: 1,
            refill_secs: 60.0,
        });
        let now = Instant::now();

        assert!(limiter.check("a", now).is_ok());
        assert!(limiter.check("b", now).is_ok());
        assert!(limiter.check("a", now).is_err());
    }
}

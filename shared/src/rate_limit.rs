//! Token buckets (hub.md §13.2, feature `server`): `burst` tokens, one more every `refill`. Keyed limiters hold a
//! bounded number of buckets and evict by age: a bucket that has refilled completely carries no information and
//! is dropped by a sweep every refill-to-full period; a full map drops its least recently used tenth. Client
//! addresses are keyed by [`ip_key`] (IPv6 by /64).

mod keyed_count;
#[cfg(test)]
mod proptests;

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::config::LoadConfigError;
use crate::config::secs::MAX_SECS;

pub use keyed_count::KeyedCount;

/// Buckets per keyed limiter.
const MAX_KEYS: usize = 100_000;

/// The key a client address is counted under (hub.md §13.2): an IPv4 address as is (also when
/// written IPv4-mapped), an IPv6 address by its /64, the smallest block one subscriber gets.
pub fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
    }
}

/// A key a [`RateLimiter`] holds buckets for; client addresses are counted by [`ip_key`].
pub trait BucketKey: Hash + Eq + Clone {
    /// The key this one is counted under.
    #[must_use]
    fn bucket_key(self) -> Self {
        self
    }
}

impl BucketKey for IpAddr {
    fn bucket_key(self) -> Self {
        ip_key(self)
    }
}
impl BucketKey for String {}
impl BucketKey for &str {}
impl BucketKey for u64 {}
impl BucketKey for libp2p::PeerId {}
impl BucketKey for crate::ids::Ed25519PeerId {}

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

/// Buckets per key (client IP, PeerId), at most a fixed number, evicted by age.
#[derive(Debug)]
pub struct RateLimiter<K> {
    limit: RateLimit,
    capacity: usize,
    state: Mutex<Buckets<K>>,
}

#[derive(Debug)]
struct Buckets<K> {
    map: HashMap<K, Bucket>,
    swept: Option<Instant>,
}

impl<K: BucketKey> RateLimiter<K> {
    /// No buckets yet; each key starts full; at most 100,000 buckets.
    pub fn new(limit: RateLimit) -> Self {
        Self::with_capacity(limit, MAX_KEYS)
    }

    /// Like [`Self::new`] with at most `capacity` buckets (≥ 1).
    pub fn with_capacity(limit: RateLimit, capacity: usize) -> Self {
        Self {
            limit,
            capacity: capacity.max(1),
            state: Mutex::new(Buckets {
                map: HashMap::new(),
                swept: None,
            }),
        }
    }

    /// Takes a token for `key`; [`RateLimited`] when its bucket is empty.
    pub fn check(&self, key: K, now: Instant) -> Result<(), RateLimited> {
        let key = key.bucket_key();
        let mut state = self.lock();
        self.sweep(&mut state, now);
        if state.map.len() >= self.capacity && !state.map.contains_key(&key) {
            self.make_room(&mut state.map, now);
        }
        state
            .map
            .entry(key)
            .or_insert_with(|| Bucket::full(self.limit, now))
            .take(self.limit, now)
    }

    /// Whether `key`'s bucket is empty, without taking a token: `Some(retry_after)` when it is.
    /// For limits on failures, checked before the attempt and charged only when it fails.
    pub fn exhausted(&self, key: &K, now: Instant) -> Option<Duration> {
        let key = key.clone().bucket_key();
        self.lock().map.get(&key)?.wait(self.limit, now)
    }

    /// The number of buckets held.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether no bucket is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Buckets<K>> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Drops the buckets that have refilled completely, once per refill-to-full period.
    fn sweep(&self, state: &mut Buckets<K>, now: Instant) {
        let period = self.limit.refill().saturating_mul(self.limit.burst);
        let due = state
            .swept
            .is_none_or(|at| now.saturating_duration_since(at) >= period);
        if due {
            let limit = self.limit;
            state.map.retain(|_, bucket| !bucket.is_full(limit, now));
            state.swept = Some(now);
        }
    }

    /// Drops full buckets and, if that is not enough, the least recently used tenth.
    fn make_room(&self, map: &mut HashMap<K, Bucket>, now: Instant) {
        let limit = self.limit;
        map.retain(|_, bucket| !bucket.is_full(limit, now));
        if map.len() < self.capacity {
            return;
        }
        let mut ages: Vec<Instant> = map.values().map(|bucket| bucket.updated).collect();
        let cut = (ages.len() / 10).max(1) - 1;
        let (_, threshold, _) = ages.select_nth_unstable(cut);
        let threshold = *threshold;
        map.retain(|_, bucket| bucket.updated > threshold);
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

    #[test]
    fn ipv6_addresses_of_one_64_share_a_bucket_and_mapped_ipv4_is_ipv4() {
        let limiter = RateLimiter::new(RateLimit::new(1, 60.0));
        let now = Instant::now();
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();

        assert!(limiter.check(a, now).is_ok());
        assert!(limiter.check(b, now).is_err());
        assert!(limiter.check(other, now).is_ok());
        assert_eq!(
            ip_key("::ffff:192.0.2.7".parse().unwrap()),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn map_stays_bounded_when_fresh_keys_keep_coming() {
        let limiter = RateLimiter::with_capacity(RateLimit::new(1, 60.0), 100);
        let now = Instant::now();
        let at = |key: u64| now + Duration::from_millis(key);

        for key in 0..1_000u64 {
            limiter.check(key, at(key)).unwrap();
        }

        assert!(limiter.len() <= 100, "{} buckets", limiter.len());
        assert!(
            limiter.check(999, at(1_000)).is_err(),
            "recent keys are kept"
        );
    }

    #[test]
    fn idle_buckets_are_evicted_by_age_before_the_map_is_full() {
        let limiter = RateLimiter::with_capacity(RateLimit::new(2, 1.0), 100);
        let now = Instant::now();
        for key in 0..10u64 {
            limiter.check(key, now).unwrap();
        }
        assert_eq!(limiter.len(), 10);

        limiter.check(100, now + Duration::from_secs(3)).unwrap();

        assert_eq!(limiter.len(), 1);
    }
}

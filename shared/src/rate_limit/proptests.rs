//! Property tests of token buckets (hub.md §13.2): any `{burst, refill_secs}` either is refused at
//! load or runs without a panic for any sequence of requests, however far apart, and a refusal
//! never asks to wait longer than one refill.

use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::{RateLimit, RateLimiter};
use crate::config::secs::MAX_SECS;

fn any_refill() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        0.0f64..=1.0,
        Just(f64::MIN_POSITIVE),
        Just(5e-324),
        Just(f64::INFINITY),
        Just(f64::NAN),
        Just(1e30),
        Just(MAX_SECS as f64),
        Just(MAX_SECS as f64 + 1.0),
    ]
}

proptest! {
    #[test]
    fn accepted_limits_never_panic_and_refusals_wait_at_most_one_refill(
        burst in prop_oneof![1u32..5, 1u32..],
        refill_secs in prop_oneof![Just(5e-324), Just(f64::MIN_POSITIVE), 0.001f64..10.0, 1.0..=MAX_SECS as f64],
        steps in proptest::collection::vec(prop_oneof![Just(0u64), 0u64..5_000, 0u64..=MAX_SECS * 1000], 1..40),
    ) {
        let limit = RateLimit::new(burst, refill_secs);
        prop_assert!(limit.validate("rate_limits.test").is_ok());
        let limiter = RateLimiter::new(limit);
        let start = Instant::now();
        let mut at = Duration::ZERO;

        for step in steps {
            at = (at + Duration::from_millis(step)).min(Duration::from_secs(MAX_SECS));
            let now = start + at;
            if let Err(refused) = limiter.check("ip", now) {
                prop_assert!(refused.retry_after <= limit.refill());
                prop_assert!(limiter.exhausted(&"ip", now).is_some());
            }
        }
    }

    #[test]
    fn limits_outside_the_rules_are_refused(
        burst in any::<u32>(),
        refill_secs in any_refill(),
    ) {
        let valid = burst >= 1 && refill_secs > 0.0 && refill_secs <= MAX_SECS as f64;

        prop_assert_eq!(RateLimit::new(burst, refill_secs).validate("rate_limits.test").is_ok(), valid);
    }
}

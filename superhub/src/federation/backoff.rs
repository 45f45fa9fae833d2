//! The pull loop's timing (superhub.md §7.2 rules 1, 5, 6): the interval with ± 10 % jitter, the
//! failure backoff clamp(baseⁿ s, min, cap) and when a peer counts as dead.

use std::time::Duration;

use crate::config::FederationConfig;

/// The delay before the next attempt after `failures` consecutive failures (n ≥ 1).
pub fn failure_delay(config: &FederationConfig, failures: u32) -> Duration {
    let exponent = i32::try_from(failures).unwrap_or(i32::MAX);
    let secs = config.backoff_base.powi(exponent);
    let cap = config.backoff_cap.as_secs_f64();
    let clamped = if secs.is_finite() { secs.min(cap) } else { cap };
    Duration::from_secs_f64(clamped).clamp(config.backoff_min, config.backoff_cap)
}

/// The delay before the next regular pull: `pull_interval` ± 10 %, `unit` ∈ [0, 1) picking where.
pub fn interval_delay(config: &FederationConfig, unit: f64) -> Duration {
    let factor = 0.9 + 0.2 * unit.clamp(0.0, 1.0);
    config.pull_interval.mul_f64(factor)
}

/// Whether a peer without a success since `since_ms` is `dead` at `now_ms`.
pub fn is_dead(config: &FederationConfig, since_ms: i64, now_ms: i64) -> bool {
    let dead_after = i64::try_from(config.dead_after.as_millis()).unwrap_or(i64::MAX);
    now_ms.saturating_sub(since_ms) >= dead_after
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(min: u64, cap: u64) -> FederationConfig {
        FederationConfig {
            backoff_min: Duration::from_secs(min),
            backoff_cap: Duration::from_secs(cap),
            ..FederationConfig::default()
        }
    }

    #[test]
    fn failure_delay_grows_by_the_base_between_the_clamps() {
        let config = config(1, 100);

        assert_eq!(failure_delay(&config, 1), Duration::from_millis(1250));
        assert_eq!(failure_delay(&config, 2), Duration::from_secs_f64(1.5625));
        assert_eq!(failure_delay(&config, 30), Duration::from_secs(100));
        assert_eq!(failure_delay(&config, u32::MAX), Duration::from_secs(100));
    }

    #[test]
    fn failure_delay_waits_at_least_the_minimum_with_the_defaults() {
        let config = FederationConfig::default();

        assert_eq!(failure_delay(&config, 1), Duration::from_secs(30));
        assert_eq!(
            failure_delay(&config, 16),
            Duration::from_secs_f64(1.25f64.powi(16))
        );
    }

    #[test]
    fn interval_delay_stays_within_ten_percent() {
        let config = FederationConfig::default();

        assert_eq!(interval_delay(&config, 0.0), Duration::from_secs(27));
        assert_eq!(interval_delay(&config, 1.0), Duration::from_secs(33));
    }
}

//! Property tests of config values through the real layers (superhub.md §13): any text in a
//! duration, size or rate-limit key is answered without a panic, and a value over its limit is
//! refused at load naming the key instead of overflowing a clock, a semaphore or a channel later.

use std::time::Duration;

use proptest::prelude::*;
use shared::config::secs::MAX_SECS;
use shared::config::{Overrides, Sources};
use shared::rate_limit::RateLimit;

use super::{Config, LoadConfigError};

/// Every `*_secs` key, as its environment variable.
const DURATIONS: [&str; 14] = [
    "SUPERHUB_DIRECTORY__RECORD_MAX_LIFETIME_SECS",
    "SUPERHUB_DIRECTORY__MAX_FUTURE_SKEW_SECS",
    "SUPERHUB_DIRECTORY__SWEEP_INTERVAL_SECS",
    "SUPERHUB_PROBE__INTERVAL_SECS",
    "SUPERHUB_PROBE__JITTER_SECS",
    "SUPERHUB_PROBE__RETRY_MAX_SECS",
    "SUPERHUB_PROBE__CONNECT_TIMEOUT_SECS",
    "SUPERHUB_PROBE__HTTP_TIMEOUT_SECS",
    "SUPERHUB_PROBE__P2P_TIMEOUT_SECS",
    "SUPERHUB_FEDERATION__PULL_INTERVAL_SECS",
    "SUPERHUB_FEDERATION__REQUEST_TIMEOUT_SECS",
    "SUPERHUB_FEDERATION__BACKOFF_MIN_SECS",
    "SUPERHUB_FEDERATION__BACKOFF_CAP_SECS",
    "SUPERHUB_FEDERATION__DEAD_AFTER_SECS",
];

/// Sizes that become a semaphore or a channel capacity, with their largest accepted value.
const SIZES: [(&str, u64); 2] = [
    ("SUPERHUB_HTTP__MAX_CONNECTIONS", 1_000_000),
    ("SUPERHUB_PROBE__CONCURRENCY", 1024),
];

/// Every `rate_limits.<name>` (superhub.md §10).
const RATE_LIMITS: [&str; 7] = [
    "register_ip",
    "register_hub",
    "feed_ip",
    "search_ip",
    "attest_hub",
    "admin_fail_ip",
    "general_ip",
];

fn load(var: &str, value: &str) -> Result<Config, LoadConfigError> {
    let dir = tempfile::tempdir().expect("a temp dir");
    let env = vec![
        (var.to_owned(), value.to_owned()),
        (
            "SUPERHUB_SUPERHUB__DATA_DIR".to_owned(),
            dir.path().display().to_string(),
        ),
    ];
    Config::load(&Sources { file: None, env }, &Overrides::default())
}

/// The `section.key` a variable names, as load errors spell it.
fn key_of(var: &str) -> String {
    var.trim_start_matches("SUPERHUB_")
        .replacen("__", ".", 1)
        .to_ascii_lowercase()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_duration_text_is_answered_and_accepted_durations_are_bounded(
        var in prop::sample::select(DURATIONS.to_vec()),
        value in prop_oneof![any::<u64>().prop_map(|n| n.to_string()), "(?s).{0,40}"],
    ) {
        if let Ok(config) = load(var, &value) {
            let doc = serde_json::to_value(&config).expect("config serializes");
            let key = key_of(var);
            let (section, key) = key.split_once('.').expect("section.key");
            prop_assert!(doc[section][key].as_u64().expect("whole seconds") <= MAX_SECS);
        }
    }

    #[test]
    fn duration_over_ten_years_is_refused_naming_its_key(
        var in prop::sample::select(DURATIONS.to_vec()),
        secs in MAX_SECS + 1..=u64::MAX,
    ) {
        let refusal = load(var, &secs.to_string()).unwrap_err().to_string();

        let key = key_of(var);
        prop_assert!(refusal.contains(key.split_once('.').expect("section.key").1), "{}", refusal);
    }

    #[test]
    fn size_over_its_limit_is_refused_naming_its_key(
        (var, max) in prop::sample::select(SIZES.to_vec()),
        over in 1u64..,
    ) {
        let refusal = load(var, &max.saturating_add(over).to_string()).unwrap_err().to_string();

        prop_assert!(refusal.contains(&key_of(var)), "{}", refusal);
        prop_assert!(load(var, &max.to_string()).is_ok());
    }

    #[test]
    fn any_rate_limit_is_refused_or_usable(
        name in prop::sample::select(RATE_LIMITS.to_vec()),
        burst in prop_oneof![any::<i64>(), 0i64..3],
        refill in prop_oneof![any::<f64>(), 0.0f64..2.0, Just(1e30), Just(-1.0), Just(MAX_SECS as f64 * 2.0)],
    ) {
        let value = format!("{{ burst = {burst}, refill_secs = {refill:?} }}");

        match load(&format!("SUPERHUB_RATE_LIMITS__{}", name.to_ascii_uppercase()), &value) {
            Ok(config) => {
                let doc = serde_json::to_value(&config.rate_limits).expect("limits serialize");
                let limit: RateLimit = serde_json::from_value(doc[name].clone()).expect("a limit");
                prop_assert!(limit.burst >= 1 && limit.refill_secs > 0.0, "{}: {:?}", name, limit);
                prop_assert!(limit.refill() <= Duration::from_secs(MAX_SECS));
            }
            Err(refusal) => prop_assert!(refusal.to_string().contains(name), "{}", refusal),
        }
    }
}

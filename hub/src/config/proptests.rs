//! Property tests of config values through the real layers (hub.md §16): any text in a duration,
//! size or rate-limit key is answered without a panic, and a value over its limit is refused at
//! load naming the key instead of overflowing a clock, a semaphore or a channel later.

use std::time::Duration;

use proptest::prelude::*;
use shared::config::secs::MAX_SECS;
use shared::config::{Overrides, Sources};

use super::{Config, LoadConfigError, RateLimit};

/// Every `*_secs` key, as its environment variable.
const DURATIONS: [&str; 22] = [
    "HUB_P2P__IDLE_TIMEOUT_SECS",
    "HUB_RELAY__RESERVATION_TTL_SECS",
    "HUB_RELAY__CIRCUIT_MAX_DURATION_SECS",
    "HUB_PRESENCE__SIGNATURE_WINDOW_SECS",
    "HUB_PRESENCE__PEER_TTL_SECS",
    "HUB_PRESENCE__LEGACY_REFRESH_SECS",
    "HUB_PRESENCE__SWEEP_INTERVAL_SECS",
    "HUB_PRESENCE__WS_PING_SECS",
    "HUB_PRESENCE__WS_READ_TIMEOUT_SECS",
    "HUB_PRESENCE__WS_AUTH_TIMEOUT_SECS",
    "HUB_PRESENCE__SSE_KEEPALIVE_SECS",
    "HUB_PRESENCE__PUNCH_COOLDOWN_SECS",
    "HUB_MEMBERSHIP__SWEEP_INTERVAL_SECS",
    "HUB_MEMBERSHIP__BIND_CODE_TTL_SECS",
    "HUB_VOUCHERS__TTL_SECS",
    "HUB_EMAIL__TOKEN_TTL_SECS",
    "HUB_EMAIL__RETRY_BASE_SECS",
    "HUB_BILLING__RECONCILE_INTERVAL_SECS",
    "HUB_BILLING__RECONCILE_LOOKBACK_SECS",
    "HUB_SUPERHUBS__ANNOUNCE_INTERVAL_SECS",
    "HUB_SUPERHUBS__RETRY_BASE_SECS",
    "HUB_DATABASE__CONNECT_TIMEOUT_SECS",
];

/// Sizes that become a semaphore or a channel capacity, with their largest accepted value.
const SIZES: [(&str, u64); 3] = [
    ("HUB_HTTP__MAX_CONNECTIONS", 1_000_000),
    ("HUB_PRESENCE__WS_QUEUE", 65_536),
    ("HUB_PRESENCE__SSE_QUEUE", 65_536),
];

/// Every `rate_limits.<name>` (hub.md §13.2).
const RATE_LIMITS: [&str; 15] = [
    "publish_ip",
    "publish_peer",
    "ws_frames",
    "relay_reserve_peer",
    "relay_reserve_ip",
    "relay_circuit_peer",
    "relay_circuit_ip",
    "email_ip",
    "email_addr",
    "verify_ip",
    "bind_ip",
    "voucher_peer",
    "admin_fail_ip",
    "billing_account",
    "general_ip",
];

fn load(var: &str, value: &str) -> Result<Config, LoadConfigError> {
    let dir = tempfile::tempdir().expect("a temp dir");
    let env = vec![
        (var.to_owned(), value.to_owned()),
        (
            "HUB_HUB__DATA_DIR".to_owned(),
            dir.path().display().to_string(),
        ),
    ];
    Config::load(&Sources { file: None, env }, &Overrides::default())
}

/// The `section.key` a variable names, as load errors spell it.
fn key_of(var: &str) -> String {
    var.trim_start_matches("HUB_")
        .replacen("__", ".", 1)
        .to_ascii_lowercase()
}

fn number_or_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        "[0-9]{1,40}",
        "(?s).{0,40}",
        Just("1e400".to_owned()),
        Just("-0".to_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn any_duration_text_is_answered_and_accepted_durations_are_bounded(
        var in prop::sample::select(DURATIONS.to_vec()),
        value in number_or_text(),
    ) {
        if let Ok(config) = load(var, &value) {
            let doc = serde_json::to_value(&config).expect("config serializes");
            let (section, key) = key_of(var).split_once('.').map(|(s, k)| (s.to_owned(), k.to_owned())).expect("section.key");
            let secs = doc[section.as_str()][key.as_str()].as_u64().expect("whole seconds");
            prop_assert!(secs <= MAX_SECS);
        }
    }

    #[test]
    fn duration_over_ten_years_is_refused_naming_its_key(
        var in prop::sample::select(DURATIONS.to_vec()),
        secs in MAX_SECS + 1..=u64::MAX,
    ) {
        let refusal = load(var, &secs.to_string()).unwrap_err().to_string();

        prop_assert!(refusal.contains(&key_of(var)) || refusal.contains(&key_of(var).replace('.', "_")), "{}", refusal);
    }

    #[test]
    fn size_over_its_limit_is_refused_naming_its_key(
        (var, max) in prop::sample::select(SIZES.to_vec()),
        over in 1u64..,
    ) {
        let value = max.saturating_add(over);

        let refusal = load(var, &value.to_string()).unwrap_err().to_string();

        prop_assert!(refusal.contains(&key_of(var)), "{}", refusal);
        prop_assert!(load(var, &max.to_string()).is_ok());
    }

    #[test]
    fn any_rate_limit_is_refused_or_usable(
        name in prop::sample::select(RATE_LIMITS.to_vec()),
        burst in prop_oneof![any::<i64>(), 0i64..3, Just(i64::from(u32::MAX) + 1)],
        refill in prop_oneof![
            any::<f64>(), 0.0f64..2.0, Just(1e30), Just(f64::INFINITY), Just(-1.0),
            Just(MAX_SECS as f64), Just(MAX_SECS as f64 * 2.0),
        ],
    ) {
        let value = format!("{{ burst = {burst}, refill_secs = {refill:?} }}");

        match load(&format!("HUB_RATE_LIMITS__{}", name.to_ascii_uppercase()), &value) {
            Ok(config) => {
                let doc = serde_json::to_value(&config.rate_limits).expect("limits serialize");
                let limit: RateLimit = serde_json::from_value(doc[name].clone()).expect("a limit");
                prop_assert!(limit.burst >= 1, "{}: {:?}", name, limit);
                prop_assert!(limit.refill_secs > 0.0, "{}: {:?}", name, limit);
                prop_assert!(limit.refill() <= Duration::from_secs(MAX_SECS));
            }
            Err(refusal) => prop_assert!(refusal.to_string().contains(name), "{}", refusal),
        }
    }
}

// What the properties above found, pinned: these values used to load and then panic at run time.

#[test]
fn publish_and_ws_frame_limits_are_refused_when_refill_is_zero_or_negative() {
    for name in ["PUBLISH_IP", "PUBLISH_PEER", "WS_FRAMES"] {
        for value in [
            "{ burst = 1, refill_secs = 0.0 }",
            "{ burst = 1, refill_secs = -1.0 }",
            "{ burst = 0, refill_secs = 1.0 }",
        ] {
            let refusal = load(&format!("HUB_RATE_LIMITS__{name}"), value).unwrap_err();

            assert!(
                refusal.to_string().contains(&name.to_ascii_lowercase()),
                "{refusal}"
            );
        }
    }
}

#[test]
fn sweep_interval_of_u64_max_is_refused_instead_of_overflowing_the_timer() {
    let refusal = load("HUB_PRESENCE__SWEEP_INTERVAL_SECS", &u64::MAX.to_string()).unwrap_err();

    assert!(
        refusal.to_string().contains("sweep_interval_secs"),
        "{refusal}"
    );
}

#[test]
fn max_connections_beyond_what_a_semaphore_holds_is_refused() {
    let refusal = load("HUB_HTTP__MAX_CONNECTIONS", &u64::MAX.to_string()).unwrap_err();

    assert!(
        refusal.to_string().contains("http.max_connections"),
        "{refusal}"
    );
}

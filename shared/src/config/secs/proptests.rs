//! Property tests of `*_secs` values through the real layers (environment and TOML): any text is
//! answered without a panic, every value up to [`MAX_SECS`] loads as itself, and larger or
//! negative values are refused naming the key.

use std::time::Duration;

use proptest::prelude::*;
use serde::{Deserialize, Serialize};

use super::MAX_SECS;
use crate::config::{LoadConfigError, Sources, extract, layered};

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Sample {
    s: Section,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Section {
    #[serde(rename = "ttl_secs", with = "super")]
    ttl: Duration,
}

fn from_env(value: &str) -> Result<Duration, LoadConfigError> {
    let sources = Sources {
        file: None,
        env: vec![("T_S__TTL_SECS".to_owned(), value.to_owned())],
    };
    extract::<Sample>(&layered::<Sample>("T_", &sources)?).map(|c| c.s.ttl)
}

fn from_toml(value: i64) -> Result<Duration, LoadConfigError> {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("t.toml");
    std::fs::write(&path, format!("[s]\nttl_secs = {value}\n")).expect("written");
    let sources = Sources {
        file: Some(path),
        env: Vec::new(),
    };
    extract::<Sample>(&layered::<Sample>("T_", &sources)?).map(|c| c.s.ttl)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_env_text_is_answered_and_accepted_values_are_bounded(text in crate::hostile::text()) {
        if let Ok(ttl) = from_env(&text) {
            prop_assert!(ttl.as_secs() <= MAX_SECS);
        }
    }

    #[test]
    fn every_value_up_to_the_limit_loads_as_itself(secs in 0..=MAX_SECS) {
        prop_assert_eq!(from_env(&secs.to_string()).unwrap(), Duration::from_secs(secs));
        prop_assert_eq!(from_toml(secs as i64).unwrap(), Duration::from_secs(secs));
    }

    #[test]
    fn values_over_the_limit_are_refused_naming_the_key(secs in MAX_SECS + 1..=u64::MAX) {
        let refusal = from_env(&secs.to_string()).unwrap_err().to_string();

        prop_assert!(refusal.contains("ttl_secs"), "{}", refusal);
        prop_assert!(from_toml(i64::try_from(secs).unwrap_or(i64::MAX)).is_err());
    }

    #[test]
    fn negative_and_fractional_values_are_refused(secs in i64::MIN..0, frac in "[0-9]{1,3}\\.[0-9]{1,3}") {
        prop_assert!(from_toml(secs).is_err());
        prop_assert!(from_env(&secs.to_string()).is_err());
        prop_assert!(from_env(&frac).is_err());
    }
}

//! Durations held as whole seconds: the keys stay `*_secs` in TOML and environment variables (the
//! contract of hub.md §16, superhub.md §13, peer.md §1.3) while the typed config exposes
//! [`Duration`], converted once at load. Use with
//! `#[serde(rename = "…_secs", with = "shared::config::secs")]`.

#[cfg(test)]
mod proptests;

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// The longest duration any key takes: ten years. Larger values are refused at load, because
/// adding them to a clock reading overflows (`Instant + Duration` panics; milliseconds wrap).
pub const MAX_SECS: u64 = 10 * 365 * 86_400;

/// Writes a duration as its whole seconds.
pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(value.as_secs())
}

/// Reads whole seconds (an integer from 0 to [`MAX_SECS`]) as a duration.
///
/// # Errors
/// A negative, fractional or non-numeric value, or one above [`MAX_SECS`].
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let secs = u64::deserialize(deserializer)?;
    if secs > MAX_SECS {
        return Err(serde::de::Error::custom(format!(
            "at most {MAX_SECS} seconds (10 years), found {secs}"
        )));
    }
    Ok(Duration::from_secs(secs))
}

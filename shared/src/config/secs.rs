//! Durations held as whole seconds: the keys stay `*_secs` in TOML and environment variables (the
//! contract of hub.md §16, superhub.md §13, peer.md §1.3) while the typed config exposes
//! [`Duration`], converted once at load. Use with
//! `#[serde(rename = "…_secs", with = "shared::config::secs")]`.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Writes a duration as its whole seconds.
pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(value.as_secs())
}

/// Reads whole seconds (a non-negative integer) as a duration.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    u64::deserialize(deserializer).map(Duration::from_secs)
}

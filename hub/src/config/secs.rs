//! Durations held as whole seconds: the keys stay `*_secs` in TOML and `HUB_*` variables (the
//! wire contract, hub.md §16) while the typed config exposes [`Duration`], converted once at load.
//! Use with `#[serde(rename = "…_secs", with = "secs")]`.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Writes a duration as its whole seconds.
pub(crate) fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(value.as_secs())
}

/// Reads whole seconds (a non-negative integer) as a duration.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Duration, D::Error> {
    u64::deserialize(deserializer).map(Duration::from_secs)
}

//! Serde helpers for durations written as `10s`, `500ms` or `1h 30m`, in the
//! syntax of `humantime::parse_duration`.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Deserializes a required duration.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse(&text).map_err(serde::de::Error::custom)
}

/// Deserializes an optional duration, for fields that also carry
/// `#[serde(default)]`.
pub(crate) fn deserialize_option<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    deserialize(deserializer).map(Some)
}

fn parse(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|error| {
        format!("invalid duration `{text}`: {error}; write a number and a unit, such as `10s`, `500ms` or `2m`")
    })
}

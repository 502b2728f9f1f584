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

/// Maximum duration accepted, so that deadlines and backoff waits computed
/// from a duration stay far from the limits of `Duration` and `Instant`.
const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

fn parse(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text.trim()).map_err(|error| {
        format!("invalid duration `{text}`: {error}; write a number and a unit, such as `10s`, `500ms` or `2m`")
    })?;
    if duration > MAX_DURATION {
        return Err(format!("invalid duration `{text}`: it must be at most 100 years"));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_units() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse("1h 30m"), Ok(Duration::from_secs(5400)));
    }

    #[test]
    fn parse_rejects_over_100_years() {
        let error = parse("101y").unwrap_err();
        assert!(error.contains("at most 100 years"), "{error}");
    }

    #[test]
    fn parse_rejects_missing_unit() {
        let error = parse("10").unwrap_err();
        assert!(error.contains("invalid duration `10`"), "{error}");
    }
}

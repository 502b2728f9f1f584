//! Human-readable sizes, durations and fuel amounts as the manifest writes them.

use std::time::Duration;

use bytesize::ByteSize;

/// The smallest memory limit: one WebAssembly page.
pub(crate) const MIN_MEMORY_BYTES: u64 = 64 * 1024;

/// The largest memory limit: the whole 32-bit address space.
pub(crate) const MAX_MEMORY_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// Parses a memory size such as `64MiB`, `512 KiB` or a plain byte count.
pub(crate) fn parse_memory(value: &toml::Value) -> Result<u64, String> {
    let bytes = match value {
        toml::Value::Integer(bytes) => {
            u64::try_from(*bytes).map_err(|_| format!("invalid memory size {bytes}: it is negative"))?
        }
        toml::Value::String(text) => {
            text.trim().parse::<ByteSize>().map_err(|_| format!("invalid memory size `{text}`"))?.as_u64()
        }
        other => return Err(format!("invalid memory size {other}: expected a string such as \"64MiB\"")),
    };
    if bytes < MIN_MEMORY_BYTES {
        return Err(format!("memory size {} is below the minimum of 64 KiB", display_bytes(bytes)));
    }
    if bytes > MAX_MEMORY_BYTES {
        return Err(format!("memory size {} is above the maximum of 4 GiB", display_bytes(bytes)));
    }
    Ok(bytes)
}

/// Parses a fuel amount: a positive integer, or `"unlimited"` for `None`.
pub(crate) fn parse_fuel(value: &toml::Value) -> Result<Option<u64>, String> {
    match value {
        toml::Value::Integer(units) if *units > 0 => Ok(Some(*units as u64)),
        toml::Value::Integer(units) => Err(format!("invalid fuel {units}: it must be positive")),
        toml::Value::String(text) if text == "unlimited" => Ok(None),
        other => Err(format!("invalid fuel {other}: expected a positive integer or \"unlimited\"")),
    }
}

/// The maximum duration a manifest may set, so that deadlines computed from
/// it never overflow.
const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Parses a duration such as `30s`, `15m`, `12h` or `7d`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text.trim()).map_err(|_| format!("invalid duration `{text}`"))?;
    if duration.is_zero() {
        return Err(format!("invalid duration `{text}`: it must be longer than zero"));
    }
    if duration > MAX_DURATION {
        return Err(format!("invalid duration `{text}`: it must be at most 100 years"));
    }
    Ok(duration)
}

/// Formats a byte count with binary units: `64 MiB` when exact, else `1.5 MiB`.
pub fn display_bytes(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (size, unit) in UNITS {
        if bytes >= size {
            if bytes % size == 0 {
                return format!("{} {unit}", bytes / size);
            }
            return format!("{:.1} {unit}", bytes as f64 / size as f64);
        }
    }
    format!("{bytes} B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_accepts_binary_and_decimal_units() {
        assert_eq!(parse_memory(&"64MiB".into()), Ok(64 * 1024 * 1024));
        assert_eq!(parse_memory(&"512 KiB".into()), Ok(512 * 1024));
        assert_eq!(parse_memory(&"100MB".into()), Ok(100_000_000));
        assert_eq!(parse_memory(&toml::Value::Integer(65536)), Ok(65536));
    }

    #[test]
    fn memory_rejects_malformed_and_out_of_range() {
        assert!(parse_memory(&"lots".into()).is_err());
        assert!(parse_memory(&"1KiB".into()).is_err());
        assert!(parse_memory(&"5GiB".into()).is_err());
        assert!(parse_memory(&toml::Value::Integer(-1)).is_err());
    }

    #[test]
    fn memory_display_uses_binary_units() {
        assert_eq!(display_bytes(64 * 1024 * 1024), "64 MiB");
        assert_eq!(display_bytes(1536 * 1024), "1.5 MiB");
        assert_eq!(display_bytes(2112 * 1024), "2.1 MiB");
        assert_eq!(display_bytes(289), "289 B");
    }

    #[test]
    fn fuel_accepts_positive_or_unlimited() {
        assert_eq!(parse_fuel(&toml::Value::Integer(10)), Ok(Some(10)));
        assert_eq!(parse_fuel(&"unlimited".into()), Ok(None));
        assert!(parse_fuel(&toml::Value::Integer(0)).is_err());
        assert!(parse_fuel(&"plenty".into()).is_err());
    }

    #[test]
    fn duration_accepts_units_and_rejects_zero() {
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("500000000000y").is_err());
    }
}

//! Formatting of the benchmarks' figures for their Markdown tables.

use std::time::Duration;

/// Formats `bytes` in MiB, or in KiB below one MiB.
pub fn size(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
    } else {
        format!("{} KiB", bytes / 1024)
    }
}

/// Formats `duration` in s, ms or µs, whichever keeps it readable.
pub fn time(duration: Duration) -> String {
    let micros = duration.as_secs_f64() * 1e6;
    if micros >= 1e6 {
        format!("{:.2} s", micros / 1e6)
    } else if micros >= 1e3 {
        format!("{:.1} ms", micros / 1e3)
    } else {
        format!("{micros:.0} µs")
    }
}

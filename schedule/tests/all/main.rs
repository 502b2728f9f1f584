//! Integration tests for `wflow-schedule`, in one binary.
//!
//! Expected instants are written by hand in UTC, from the zones' published
//! offsets, never computed with the crate under test.

mod cron;
mod dst;
mod interval;
mod oracle;
mod parse_errors;
mod range;

use jiff::Timestamp;
use wflow_schedule::Schedule;

const NEW_YORK: &str = "America/New_York";
const BERLIN: &str = "Europe/Berlin";

/// Parses an RFC 3339 instant written in a test.
fn utc(text: &str) -> Timestamp {
    text.parse().unwrap_or_else(|error| panic!("bad test instant `{text}`: {error}"))
}

fn schedule(spec: &str, time_zone: &str) -> Schedule {
    Schedule::parse(spec, time_zone).unwrap_or_else(|error| panic!("`{spec}` in {time_zone}: {error}"))
}

/// Returns the first `count` fire times after `after`, as UTC instants.
fn fires_utc(spec: &str, time_zone: &str, after: &str, count: usize) -> Vec<String> {
    schedule(spec, time_zone).fire_times(utc(after)).take(count).map(|time| time.timestamp().to_string()).collect()
}

/// Returns the first `count` fire times after `after`, as zoned times.
fn fires_local(spec: &str, time_zone: &str, after: &str, count: usize) -> Vec<String> {
    schedule(spec, time_zone).fire_times(utc(after)).take(count).map(|time| time.to_string()).collect()
}

//! `@every` schedules: anchors, units and the zone used for display.

use crate::{BERLIN, fires_local, fires_utc, schedule, utc};

#[test]
fn default_anchor_is_unix_epoch() {
    // 2026-01-01T00:00:00Z is 20454 days after the epoch, a multiple of 7.
    let fires = fires_utc("@every 7d", "UTC", "2025-12-31T00:00:00Z", 2);

    assert_eq!(fires, ["2026-01-01T00:00:00Z", "2026-01-08T00:00:00Z"]);
}

#[test]
fn anchor_sets_phase() {
    let fires = fires_utc("@every 90s from 2026-01-01T00:00:00Z", "UTC", "2026-01-01T00:00:00Z", 3);

    assert_eq!(fires, ["2026-01-01T00:01:30Z", "2026-01-01T00:03:00Z", "2026-01-01T00:04:30Z"]);
}

#[test]
fn fires_before_anchor() {
    let fires = fires_utc("@every 1h30m from 2026-01-01T00:00:00Z", "UTC", "2025-12-31T21:00:00Z", 3);

    assert_eq!(fires, ["2025-12-31T22:30:00Z", "2026-01-01T00:00:00Z", "2026-01-01T01:30:00Z"]);
}

#[test]
fn anchor_with_offset() {
    let fires = fires_utc("@every 1d from 2026-01-01T09:00:00+01:00", "UTC", "2026-03-01T00:00:00Z", 1);

    assert_eq!(fires, ["2026-03-01T08:00:00Z"]);
}

#[test]
fn daily_interval_shifts_wall_clock_across_dst() {
    // `d` is 24 hours, so 09:00 CET becomes 10:00 CEST after the spring change.
    let fires = fires_local("@every 1d from 2026-03-28T08:00:00Z", BERLIN, "2026-03-27T12:00:00Z", 3);

    assert_eq!(
        fires,
        [
            "2026-03-28T09:00:00+01:00[Europe/Berlin]",
            "2026-03-29T10:00:00+02:00[Europe/Berlin]",
            "2026-03-30T10:00:00+02:00[Europe/Berlin]",
        ]
    );
}

#[test]
fn zone_does_not_change_instants() {
    let in_utc = fires_utc("@every 45m", "UTC", "2026-10-24T22:00:00Z", 8);
    let in_berlin = fires_utc("@every 45m", BERLIN, "2026-10-24T22:00:00Z", 8);

    assert_eq!(in_berlin, in_utc);
}

#[test]
fn last_at_or_before_includes_slot() {
    let every_15 = schedule("@every 15m", "UTC");

    let on_slot = every_15.last_at_or_before(utc("2026-01-01T00:15:00Z")).unwrap();
    assert_eq!(on_slot.timestamp(), utc("2026-01-01T00:15:00Z"));
    let between = every_15.last_at_or_before(utc("2026-01-01T00:29:59.999Z")).unwrap();
    assert_eq!(between.timestamp(), utc("2026-01-01T00:15:00Z"));
}

#[test]
fn next_after_slot_is_next_slot() {
    let every_15 = schedule("@every 15m", "UTC");

    let next = every_15.next_after(utc("2026-01-01T00:15:00Z")).unwrap();
    assert_eq!(next.timestamp(), utc("2026-01-01T00:30:00Z"));
}

#[test]
fn fire_times_between_lists_missed_slots() {
    let every_10 = schedule("@every 10m", "UTC");

    let missed = every_10.fire_times_between(utc("2026-01-01T00:00:00Z"), utc("2026-01-01T00:30:00Z"), 100);
    let listed: Vec<String> = missed.times.iter().map(|time| time.timestamp().to_string()).collect();

    assert_eq!(listed, ["2026-01-01T00:10:00Z", "2026-01-01T00:20:00Z", "2026-01-01T00:30:00Z"]);
    assert!(!missed.truncated);
}

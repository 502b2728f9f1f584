//! The DST rule on both 2026 transitions in New York and Berlin.
//!
//! New York: EST (-05:00) until 2026-03-08T07:00Z, when 02:00 jumps to
//! 03:00 EDT (-04:00); EDT until 2026-11-01T06:00Z, when 02:00 falls back
//! to 01:00 EST, so 01:00-01:59 happens twice.
//!
//! Berlin: CET (+01:00) until 2026-03-29T01:00Z, when 02:00 jumps to 03:00
//! CEST (+02:00); CEST until 2026-10-25T01:00Z, when 03:00 falls back to
//! 02:00 CET, so 02:00-02:59 happens twice.

use jiff::Timestamp;

use crate::{BERLIN, NEW_YORK, fires_local, fires_utc, schedule, utc};

/// Returns the seconds between successive fire times.
fn spacing_seconds(spec: &str, time_zone: &str, after: &str, count: usize) -> Vec<i64> {
    let times: Vec<Timestamp> =
        schedule(spec, time_zone).fire_times(utc(after)).take(count).map(|time| time.timestamp()).collect();
    times.windows(2).map(|pair| pair[1].as_second() - pair[0].as_second()).collect()
}

// New York, spring forward: 2026-03-08 02:00 -> 03:00.

#[test]
fn new_york_spring_daily_skipped_time() {
    let fires = fires_local("30 2 * * *", NEW_YORK, "2026-03-06T12:00:00Z", 3);

    assert_eq!(
        fires,
        [
            "2026-03-07T02:30:00-05:00[America/New_York]",
            "2026-03-08T03:00:00-04:00[America/New_York]",
            "2026-03-09T02:30:00-04:00[America/New_York]",
        ]
    );
}

#[test]
fn new_york_spring_daily_repeated_time() {
    let fires = fires_utc("30 1 * * *", NEW_YORK, "2026-03-07T12:00:00Z", 2);

    assert_eq!(fires, ["2026-03-08T06:30:00Z", "2026-03-09T05:30:00Z"]);
}

#[test]
fn new_york_spring_every_15_minutes() {
    let fires = fires_utc("*/15 * * * *", NEW_YORK, "2026-03-08T06:30:00Z", 5);

    // 01:45 EST, then 03:00 EDT, where the skipped 02:00-02:45 fire once.
    assert_eq!(
        fires,
        [
            "2026-03-08T06:45:00Z",
            "2026-03-08T07:00:00Z",
            "2026-03-08T07:15:00Z",
            "2026-03-08T07:30:00Z",
            "2026-03-08T07:45:00Z",
        ]
    );
}

#[test]
fn new_york_spring_gap_slots_fire_once() {
    let fires = fires_utc("*/15 2 * * *", NEW_YORK, "2026-03-07T12:00:00Z", 3);

    assert_eq!(fires, ["2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z", "2026-03-09T06:15:00Z"]);
}

#[test]
fn new_york_spring_hourly() {
    let fires = fires_utc("0 * * * *", NEW_YORK, "2026-03-08T05:30:00Z", 3);

    // 01:00 EST, 03:00 EDT (the skipped 02:00 and 03:00 at one instant), 04:00 EDT.
    assert_eq!(fires, ["2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"]);
}

#[test]
fn new_york_spring_seconds() {
    let before_gap = fires_utc("15,45 59 1 * * *", NEW_YORK, "2026-03-08T06:00:00Z", 3);
    let in_gap = fires_utc("10 30 2 * * *", NEW_YORK, "2026-03-08T06:00:00Z", 2);
    let whole_gap = fires_utc("*/20 * 2 * * *", NEW_YORK, "2026-03-08T06:00:00Z", 3);

    assert_eq!(before_gap, ["2026-03-08T06:59:15Z", "2026-03-08T06:59:45Z", "2026-03-09T05:59:15Z"]);
    assert_eq!(in_gap, ["2026-03-08T07:00:00Z", "2026-03-09T06:30:10Z"]);
    // 180 skipped slots fire once at 03:00 EDT.
    assert_eq!(whole_gap, ["2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z", "2026-03-09T06:00:20Z"]);
}

#[test]
fn new_york_spring_intervals() {
    let hourly = fires_local("@every 1h", NEW_YORK, "2026-03-08T05:30:00Z", 3);
    let half_hourly = fires_utc("@every 30m", NEW_YORK, "2026-03-08T06:10:00Z", 3);

    assert_eq!(
        hourly,
        [
            "2026-03-08T01:00:00-05:00[America/New_York]",
            "2026-03-08T03:00:00-04:00[America/New_York]",
            "2026-03-08T04:00:00-04:00[America/New_York]",
        ]
    );
    assert_eq!(half_hourly, ["2026-03-08T06:30:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z"]);
    assert_eq!(spacing_seconds("@every 1h", NEW_YORK, "2026-03-08T00:00:00Z", 12), [3600; 11]);
    assert_eq!(spacing_seconds("@every 30m", NEW_YORK, "2026-03-08T00:00:00Z", 24), [1800; 23]);
}

// New York, fall back: 2026-11-01 02:00 -> 01:00.

#[test]
fn new_york_fall_daily_skipped_time() {
    // 02:30 is not repeated in New York, so it fires once a day as usual.
    let fires = fires_utc("30 2 * * *", NEW_YORK, "2026-10-30T12:00:00Z", 3);

    assert_eq!(fires, ["2026-10-31T06:30:00Z", "2026-11-01T07:30:00Z", "2026-11-02T07:30:00Z"]);
}

#[test]
fn new_york_fall_daily_repeated_time() {
    let fires = fires_local("30 1 * * *", NEW_YORK, "2026-10-31T00:00:00Z", 3);

    assert_eq!(
        fires,
        [
            "2026-10-31T01:30:00-04:00[America/New_York]",
            "2026-11-01T01:30:00-04:00[America/New_York]",
            "2026-11-02T01:30:00-05:00[America/New_York]",
        ]
    );
}

#[test]
fn new_york_fall_second_pass_does_not_fire() {
    // 06:10Z is 01:10 EST, in the second pass: today's 01:30 already fired.
    let fires = fires_utc("30 1 * * *", NEW_YORK, "2026-11-01T06:10:00Z", 1);

    assert_eq!(fires, ["2026-11-02T06:30:00Z"]);
}

#[test]
fn new_york_fall_every_15_minutes() {
    let fires = fires_utc("*/15 * * * *", NEW_YORK, "2026-11-01T05:30:00Z", 4);

    // 01:45 EDT, then nothing during 01:00-01:59 EST, then 02:00 EST.
    assert_eq!(fires, ["2026-11-01T05:45:00Z", "2026-11-01T07:00:00Z", "2026-11-01T07:15:00Z", "2026-11-01T07:30:00Z"]);
}

#[test]
fn new_york_fall_start_in_second_pass() {
    let fires = fires_utc("*/15 * * * *", NEW_YORK, "2026-11-01T06:10:00Z", 2);

    assert_eq!(fires, ["2026-11-01T07:00:00Z", "2026-11-01T07:15:00Z"]);
}

#[test]
fn new_york_fall_hourly() {
    let fires = fires_utc("0 * * * *", NEW_YORK, "2026-11-01T04:30:00Z", 3);

    // 01:00 EDT, 02:00 EST, 03:00 EST; 01:00 EST does not fire.
    assert_eq!(fires, ["2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z", "2026-11-01T08:00:00Z"]);
}

#[test]
fn new_york_fall_seconds() {
    let fires = fires_utc("15,45 59 1 * * *", NEW_YORK, "2026-11-01T05:00:00Z", 3);

    assert_eq!(fires, ["2026-11-01T05:59:15Z", "2026-11-01T05:59:45Z", "2026-11-02T06:59:15Z"]);
}

#[test]
fn new_york_fall_intervals() {
    let hourly = fires_local("@every 1h", NEW_YORK, "2026-11-01T04:30:00Z", 3);
    let half_hourly = fires_utc("@every 30m", NEW_YORK, "2026-11-01T05:10:00Z", 4);

    // Intervals fire in both passes through 01:00-01:59.
    assert_eq!(
        hourly,
        [
            "2026-11-01T01:00:00-04:00[America/New_York]",
            "2026-11-01T01:00:00-05:00[America/New_York]",
            "2026-11-01T02:00:00-05:00[America/New_York]",
        ]
    );
    assert_eq!(
        half_hourly,
        ["2026-11-01T05:30:00Z", "2026-11-01T06:00:00Z", "2026-11-01T06:30:00Z", "2026-11-01T07:00:00Z"]
    );
    assert_eq!(spacing_seconds("@every 1h", NEW_YORK, "2026-11-01T00:00:00Z", 12), [3600; 11]);
    assert_eq!(spacing_seconds("@every 30m", NEW_YORK, "2026-11-01T00:00:00Z", 24), [1800; 23]);
}

// Berlin, spring forward: 2026-03-29 02:00 -> 03:00.

#[test]
fn berlin_spring_daily_skipped_time() {
    let fires = fires_local("30 2 * * *", BERLIN, "2026-03-27T12:00:00Z", 3);

    assert_eq!(
        fires,
        [
            "2026-03-28T02:30:00+01:00[Europe/Berlin]",
            "2026-03-29T03:00:00+02:00[Europe/Berlin]",
            "2026-03-30T02:30:00+02:00[Europe/Berlin]",
        ]
    );
}

#[test]
fn berlin_spring_every_15_minutes() {
    let fires = fires_utc("*/15 * * * *", BERLIN, "2026-03-29T00:30:00Z", 3);

    assert_eq!(fires, ["2026-03-29T00:45:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:15:00Z"]);
}

#[test]
fn berlin_spring_hourly() {
    let fires = fires_utc("0 * * * *", BERLIN, "2026-03-28T23:30:00Z", 3);

    assert_eq!(fires, ["2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"]);
}

#[test]
fn berlin_spring_seconds() {
    let before_gap = fires_utc("15,45 59 1 * * *", BERLIN, "2026-03-29T00:00:00Z", 3);
    let in_gap = fires_utc("30 15 2 * * *", BERLIN, "2026-03-29T00:00:00Z", 2);

    assert_eq!(before_gap, ["2026-03-29T00:59:15Z", "2026-03-29T00:59:45Z", "2026-03-29T23:59:15Z"]);
    assert_eq!(in_gap, ["2026-03-29T01:00:00Z", "2026-03-30T00:15:30Z"]);
}

#[test]
fn berlin_spring_intervals() {
    let hourly = fires_local("@every 1h", BERLIN, "2026-03-28T23:30:00Z", 3);
    let half_hourly = fires_utc("@every 30m", BERLIN, "2026-03-29T00:10:00Z", 3);

    assert_eq!(
        hourly,
        [
            "2026-03-29T01:00:00+01:00[Europe/Berlin]",
            "2026-03-29T03:00:00+02:00[Europe/Berlin]",
            "2026-03-29T04:00:00+02:00[Europe/Berlin]",
        ]
    );
    assert_eq!(half_hourly, ["2026-03-29T00:30:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z"]);
    assert_eq!(spacing_seconds("@every 1h", BERLIN, "2026-03-28T20:00:00Z", 12), [3600; 11]);
    assert_eq!(spacing_seconds("@every 30m", BERLIN, "2026-03-28T20:00:00Z", 24), [1800; 23]);
}

// Berlin, fall back: 2026-10-25 03:00 -> 02:00.

#[test]
fn berlin_fall_daily_repeated_time() {
    let fires = fires_local("30 2 * * *", BERLIN, "2026-10-23T12:00:00Z", 3);

    assert_eq!(
        fires,
        [
            "2026-10-24T02:30:00+02:00[Europe/Berlin]",
            "2026-10-25T02:30:00+02:00[Europe/Berlin]",
            "2026-10-26T02:30:00+01:00[Europe/Berlin]",
        ]
    );
}

#[test]
fn berlin_fall_second_pass_does_not_fire() {
    // 01:10Z is 02:10 CET, in the second pass: today's 02:30 already fired.
    let fires = fires_utc("30 2 * * *", BERLIN, "2026-10-25T01:10:00Z", 1);

    assert_eq!(fires, ["2026-10-26T01:30:00Z"]);
}

#[test]
fn berlin_fall_every_15_minutes() {
    let fires = fires_utc("*/15 * * * *", BERLIN, "2026-10-25T00:30:00Z", 3);

    // 02:45 CEST, then nothing during 02:00-02:59 CET, then 03:00 CET.
    assert_eq!(fires, ["2026-10-25T00:45:00Z", "2026-10-25T02:00:00Z", "2026-10-25T02:15:00Z"]);
}

#[test]
fn berlin_fall_hourly() {
    let fires = fires_utc("0 * * * *", BERLIN, "2026-10-24T23:30:00Z", 3);

    assert_eq!(fires, ["2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z", "2026-10-25T03:00:00Z"]);
}

#[test]
fn berlin_fall_seconds() {
    let fires = fires_utc("15,45 59 2 * * *", BERLIN, "2026-10-25T00:00:00Z", 3);

    assert_eq!(fires, ["2026-10-25T00:59:15Z", "2026-10-25T00:59:45Z", "2026-10-26T01:59:15Z"]);
}

#[test]
fn berlin_fall_intervals() {
    let hourly = fires_local("@every 1h", BERLIN, "2026-10-24T23:30:00Z", 3);
    let half_hourly = fires_utc("@every 30m", BERLIN, "2026-10-25T00:10:00Z", 4);

    assert_eq!(
        hourly,
        [
            "2026-10-25T02:00:00+02:00[Europe/Berlin]",
            "2026-10-25T02:00:00+01:00[Europe/Berlin]",
            "2026-10-25T03:00:00+01:00[Europe/Berlin]",
        ]
    );
    assert_eq!(
        half_hourly,
        ["2026-10-25T00:30:00Z", "2026-10-25T01:00:00Z", "2026-10-25T01:30:00Z", "2026-10-25T02:00:00Z"]
    );
    assert_eq!(spacing_seconds("@every 1h", BERLIN, "2026-10-24T20:00:00Z", 12), [3600; 11]);
    assert_eq!(spacing_seconds("@every 30m", BERLIN, "2026-10-24T20:00:00Z", 24), [1800; 23]);
}

// The latest fire time at or before an instant, for the "latest only" misfire policy.

#[test]
fn last_at_or_before_in_second_pass() {
    let every_15 = schedule("*/15 * * * *", NEW_YORK);
    let daily = schedule("30 1 * * *", NEW_YORK);

    // 06:50Z is 01:50 EST: the latest slot is 01:45 EDT, not 01:45 EST.
    let latest = every_15.last_at_or_before(utc("2026-11-01T06:50:00Z")).unwrap();
    assert_eq!(latest.timestamp(), utc("2026-11-01T05:45:00Z"));
    let at_end = every_15.last_at_or_before(utc("2026-11-01T07:00:00Z")).unwrap();
    assert_eq!(at_end.timestamp(), utc("2026-11-01T07:00:00Z"));
    let daily_latest = daily.last_at_or_before(utc("2026-11-01T06:40:00Z")).unwrap();
    assert_eq!(daily_latest.timestamp(), utc("2026-11-01T05:30:00Z"));
}

#[test]
fn last_at_or_before_across_gap() {
    let every_15 = schedule("*/15 * * * *", NEW_YORK);
    let daily = schedule("30 2 * * *", BERLIN);

    let before_jump = every_15.last_at_or_before(utc("2026-03-08T06:59:59Z")).unwrap();
    assert_eq!(before_jump.timestamp(), utc("2026-03-08T06:45:00Z"));
    let at_jump = every_15.last_at_or_before(utc("2026-03-08T07:00:00Z")).unwrap();
    assert_eq!(at_jump.timestamp(), utc("2026-03-08T07:00:00Z"));
    let skipped = daily.last_at_or_before(utc("2026-03-29T12:00:00Z")).unwrap();
    assert_eq!(skipped.timestamp(), utc("2026-03-29T01:00:00Z"));
}

// Listing missed slots after downtime.

#[test]
fn fire_times_between_across_fall_back() {
    let every_15 = schedule("*/15 * * * *", NEW_YORK);

    let all = every_15.fire_times_between(utc("2026-11-01T05:30:00Z"), utc("2026-11-01T07:30:00Z"), 10);
    let listed: Vec<String> = all.times.iter().map(|time| time.timestamp().to_string()).collect();
    assert_eq!(
        listed,
        ["2026-11-01T05:45:00Z", "2026-11-01T07:00:00Z", "2026-11-01T07:15:00Z", "2026-11-01T07:30:00Z"]
    );
    assert!(!all.truncated);

    let first_two = every_15.fire_times_between(utc("2026-11-01T05:30:00Z"), utc("2026-11-01T07:30:00Z"), 2);
    assert_eq!(first_two.times.len(), 2);
    assert_eq!(first_two.times[1].timestamp(), utc("2026-11-01T07:00:00Z"));
    assert!(first_two.truncated);
}

#[test]
fn fire_times_between_empty_ranges() {
    let every_15 = schedule("*/15 * * * *", NEW_YORK);

    let none_due = every_15.fire_times_between(utc("2026-11-01T05:46:00Z"), utc("2026-11-01T06:59:59Z"), 10);
    assert!(none_due.times.is_empty());
    assert!(!none_due.truncated);

    let zero_limit = every_15.fire_times_between(utc("2026-11-01T05:30:00Z"), utc("2026-11-01T07:30:00Z"), 0);
    assert!(zero_limit.times.is_empty());
    assert!(zero_limit.truncated);

    let backwards = every_15.fire_times_between(utc("2026-11-01T07:30:00Z"), utc("2026-11-01T05:30:00Z"), 10);
    assert!(backwards.times.is_empty());
    assert!(!backwards.truncated);
}

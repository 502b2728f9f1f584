//! The edges of jiff's range: -009999-01-02T01:59:59Z to
//! 9999-12-30T22:00:00.999999999Z. Queries there return `None`, never panic.

use jiff::Timestamp;

use crate::{NEW_YORK, schedule, utc};

/// Specs and zones whose queries run at both ends of the range.
const SPECS: &[&str] =
    &["* * * * * *", "*/15 * * * *", "@yearly", "0 0 29 2 *", "30 2 * * *", "@every 1s", "@every 7d"];
const ZONES: &[&str] = &["UTC", "America/New_York", "Europe/Berlin", "Pacific/Kiritimati", "Pacific/Pago_Pago"];

#[test]
fn range_limits_are_as_documented() {
    assert_eq!(Timestamp::MAX.to_string(), "9999-12-30T22:00:00.999999999Z");
    assert_eq!(Timestamp::MIN.to_string(), "-009999-01-02T01:59:59Z");
}

#[test]
fn next_after_last_instant_is_none() {
    for spec in SPECS {
        for zone in ZONES {
            let schedule = schedule(spec, zone);
            assert_eq!(schedule.next_after(Timestamp::MAX), None, "{spec} in {zone}");
            assert_eq!(schedule.fire_times(Timestamp::MAX).next(), None, "{spec} in {zone}");
        }
    }
}

#[test]
fn queries_near_edges_stay_in_range() {
    for spec in SPECS {
        for zone in ZONES {
            let schedule = schedule(spec, zone);
            let near_end = utc("9999-12-30T12:00:00Z");

            let tail: Vec<Timestamp> =
                schedule.fire_times(near_end).take(100_000).map(|time| time.timestamp()).collect();
            assert!(tail.len() < 100_000, "{spec} in {zone}: fire times do not end at the range end");
            assert!(tail.iter().all(|time| *time > near_end), "{spec} in {zone}");
            assert!(tail.windows(2).all(|pair| pair[0] < pair[1]), "{spec} in {zone}: not increasing");

            if let Some(first) = schedule.next_after(Timestamp::MIN) {
                assert!(first.timestamp() > Timestamp::MIN, "{spec} in {zone}");
            }
            if let Some(last) = schedule.last_at_or_before(Timestamp::MAX) {
                assert!(last.timestamp() <= Timestamp::MAX, "{spec} in {zone}");
            }
            if let Some(first) = schedule.last_at_or_before(Timestamp::MIN) {
                assert!(first.timestamp() <= Timestamp::MIN, "{spec} in {zone}");
            }
        }
    }
}

#[test]
fn every_second_reaches_last_whole_second() {
    let every_second = schedule("* * * * * *", "UTC");

    let last = every_second.next_after(utc("9999-12-30T21:59:59Z")).unwrap();
    assert_eq!(last.timestamp(), utc("9999-12-30T22:00:00Z"));
    assert_eq!(every_second.next_after(utc("9999-12-30T22:00:00Z")), None);
    assert_eq!(every_second.fire_times(utc("9999-12-30T21:59:00Z")).count(), 60);
}

#[test]
fn yearly_past_year_9999_is_none() {
    let yearly = schedule("@yearly", NEW_YORK);

    assert_eq!(yearly.next_after(utc("9999-06-01T00:00:00Z")), None);
    let last = yearly.last_at_or_before(Timestamp::MAX).unwrap();
    assert_eq!(last.timestamp(), utc("9999-01-01T05:00:00Z"));
}

#[test]
fn yearly_before_year_minus_9999_is_none() {
    // -9999-01-01 00:00 UTC lies before the first instant of the range.
    let yearly = schedule("@yearly", "UTC");

    assert_eq!(yearly.last_at_or_before(Timestamp::MIN), None);
    let first = yearly.next_after(Timestamp::MIN).unwrap();
    assert_eq!(first.timestamp(), utc("-009998-01-01T00:00:00Z"));
}

#[test]
fn maximum_interval_at_range_edges() {
    let longest = schedule("@every 36500d from 9950-01-01T00:00:00Z", "UTC");

    assert_eq!(longest.next_after(utc("9949-12-31T00:00:00Z")).unwrap().timestamp(), utc("9950-01-01T00:00:00Z"));
    // The fire time after that falls in 10049, past the end of the range.
    assert_eq!(longest.next_after(utc("9999-01-01T00:00:00Z")), None);
    assert_eq!(longest.next_after(Timestamp::MAX), None);
    assert!(longest.next_after(Timestamp::MIN).is_some());
    let last = longest.last_at_or_before(utc("9999-01-01T00:00:00Z")).unwrap();
    assert_eq!(last.timestamp(), utc("9950-01-01T00:00:00Z"));
}

#[test]
fn interval_at_range_edges() {
    let every_second = schedule("@every 1s", "UTC");

    let last = every_second.next_after(utc("9999-12-30T21:59:59.5Z")).unwrap();
    assert_eq!(last.timestamp(), utc("9999-12-30T22:00:00Z"));
    assert_eq!(every_second.next_after(utc("9999-12-30T22:00:00Z")), None);
    assert_eq!(every_second.last_at_or_before(Timestamp::MIN).unwrap().timestamp(), Timestamp::MIN);
}

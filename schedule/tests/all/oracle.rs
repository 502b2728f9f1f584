//! A brute-force check of the DST rule around real transitions.
//!
//! The oracle walks every UTC minute and decides from jiff's zone data
//! alone whether it fires. A minute fires if its wall-clock time matches
//! and this is the first instant with that wall-clock time. It also fires
//! if the clocks just jumped over a matching wall-clock time. The oracle's
//! cron matchers are closures, so it shares no code with the crate under
//! test.

use jiff::civil::DateTime;
use jiff::tz::{TimeZone, TimeZoneDatabase};
use jiff::{SignedDuration, Timestamp};

use crate::{schedule, utc};

type Matcher = fn(DateTime) -> bool;

/// Crons with a closure that matches the same wall-clock minutes.
const CRONS: &[(&str, Matcher)] = &[
    ("*/15 * * * *", |t| t.minute() % 15 == 0),
    ("30 2 * * *", |t| t.hour() == 2 && t.minute() == 30),
    ("0 * * * *", |t| t.minute() == 0),
    ("*/7 0-3 * * *", |t| t.minute() % 7 == 0 && t.hour() <= 3),
    ("0 0 * * *", |t| t.hour() == 0 && t.minute() == 0),
    ("45 1 * * *", |t| t.hour() == 1 && t.minute() == 45),
    ("15 23 * * *", |t| t.hour() == 23 && t.minute() == 15),
];

/// Zones and a start from which the following transitions are checked.
/// They include 30-minute changes (Lord Howe), odd offsets (St. John's,
/// Chatham), changes at midnight (São Paulo 2018), a skipped day (Apia
/// 2011) and negative DST (Dublin).
const ZONES: &[(&str, &str, usize)] = &[
    ("America/New_York", "2026-01-01T00:00:00Z", 2),
    ("Europe/Berlin", "2026-01-01T00:00:00Z", 2),
    ("Australia/Lord_Howe", "2026-01-01T00:00:00Z", 2),
    ("America/St_Johns", "2026-01-01T00:00:00Z", 2),
    ("Pacific/Chatham", "2026-01-01T00:00:00Z", 2),
    ("America/Sao_Paulo", "2018-01-01T00:00:00Z", 2),
    ("Pacific/Apia", "2011-06-01T00:00:00Z", 3),
    ("Europe/Dublin", "2026-01-01T00:00:00Z", 2),
];

const MINUTE: SignedDuration = SignedDuration::from_mins(1);

/// Returns every UTC minute in `[start, end)` at which the cron fires by the DST rule.
fn oracle(time_zone: &TimeZone, matches: Matcher, start: Timestamp, end: Timestamp) -> Vec<Timestamp> {
    let mut fires = Vec::new();
    let mut instant = start;
    while instant < end {
        let local = time_zone.to_datetime(instant);
        let previous_local = time_zone.to_datetime(instant - MINUTE);

        let first_occurrence = time_zone.to_ambiguous_timestamp(local).earlier().unwrap() == instant;
        let matches_now = matches(local) && first_occurrence;

        // Wall-clock minutes that the clocks jumped over between the previous minute and this one.
        let mut skipped = previous_local + MINUTE;
        let mut matches_skipped = false;
        while skipped < local {
            matches_skipped |= matches(skipped);
            skipped += MINUTE;
        }

        if matches_now || matches_skipped {
            fires.push(instant);
        }
        instant += MINUTE;
    }
    fires
}

#[test]
fn fire_times_match_oracle_around_transitions() {
    for (zone_name, from, count) in ZONES {
        let time_zone = TimeZoneDatabase::bundled().get(zone_name).unwrap();
        let transitions: Vec<Timestamp> =
            time_zone.following(utc(from)).take(*count).map(|transition| transition.timestamp()).collect();
        assert_eq!(transitions.len(), *count, "{zone_name} has too few transitions");

        for transition in transitions {
            let start = transition - SignedDuration::from_hours(30);
            let end = transition + SignedDuration::from_hours(30);
            for (spec, matches) in CRONS {
                let expected = oracle(&time_zone, *matches, start, end);
                let schedule = schedule(spec, zone_name);
                let actual: Vec<Timestamp> = schedule
                    .fire_times(start - SignedDuration::from_nanos(1))
                    .map(|time| time.timestamp())
                    .take_while(|time| *time < end)
                    .collect();
                assert_eq!(actual, expected, "`{spec}` in {zone_name} around {transition}");
            }
        }
    }
}

#[test]
fn next_after_matches_oracle_from_every_minute() {
    for (zone_name, from, count) in ZONES {
        let time_zone = TimeZoneDatabase::bundled().get(zone_name).unwrap();
        for transition in time_zone.following(utc(from)).take(*count) {
            let transition = transition.timestamp();
            let start = transition - SignedDuration::from_hours(3);
            let end = transition + SignedDuration::from_hours(3);
            for (spec, matches) in CRONS {
                // Slots up to a day later, so every query below has a result.
                let expected = oracle(&time_zone, *matches, start, end + SignedDuration::from_hours(26));
                let schedule = schedule(spec, zone_name);

                let mut query = start;
                while query < end {
                    for offset in [SignedDuration::ZERO, SignedDuration::from_secs(30)] {
                        let after = query + offset;
                        let want = expected.iter().find(|time| **time > after).copied();
                        let got = schedule.next_after(after).map(|time| time.timestamp());
                        assert_eq!(got, want, "`{spec}` in {zone_name}: next after {after}");

                        let want_last = expected.iter().rev().find(|time| **time <= after).copied();
                        if want_last.is_some() {
                            let got_last = schedule.last_at_or_before(after).map(|time| time.timestamp());
                            assert_eq!(got_last, want_last, "`{spec}` in {zone_name}: last at or before {after}");
                        }
                    }
                    query += MINUTE;
                }
            }
        }
    }
}

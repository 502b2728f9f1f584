//! Cron syntax and matching in UTC, where wall-clock time has no gaps.

use crate::{NEW_YORK, fires_utc, schedule, utc};

#[test]
fn day_fields_either_when_both_restricted() {
    // June 2026 starts on a Monday.
    let fires = fires_utc("0 0 1,15 * MON", "UTC", "2026-06-01T00:00:00Z", 6);

    assert_eq!(
        fires,
        [
            "2026-06-08T00:00:00Z",
            "2026-06-15T00:00:00Z",
            "2026-06-22T00:00:00Z",
            "2026-06-29T00:00:00Z",
            "2026-07-01T00:00:00Z",
            "2026-07-06T00:00:00Z",
        ]
    );
}

#[test]
fn day_fields_both_when_one_starts_with_star() {
    // `*/2` counts as `*` for Vixie cron: Mondays on odd days of the month.
    let fires = fires_utc("0 0 */2 * MON", "UTC", "2026-05-31T00:00:00Z", 4);

    assert_eq!(fires, ["2026-06-01T00:00:00Z", "2026-06-15T00:00:00Z", "2026-06-29T00:00:00Z", "2026-07-13T00:00:00Z"]);
}

#[test]
fn day_of_month_alone() {
    let fires = fires_utc("0 0 1 * *", "UTC", "2026-06-01T00:00:00Z", 2);

    assert_eq!(fires, ["2026-07-01T00:00:00Z", "2026-08-01T00:00:00Z"]);
}

#[test]
fn day_of_week_alone() {
    let fires = fires_utc("0 0 * * MON", "UTC", "2026-06-01T00:00:00Z", 2);

    assert_eq!(fires, ["2026-06-08T00:00:00Z", "2026-06-15T00:00:00Z"]);
}

#[test]
fn names_ignore_case() {
    let upper = fires_utc("0 9 * JAN,JUL MON-FRI", "UTC", "2026-01-01T00:00:00Z", 3);
    let lower = fires_utc("0 9 * jan,Jul mon-fri", "UTC", "2026-01-01T00:00:00Z", 3);

    // 2026-01-01 is a Thursday.
    assert_eq!(upper, ["2026-01-01T09:00:00Z", "2026-01-02T09:00:00Z", "2026-01-05T09:00:00Z"]);
    assert_eq!(lower, upper);
}

#[test]
fn sunday_is_zero_and_seven() {
    let zero = fires_utc("0 0 * * 0", "UTC", "2026-01-01T00:00:00Z", 2);
    let seven = fires_utc("0 0 * * 7", "UTC", "2026-01-01T00:00:00Z", 2);
    let name = fires_utc("0 0 * * sun", "UTC", "2026-01-01T00:00:00Z", 2);

    assert_eq!(zero, ["2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"]);
    assert_eq!(seven, zero);
    assert_eq!(name, zero);
}

#[test]
fn range_ending_at_sunday() {
    let fires = fires_utc("0 0 * * FRI-SUN", "UTC", "2026-01-01T00:00:00Z", 4);

    assert_eq!(fires, ["2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-09T00:00:00Z"]);
}

#[test]
fn macros_match_their_crons() {
    let cases = [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
        ("@DAILY", "0 0 * * *"),
    ];
    for (macro_spec, cron_spec) in cases {
        let from_macro = fires_utc(macro_spec, NEW_YORK, "2026-01-01T00:00:00Z", 3);
        let from_cron = fires_utc(cron_spec, NEW_YORK, "2026-01-01T00:00:00Z", 3);
        assert_eq!(from_macro, from_cron, "{macro_spec}");
    }
}

#[test]
fn macros_fire_at_expected_times() {
    assert_eq!(fires_utc("@yearly", "UTC", "2026-06-01T00:00:00Z", 1), ["2027-01-01T00:00:00Z"]);
    assert_eq!(fires_utc("@monthly", "UTC", "2026-06-01T00:00:00Z", 1), ["2026-07-01T00:00:00Z"]);
    assert_eq!(fires_utc("@weekly", "UTC", "2026-06-01T00:00:00Z", 1), ["2026-06-07T00:00:00Z"]);
    assert_eq!(fires_utc("@daily", "UTC", "2026-06-01T00:00:00Z", 1), ["2026-06-02T00:00:00Z"]);
    assert_eq!(fires_utc("@hourly", "UTC", "2026-06-01T00:00:00Z", 1), ["2026-06-01T01:00:00Z"]);
}

#[test]
fn steps() {
    let cases: [(&str, &[&str]); 8] = [
        ("*/25 0 * * *", &["00:00", "00:25", "00:50", "00:00+1"]),
        ("10-20/5 0 * * *", &["00:10", "00:15", "00:20", "00:10+1"]),
        ("50/5 0 * * *", &["00:50", "00:55", "00:50+1"]),
        ("*/60 0 * * *", &["00:00", "00:00+1"]),
        ("5/60 0 * * *", &["00:05", "00:05+1"]),
        ("0 */7 * * *", &["00:00", "07:00", "14:00", "21:00", "00:00+1"]),
        ("0 22-23/5 * * *", &["22:00", "22:00+1"]),
        ("0,30 1,2 * * *", &["01:00", "01:30", "02:00", "02:30", "01:00+1"]),
    ];
    for (spec, expected) in cases {
        // Day 1 is 2026-06-01, day "+1" is 2026-06-02.
        let expected: Vec<String> = expected
            .iter()
            .map(|time| match time.strip_suffix("+1") {
                Some(time) => format!("2026-06-02T{time}:00Z"),
                None => format!("2026-06-01T{time}:00Z"),
            })
            .collect();
        let fires = fires_utc(spec, "UTC", "2026-05-31T23:59:59Z", expected.len());
        assert_eq!(fires, expected, "{spec}");
    }
}

#[test]
fn day_of_week_steps() {
    // `*/7` covers 0 and 7, both Sunday; `1-5/2` is Monday, Wednesday, Friday.
    let sundays = fires_utc("0 0 * * */7", "UTC", "2026-01-01T00:00:00Z", 2);
    let odd_weekdays = fires_utc("0 0 * * 1-5/2", "UTC", "2026-01-01T00:00:00Z", 3);

    assert_eq!(sundays, ["2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"]);
    assert_eq!(odd_weekdays, ["2026-01-02T00:00:00Z", "2026-01-05T00:00:00Z", "2026-01-07T00:00:00Z"]);
}

#[test]
fn six_fields_start_with_seconds() {
    let fires = fires_utc("*/20 * * * * *", "UTC", "2026-01-01T00:00:00Z", 4);

    assert_eq!(fires, ["2026-01-01T00:00:20Z", "2026-01-01T00:00:40Z", "2026-01-01T00:01:00Z", "2026-01-01T00:01:20Z"]);
}

#[test]
fn leap_day_every_four_years() {
    let fires = fires_utc("0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", 3);
    // 2100 is not a leap year, so 2096 is followed by 2104.
    let across_century = fires_utc("0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z", 1);

    assert_eq!(fires, ["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", "2036-02-29T00:00:00Z"]);
    assert_eq!(across_century, ["2104-02-29T00:00:00Z"]);
}

#[test]
fn last_day_candidates_skip_short_months() {
    let fires = fires_utc("0 0 31 * *", "UTC", "2026-01-31T00:00:00Z", 3);

    assert_eq!(fires, ["2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z"]);
}

#[test]
fn display_normalizes() {
    let cases = [
        ("  0   9 * jan-MAR mon-fri ", "0 9 * 1-3 1-5"),
        ("0 9 * * FRI-SUN", "0 9 * * 5-7"),
        ("*/5 * * * * *", "*/5 * * * * *"),
        ("0 0 1 1 *", "0 0 1 1 *"),
        ("@annually", "@yearly"),
        ("@Midnight", "@daily"),
        ("@hourly", "@hourly"),
        ("@every 90m", "@every 1h30m"),
        ("@every 24h", "@every 1d"),
        ("@every 3600s", "@every 1h"),
        ("@every 15m from 2026-01-01T01:00:00+01:00", "@every 15m from 2026-01-01T00:00:00Z"),
        ("@every 1h from 1970-01-01T00:00:00Z", "@every 1h"),
    ];
    for (spec, normalized) in cases {
        let parsed = schedule(spec, "UTC");
        assert_eq!(parsed.to_string(), normalized, "{spec}");
        assert_eq!(schedule(normalized, "UTC"), parsed, "{spec} does not round-trip");
    }
}

#[test]
fn time_zone_name_is_canonical() {
    assert_eq!(schedule("@daily", "america/new_york").time_zone_name(), "America/New_York");
    assert_eq!(schedule("@daily", "utc").time_zone_name(), "UTC");
    assert_eq!(schedule("@daily", "Europe/Berlin").time_zone().iana_name(), Some("Europe/Berlin"));
}

#[test]
fn next_after_is_strictly_after() {
    let every_second = schedule("* * * * * *", "UTC");
    let daily = schedule("0 9 * * *", NEW_YORK);

    let on_slot = every_second.next_after(utc("2026-01-01T00:00:00Z")).unwrap();
    assert_eq!(on_slot.timestamp(), utc("2026-01-01T00:00:01Z"));
    let between = every_second.next_after(utc("2026-01-01T00:00:00.5Z")).unwrap();
    assert_eq!(between.timestamp(), utc("2026-01-01T00:00:01Z"));
    let just_before = daily.next_after(utc("2026-01-05T13:59:59.999999999Z")).unwrap();
    assert_eq!(just_before.timestamp(), utc("2026-01-05T14:00:00Z"));
    let exactly = daily.next_after(utc("2026-01-05T14:00:00Z")).unwrap();
    assert_eq!(exactly.timestamp(), utc("2026-01-06T14:00:00Z"));
}

#[test]
fn is_interval() {
    assert!(schedule("@every 1m", "UTC").is_interval());
    assert!(!schedule("@daily", "UTC").is_interval());
}

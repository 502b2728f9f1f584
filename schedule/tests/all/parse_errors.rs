//! Messages for invalid specs and time zones.

use wflow_schedule::{Field, Schedule, ScheduleError};

/// Specs that must fail in UTC, each with a fragment of the expected message.
const BAD_SPECS: &[(&str, &str)] = &[
    ("", "schedule is empty; write a cron expression such as `0 9 * * *`"),
    ("   ", "schedule is empty"),
    // Ranges, with the column of the bad value.
    ("61 * * * *", "minute field `61` (column 1) is out of range 0-59"),
    ("0 24 * * *", "hour field `24` (column 3) is out of range 0-23"),
    ("0  0 0 * *", "day-of-month field `0` (column 6) is out of range 1-31"),
    ("0 0 1 13 *", "month field `13` (column 7) is out of range 1-12"),
    ("0 0 * * 8", "day-of-week field `8` (column 9) is out of range 0-7"),
    ("60 0 0 * * *", "second field `60` (column 1) is out of range 0-59"),
    ("0 0 1,40 * *", "day-of-month field `40` (column 7) is out of range 1-31"),
    ("0 0 * 1-13 *", "month field `13` (column 9) is out of range 1-12"),
    ("99999999999999999999 * * * *", "minute field `99999999999999999999` (column 1) is out of range 0-59"),
    // Field count.
    ("* * * *", "cron `* * * *` has 4 fields; expected 5 (minute hour day-of-month month day-of-week) or 6"),
    ("* * * * * * *", "has 7 fields"),
    // Values that are not numbers or names.
    ("0 0 * JANUARY *", "month field `JANUARY` (column 7) is not a valid value; use a number 1-12 or a name JAN-DEC"),
    ("0 0 * * MOON", "day-of-week field `MOON` (column 9) is not a valid value; use a number 0-7"),
    ("0 0 * MON *", "month field `MON` (column 7) is not a valid value"),
    ("JAN * * * *", "minute field `JAN` (column 1) is not a valid value; use a number 0-59"),
    ("0 0 ? * *", "day-of-month field `?` (column 5) is not a valid value"),
    ("0 0 * * MON-", "day-of-week field `MON-` (column 9) is not a valid value"),
    ("ü * * * *", "minute field `ü` (column 1) is not a valid value"),
    ("/5 * * * *", "minute field `/5` (column 1) is not a valid value"),
    ("0 0 * * 1-2-3", "day-of-week field `2-3` (column 11) is not a valid value"),
    // Lists and ranges.
    ("1,,2 * * * *", "minute field `1,,2` has an empty list item at column 3; remove the extra comma"),
    ("5, * * * *", "minute field `5,` has an empty list item at column 3"),
    (
        "0 22-2 * * *",
        "hour field range `22-2` (column 3) runs backwards; ranges do not wrap around, so write it as a list such as `22-23,0-2`",
    ),
    (
        "0 0 * * FRI-MON",
        "day-of-week field range `FRI-MON` (column 9) runs backwards; ranges do not wrap around, so write it as a list such as `5-6,0-1`",
    ),
    ("0 0 31-1 * *", "write it as a list such as `31,1`"),
    ("0 0 * * SAT-MON", "write it as a list such as `6,0-1`"),
    // Steps.
    ("*/0 * * * *", "minute field step `/0` (column 3) must be a number from 1 to 60"),
    ("*/61 * * * *", "minute field step `/61` (column 3) must be a number from 1 to 60"),
    ("0 0 * * */8", "day-of-week field step `/8` (column 11) must be a number from 1 to 7"),
    ("0 */99999999999 * * *", "hour field step `/99999999999` (column 5) must be a number from 1 to 24"),
    ("*/+5 * * * *", "minute field step `/+5`"),
    ("*/ * * * *", "minute field step `/`"),
    // Crons that never fire.
    ("0 0 30 2 *", "cron `0 0 30 2 *` never fires: February has no day 30"),
    ("0 0 30,31 FEB *", "never fires: February has no day 30 or 31"),
    ("0 0 31 4,6 *", "never fires: April and June have no day 31"),
    ("0 0 31 2,4,6,9,11 *", "never fires: February, April, June, September and November have no day 31"),
    ("0 0 30 2 */2", "never fires: February has no day 30"),
    // Macros.
    (
        "@dayly",
        "unknown macro `@dayly`; use @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or `@every DURATION`",
    ),
    ("@reboot", "unknown macro `@reboot`"),
    ("@daily 9", "macro `@daily` takes no arguments, but `9` follows it"),
    // Intervals.
    ("@every", "interval `` is invalid: the duration is missing; write `@every 15m`"),
    ("@every 0s", "interval `0s` must be longer than zero"),
    ("@every 0h0m", "interval `0h0m` must be longer than zero"),
    ("@every -5m", "interval `-5m` must be longer than zero"),
    ("@every 15", "interval `15` is invalid: `15` has no unit; add s, m, h or d, as in `15m`"),
    ("@every 15x", "interval `15x` is invalid: unknown unit `x`; use s, m, h or d (lower case)"),
    ("@every 1H", "unknown unit `H`"),
    ("@every h", "interval `h` is invalid: expected a number before `h`"),
    ("@every 1.5h", "fractions are not supported; write `1h30m` instead of `1.5h`"),
    (
        "@every 99999999999999999999s",
        "interval `99999999999999999999s` is too long; write at most 36500d (about 100 years)",
    ),
    ("@every 36501d", "interval `36501d` is too long; write at most 36500d"),
    ("@every 200000000000000d", "interval `200000000000000d` is too long"),
    ("@every 1m9223372036854775807s", "is too long"),
    ("@every 1h1h", "unit `h` comes after a unit that is not larger"),
    ("@every 30m1h", "unit `h` comes after a unit that is not larger"),
    ("@every 15m 30s", "unexpected `30s` after `15m`; write one duration such as `1h30m`"),
    ("@every 15m from", "`from` needs an instant, as in `from 2026-01-01T00:00:00Z`"),
    ("@every 15m from 2026-01-01T00:00:00", "anchor `2026-01-01T00:00:00` is not a valid instant ("),
    ("@every 15m from yesterday", "anchor `yesterday` is not a valid instant"),
];

#[test]
fn bad_specs_explain_the_fix() {
    for (spec, fragment) in BAD_SPECS {
        let message = match Schedule::parse(spec, "UTC") {
            Ok(schedule) => panic!("`{spec}` parsed as `{schedule}`, expected an error containing `{fragment}`"),
            Err(error) => error.to_string(),
        };
        assert!(message.contains(fragment), "`{spec}`:\n  message:  {message}\n  expected: {fragment}");
    }
}

#[test]
fn unknown_time_zone_suggests_close_name() {
    let error = Schedule::parse("@daily", "Europe/Berln").unwrap_err();

    assert_eq!(error.to_string(), "unknown time zone `Europe/Berln`; use an IANA name such as `Europe/Berlin`");
}

#[test]
fn unknown_time_zone_without_close_name() {
    let error = Schedule::parse("@daily", "Mars/Olympus_Mons").unwrap_err();

    assert_eq!(
        error.to_string(),
        "unknown time zone `Mars/Olympus_Mons`; use an IANA name such as `America/New_York`, `Europe/Berlin` or `UTC`"
    );
}

#[test]
fn unknown_time_zone_missing_region() {
    let error = Schedule::parse("@daily", "New York").unwrap_err();

    assert_eq!(error.to_string(), "unknown time zone `New York`; use an IANA name such as `America/New_York`");
}

#[test]
fn error_fields_can_be_matched() {
    let error = Schedule::parse("0 0 * * 9", "UTC").unwrap_err();

    let ScheduleError::OutOfRange { field, value, column, min, max } = error else {
        panic!("expected OutOfRange, got {error:?}");
    };
    assert_eq!(field, Field::DayOfWeek);
    assert_eq!(value, "9");
    assert_eq!(column, 9);
    assert_eq!((min, max), (0, 7));
}

#[test]
fn valid_edge_specs_parse() {
    let specs = [
        "0 0 29 2 *",
        "59 23 31 12 7",
        "0-59 0-23 1-31 1-12 0-7",
        "59 59 23 31 12 *",
        "0 0 1,15 * MON",
        "*/60 * * * *",
        "0 0 * * */7",
        "@every 1s",
        "@every 36500d",
        "@every 90s from 2026-01-01T00:00:00Z",
        "@EVERY 15m from 2026-01-01T00:00:00-05:00",
        "@every 1h from 2026-01-01 00:00:00Z",
    ];
    for spec in specs {
        if let Err(error) = Schedule::parse(spec, "UTC") {
            panic!("`{spec}` failed: {error}");
        }
    }
}

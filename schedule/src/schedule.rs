//! [`Schedule`]: a parsed spec in a time zone, and the queries for its fire
//! times.

use std::fmt;
use std::iter::FusedIterator;

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, Zoned};

use crate::cron::Cron;
use crate::error::ScheduleError;
use crate::interval::Interval;
use crate::zone;

/// A cron expression or an interval, in an IANA time zone.
///
/// See the [crate documentation](crate) for the spec syntax and the rule
/// for daylight saving time.
#[derive(Clone, Debug)]
pub struct Schedule {
    kind: Kind,
    time_zone: TimeZone,
    time_zone_name: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    Cron(Cron),
    Interval(Interval),
}

impl Schedule {
    /// Parses a spec such as `*/15 9-17 * * MON-FRI`, `@daily` or
    /// `@every 1h30m` in the IANA time zone `time_zone`, such as
    /// `Europe/Berlin` or `UTC`. Zone names ignore ASCII case.
    ///
    /// # Errors
    ///
    /// Returns an error for an unknown time zone, invalid syntax, a value
    /// out of range, a cron that matches no date (such as `0 0 30 2 *`), or
    /// an interval that is not positive or does not fit in `i64` seconds.
    /// The message names the bad value, its field and column, and the fix.
    pub fn parse(spec: &str, time_zone: &str) -> Result<Schedule, ScheduleError> {
        let kind = parse_kind(spec)?;
        let zone = zone::lookup(time_zone)?;
        // The database's spelling, so `america/new_york` reads `America/New_York`.
        let time_zone_name = zone.iana_name().unwrap_or(time_zone).to_owned();
        Ok(Schedule { kind, time_zone: zone, time_zone_name })
    }

    /// Returns the time zone in which fire times are computed and shown.
    pub fn time_zone(&self) -> &TimeZone {
        &self.time_zone
    }

    /// Returns the IANA name of the time zone, such as `Europe/Berlin`.
    pub fn time_zone_name(&self) -> &str {
        &self.time_zone_name
    }

    /// Returns whether this is an `@every` schedule, whose fire times are
    /// evenly spaced in absolute time.
    pub fn is_interval(&self) -> bool {
        matches!(self.kind, Kind::Interval(_))
    }

    /// Returns the first fire time strictly after `after`, in the schedule's
    /// time zone, or `None` if it would lie past the end of jiff's range
    /// (9999-12-30T22:00:00.999999999Z).
    pub fn next_after(&self, after: Timestamp) -> Option<Zoned> {
        self.next_instant_after(after).map(|instant| self.zoned(instant))
    }

    /// Returns the last fire time at or before `until`, in the schedule's
    /// time zone, or `None` if it would lie before the start of jiff's range.
    ///
    /// A scheduler with the misfire policy "latest only" runs this one slot
    /// after downtime, if it lies after the last run.
    pub fn last_at_or_before(&self, until: Timestamp) -> Option<Zoned> {
        let instant = match &self.kind {
            Kind::Cron(cron) => cron_last_at_or_before(cron, &self.time_zone, until),
            Kind::Interval(interval) => interval.last_at_or_before(until),
        };
        instant.map(|instant| self.zoned(instant))
    }

    /// Returns the fire times strictly after `after`, in increasing order.
    /// The iterator ends at the end of jiff's range.
    pub fn fire_times(&self, after: Timestamp) -> FireTimes<'_> {
        FireTimes { schedule: self, after: Some(after) }
    }

    /// Lists the fire times strictly after `after` and at or before `until`,
    /// at most `limit` of them, earliest first.
    ///
    /// This lists the slots missed during downtime: `after` is the last
    /// slot that ran (or the start of a catch-up window) and `until` is now.
    /// If more than `limit` slots exist, the result contains the first `limit`
    /// and sets [`FireTimesBetween::truncated`].
    pub fn fire_times_between(&self, after: Timestamp, until: Timestamp, limit: usize) -> FireTimesBetween {
        let mut times = Vec::new();
        let mut truncated = false;
        for time in self.fire_times(after) {
            if time.timestamp() > until {
                break;
            }
            if times.len() == limit {
                truncated = true;
                break;
            }
            times.push(time);
        }
        FireTimesBetween { times, truncated }
    }

    fn next_instant_after(&self, after: Timestamp) -> Option<Timestamp> {
        match &self.kind {
            Kind::Cron(cron) => cron_next_after(cron, &self.time_zone, after),
            Kind::Interval(interval) => interval.next_after(after),
        }
    }

    fn zoned(&self, instant: Timestamp) -> Zoned {
        instant.to_zoned(self.time_zone.clone())
    }
}

impl fmt::Display for Schedule {
    /// Writes the normalized spec, without the time zone: fields separated
    /// by one space, names as numbers, `@annually` as `@yearly`,
    /// `@midnight` as `@daily`, and intervals in d, h, m and s with the
    /// anchor in UTC. Parsing the output with the same zone gives the same
    /// schedule.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Cron(cron) => cron.fmt(f),
            Kind::Interval(interval) => interval.fmt(f),
        }
    }
}

impl PartialEq for Schedule {
    /// Schedules are equal if they have the same normalized spec and zone name.
    fn eq(&self, other: &Schedule) -> bool {
        self.kind == other.kind && self.time_zone_name == other.time_zone_name
    }
}

impl Eq for Schedule {}

/// The iterator from [`Schedule::fire_times`].
#[derive(Clone, Debug)]
pub struct FireTimes<'a> {
    schedule: &'a Schedule,
    /// The last fire time returned, or the start; `None` once the range ends.
    after: Option<Timestamp>,
}

impl Iterator for FireTimes<'_> {
    type Item = Zoned;

    fn next(&mut self) -> Option<Zoned> {
        let next = self.schedule.next_instant_after(self.after?);
        self.after = next;
        next.map(|instant| self.schedule.zoned(instant))
    }
}

impl FusedIterator for FireTimes<'_> {}

/// The result of [`Schedule::fire_times_between`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FireTimesBetween {
    /// The fire times found, earliest first.
    pub times: Vec<Zoned>,
    /// Whether more fire times lie in the range after the last one listed.
    pub truncated: bool,
}

/// Parses the spec without the time zone.
fn parse_kind(spec: &str) -> Result<Kind, ScheduleError> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Err(ScheduleError::Empty);
    }
    if !spec.starts_with('@') {
        return Ok(Kind::Cron(Cron::parse(spec)?));
    }

    let (name, rest) = match spec.split_once(char::is_whitespace) {
        Some((name, rest)) => (name, rest.trim_start()),
        None => (spec, ""),
    };
    if name.eq_ignore_ascii_case("@every") {
        return Ok(Kind::Interval(Interval::parse(rest)?));
    }
    let cron = Cron::parse_macro(name)?;
    if !rest.is_empty() {
        return Err(ScheduleError::MacroArguments { name: name.to_owned(), extra: rest.to_owned() });
    }
    Ok(Kind::Cron(cron))
}

/// Returns the first instant strictly after `after` at which the cron
/// fires in `time_zone`.
fn cron_next_after(cron: &Cron, time_zone: &TimeZone, after: Timestamp) -> Option<Timestamp> {
    // The first candidate is the next whole second on the wall clock. In the
    // second pass through repeated wall-clock times, those times already
    // fired, so the search starts after them.
    let mut from = match zone::second_pass_end(time_zone, after) {
        Some(end) => ceil_to_second(end)?,
        None => floor_to_second(time_zone.to_datetime(after)).checked_add(SignedDuration::from_secs(1)).ok()?,
    };

    // Fire instants never decrease as wall-clock time increases, so the
    // first candidate fires after `after` and the loop runs once.
    // NOTE: the loop only guards against zone data that breaks this.
    loop {
        let local = cron.next_match(from)?;
        let instant = zone::fire_instant(time_zone, local)?;
        if instant > after {
            return Some(instant);
        }
        from = local.checked_add(SignedDuration::from_secs(1)).ok()?;
    }
}

/// Returns the last instant at or before `until` at which the cron fires
/// in `time_zone`.
fn cron_last_at_or_before(cron: &Cron, time_zone: &TimeZone, until: Timestamp) -> Option<Timestamp> {
    // In the second pass through repeated wall-clock times, all of them
    // fired in the first pass, so all lie before `until`.
    let mut from = match zone::second_pass_end(time_zone, until) {
        Some(end) => floor_to_second(end.checked_sub(SignedDuration::from_nanos(1)).ok()?),
        None => floor_to_second(time_zone.to_datetime(until)),
    };

    // As in `cron_next_after`, the first candidate fits unless the zone
    // data breaks the ordering of fire instants.
    loop {
        let local = cron.prev_match(from)?;
        let instant = zone::fire_instant(time_zone, local)?;
        if instant <= until {
            return Some(instant);
        }
        from = local.checked_sub(SignedDuration::from_secs(1)).ok()?;
    }
}

fn floor_to_second(local: DateTime) -> DateTime {
    local.with().subsec_nanosecond(0).build().unwrap_or(local)
}

fn ceil_to_second(local: DateTime) -> Option<DateTime> {
    if local.subsec_nanosecond() == 0 {
        return Some(local);
    }
    floor_to_second(local).checked_add(SignedDuration::from_secs(1)).ok()
}

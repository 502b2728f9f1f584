//! Interval schedules: `@every DURATION [from INSTANT]`.
//!
//! An interval fires at `anchor + k * period` for every integer `k`, in
//! absolute time. Daylight saving time cannot change the spacing, because
//! no wall-clock time is involved.

use std::fmt;

use jiff::Timestamp;

use crate::error::ScheduleError;

/// The units of a duration, largest first, with their length in seconds.
/// A day is exactly 24 hours.
const UNITS: [(char, i64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];

/// The maximum period: 36,500 days (about 100 years). A longer one would
/// never fire in practice, so it is most likely a typing mistake.
const MAX_PERIOD_SECONDS: i64 = 36_500 * 86_400;

/// A parsed `@every` schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Interval {
    /// Always greater than zero.
    period_seconds: i64,
    /// The instant that fires when `k` is 0.
    anchor: Timestamp,
}

impl Interval {
    /// Parses the text after `@every`: a duration such as `1h30m`,
    /// optionally followed by `from` and an RFC 3339 instant.
    pub(crate) fn parse(text: &str) -> Result<Interval, ScheduleError> {
        let text = text.trim();
        let invalid = |reason: String| ScheduleError::InvalidInterval { text: text.to_owned(), reason };

        let (duration, rest) = match text.split_once(char::is_whitespace) {
            Some((duration, rest)) => (duration, rest.trim_start()),
            None => (text, ""),
        };
        if duration.is_empty() {
            return Err(invalid("the duration is missing; write `@every 15m` or `@every 1h30m`".to_owned()));
        }
        let period_seconds = parse_duration(duration)?;

        let anchor = if rest.is_empty() {
            Timestamp::UNIX_EPOCH
        } else {
            let (keyword, anchor) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            if keyword != "from" {
                return Err(invalid(format!(
                    "unexpected `{rest}` after `{duration}`; write one duration such as `1h30m`, \
                     optionally followed by `from 2026-01-01T00:00:00Z`"
                )));
            }
            if anchor.trim().is_empty() {
                return Err(invalid("`from` needs an instant, as in `from 2026-01-01T00:00:00Z`".to_owned()));
            }
            parse_anchor(anchor.trim())?
        };

        Ok(Interval { period_seconds, anchor })
    }

    /// Returns the first fire time strictly after `after`, or `None` past
    /// the end of jiff's range.
    pub(crate) fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        let periods = self.periods_since_anchor(after).checked_add(1)?;
        self.fire_time(periods)
    }

    /// Returns the last fire time at or before `until`, or `None` before the
    /// start of jiff's range.
    pub(crate) fn last_at_or_before(&self, until: Timestamp) -> Option<Timestamp> {
        self.fire_time(self.periods_since_anchor(until))
    }

    /// Returns `k` such that `anchor + k * period <= instant < anchor + (k + 1) * period`.
    fn periods_since_anchor(&self, instant: Timestamp) -> i128 {
        // Timestamps span about 6.3e20 ns and a period at most 3.2e18 ns, so
        // the i128 arithmetic here and in `fire_time` cannot overflow.
        let since_anchor = instant.as_nanosecond() - self.anchor.as_nanosecond();
        since_anchor.div_euclid(self.period_nanoseconds())
    }

    fn fire_time(&self, periods: i128) -> Option<Timestamp> {
        let nanoseconds = self.anchor.as_nanosecond() + periods * self.period_nanoseconds();
        Timestamp::from_nanosecond(nanoseconds).ok()
    }

    fn period_nanoseconds(&self) -> i128 {
        i128::from(self.period_seconds) * 1_000_000_000
    }
}

impl fmt::Display for Interval {
    /// Writes `@every` with the period in d, h, m and s, largest first, and
    /// the anchor in UTC unless it is the Unix epoch.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("@every ")?;
        let mut remaining = self.period_seconds;
        for (unit, seconds) in UNITS {
            if remaining >= seconds {
                write!(f, "{}{unit}", remaining / seconds)?;
                remaining %= seconds;
            }
        }
        if self.anchor != Timestamp::UNIX_EPOCH {
            write!(f, " from {}", self.anchor)?;
        }
        Ok(())
    }
}

/// Parses a duration such as `90s`, `15m` or `1d12h` into seconds. Each
/// part is a whole number followed by one of the units d, h, m or s.
fn parse_duration(text: &str) -> Result<i64, ScheduleError> {
    let invalid = |reason: String| ScheduleError::InvalidInterval { text: text.to_owned(), reason };
    if text.starts_with('-') {
        return Err(ScheduleError::NonPositiveInterval { text: text.to_owned() });
    }
    if text.contains('.') {
        return Err(invalid("fractions are not supported; write `1h30m` instead of `1.5h`".to_owned()));
    }

    let too_long = || ScheduleError::IntervalTooLong { text: text.to_owned(), max_seconds: MAX_PERIOD_SECONDS };
    let mut total: i64 = 0;
    let mut rest = text;
    // The largest unit first and each unit once, as in `1d12h` or `1h30m`.
    let mut previous_unit_seconds = i64::MAX;
    while !rest.is_empty() {
        let digits_end = rest.find(|ch: char| !ch.is_ascii_digit()).unwrap_or(rest.len());
        let (digits, after_digits) = rest.split_at(digits_end);
        let Some(unit) = after_digits.chars().next() else {
            return Err(invalid(format!("`{digits}` has no unit; add s, m, h or d, as in `{digits}m`")));
        };
        if digits.is_empty() {
            return Err(invalid(format!(
                "expected a number before `{unit}`; write a duration such as `15m` or `1h30m`"
            )));
        }
        let Some((_, unit_seconds)) = UNITS.iter().find(|(name, _)| *name == unit) else {
            return Err(invalid(format!("unknown unit `{unit}`; use s, m, h or d (lower case)")));
        };

        if *unit_seconds >= previous_unit_seconds {
            return Err(invalid(format!(
                "unit `{unit}` comes after a unit that is not larger; write each unit once, largest first, as in `1h30m`"
            )));
        }
        previous_unit_seconds = *unit_seconds;

        // Digits that overflow i64 are too long like any other large value.
        let count = digits.parse::<i64>().map_err(|_| too_long())?;
        let seconds = count.checked_mul(*unit_seconds).ok_or_else(too_long)?;
        total = total.checked_add(seconds).ok_or_else(too_long)?;
        rest = &after_digits[unit.len_utf8()..];
    }

    if total == 0 {
        return Err(ScheduleError::NonPositiveInterval { text: text.to_owned() });
    }
    if total > MAX_PERIOD_SECONDS {
        return Err(too_long());
    }
    Ok(total)
}

/// Parses an anchor instant. It must carry `Z` or a UTC offset, because an
/// interval is defined in absolute time.
fn parse_anchor(text: &str) -> Result<Timestamp, ScheduleError> {
    text.parse::<Timestamp>()
        .map_err(|error| ScheduleError::InvalidAnchor { text: text.to_owned(), reason: error.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_sums_parts() {
        assert_eq!(parse_duration("1h30m"), Ok(5_400));
        assert_eq!(parse_duration("1d"), Ok(86_400));
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("2d3h4m5s"), Ok(2 * 86_400 + 3 * 3_600 + 4 * 60 + 5));
        assert_eq!(parse_duration("36500d"), Ok(MAX_PERIOD_SECONDS));
    }

    #[test]
    fn display_uses_largest_units() {
        let interval = Interval::parse("90m").unwrap();

        assert_eq!(interval.to_string(), "@every 1h30m");
    }
}

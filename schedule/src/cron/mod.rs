//! Cron expressions: parsing and the search for matching wall-clock times.
//!
//! This module works in civil (wall-clock) time only. Mapping a matching
//! civil time to an instant, with the DST rule, is the job of
//! [`crate::zone`].

mod field;

use std::fmt;

use jiff::civil::{Date, DateTime};

use crate::error::ScheduleError;
use field::{DAY_OF_MONTH, DAY_OF_WEEK, HOUR, MINUTE, MONTH, SECOND, ValueSet};

/// The smallest and largest years of jiff's civil calendar.
const MIN_YEAR: i32 = -9999;
const MAX_YEAR: i32 = 9999;

/// The window in which a cron must match at least once. Calendars repeat
/// their leap years and weekdays every 28 years from 1901 to 2099, so a
/// cron that matches no date in these 28 years matches no date at all.
const CHECK_FROM_YEAR: i16 = 2000;
const CHECK_YEARS: i16 = 28;

/// A parsed cron expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cron {
    seconds: ValueSet,
    minutes: ValueSet,
    hours: ValueSet,
    days_of_month: ValueSet,
    months: ValueSet,
    /// Days of the week with Sunday as 0.
    days_of_week: ValueSet,
    /// Vixie cron's rule: if either day field starts with `*`, a day must
    /// match both fields, otherwise it must match either.
    days_match_both: bool,
    text: CronText,
}

/// The text that `Display` writes for a cron.
#[derive(Clone, Debug, PartialEq, Eq)]
enum CronText {
    Macro(&'static str),
    Fields(Vec<String>),
}

impl Cron {
    /// Parses a macro such as `@daily`, written without arguments.
    pub(crate) fn parse_macro(name: &str) -> Result<Cron, ScheduleError> {
        let (canonical, fields) = match name.to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" => ("@yearly", "0 0 1 1 *"),
            "@monthly" => ("@monthly", "0 0 1 * *"),
            "@weekly" => ("@weekly", "0 0 * * 0"),
            "@daily" | "@midnight" => ("@daily", "0 0 * * *"),
            "@hourly" => ("@hourly", "0 * * * *"),
            _ => return Err(ScheduleError::UnknownMacro { name: name.to_owned() }),
        };
        let mut cron = Cron::parse(fields)?;
        cron.text = CronText::Macro(canonical);
        Ok(cron)
    }

    /// Parses 5 fields (minute hour day-of-month month day-of-week) or 6
    /// fields (second first), separated by whitespace.
    pub(crate) fn parse(spec: &str) -> Result<Cron, ScheduleError> {
        let fields = split_with_columns(spec);
        let specs = match fields.len() {
            5 => &[MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK][..],
            6 => &[SECOND, MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK][..],
            count => return Err(ScheduleError::FieldCount { spec: spec.to_owned(), count }),
        };

        let mut parsed = Vec::with_capacity(6);
        for (spec, (text, column)) in specs.iter().zip(&fields) {
            parsed.push(field::parse_field(spec, text, *column)?);
        }

        // Five fields fire at second 0.
        if parsed.len() == 5 {
            let zero = field::parse_field(&SECOND, "0", 1)?;
            parsed.insert(0, zero);
        }
        let [second, minute, hour, day_of_month, month, day_of_week] = <[_; 6]>::try_from(parsed).unwrap();

        let text = if fields.len() == 6 {
            [&second, &minute, &hour, &day_of_month, &month, &day_of_week].map(|f| f.normalized.clone()).to_vec()
        } else {
            [&minute, &hour, &day_of_month, &month, &day_of_week].map(|f| f.normalized.clone()).to_vec()
        };

        let cron = Cron {
            seconds: second.values,
            minutes: minute.values,
            hours: hour.values,
            days_of_month: day_of_month.values,
            months: month.values,
            days_of_week: day_of_week.values,
            days_match_both: day_of_month.starts_with_star || day_of_week.starts_with_star,
            text: CronText::Fields(text),
        };
        cron.check_fires(spec)?;
        Ok(cron)
    }

    /// Rejects a cron that matches no date in the check window.
    fn check_fires(&self, spec: &str) -> Result<(), ScheduleError> {
        let start = Date::new(CHECK_FROM_YEAR, 1, 1).unwrap().at(0, 0, 0, 0);
        let end = Date::new(CHECK_FROM_YEAR + CHECK_YEARS, 1, 1).unwrap().at(0, 0, 0, 0);
        match self.next_match(start) {
            Some(found) if found < end => Ok(()),
            _ => Err(ScheduleError::NeverFires { spec: spec.trim().to_owned(), reason: self.missing_days() }),
        }
    }

    /// Describes why no date matches, for the error message.
    ///
    /// Only one cause exists. When both day fields must match, one of them
    /// starts with `*` and so contains day 1 or Sunday, and each month starts
    /// on every weekday and each date falls on a Sunday in some year. When
    /// either may match, the day-of-week field alone matches a day of every
    /// month. So a cron never fires exactly when none of its months has any
    /// of its days of the month.
    fn missing_days(&self) -> String {
        let months: Vec<&str> = self.months.iter().map(month_full_name).collect();
        let days: Vec<String> = self.days_of_month.iter().map(|day| day.to_string()).collect();
        let verb = if months.len() == 1 { "has" } else { "have" };
        format!("{} {verb} no day {}", join_words(&months, "and"), join_words(&days, "or"))
    }

    /// Returns the first matching civil time at or after `from`, which has
    /// no fraction of a second, or `None` after the year 9999.
    pub(crate) fn next_match(&self, from: DateTime) -> Option<DateTime> {
        let mut year = i32::from(from.year());
        let mut month = i32::from(from.month());
        let mut day = i32::from(from.day());
        let mut hour = i32::from(from.hour());
        let mut minute = i32::from(from.minute());
        let mut second = i32::from(from.second());

        // Each pass either returns or moves the candidate forward, and the
        // year check ends the search.
        loop {
            if year > MAX_YEAR {
                return None;
            }

            match self.months.next_at_or_after(month) {
                Some(found) if found == month => {}
                Some(found) => (month, day, hour, minute, second) = (found, 1, 0, 0, 0),
                None => {
                    (year, month, day, hour, minute, second) = (year + 1, 1, 1, 0, 0, 0);
                    continue;
                }
            }

            match self.days_in(year, month).next_at_or_after(day) {
                Some(found) if found == day => {}
                Some(found) => (day, hour, minute, second) = (found, 0, 0, 0),
                None => {
                    (month, day, hour, minute, second) = (month + 1, 1, 0, 0, 0);
                    if month > 12 {
                        (year, month) = (year + 1, 1);
                    }
                    continue;
                }
            }

            match self.hours.next_at_or_after(hour) {
                Some(found) if found == hour => {}
                Some(found) => (hour, minute, second) = (found, 0, 0),
                None => {
                    (day, hour, minute, second) = (day + 1, 0, 0, 0);
                    continue;
                }
            }

            match self.minutes.next_at_or_after(minute) {
                Some(found) if found == minute => {}
                Some(found) => (minute, second) = (found, 0),
                None => {
                    (hour, minute, second) = (hour + 1, 0, 0);
                    continue;
                }
            }

            match self.seconds.next_at_or_after(second) {
                Some(found) => second = found,
                None => {
                    (minute, second) = (minute + 1, 0);
                    continue;
                }
            }

            return civil(year, month, day, hour, minute, second);
        }
    }

    /// Returns the last matching civil time at or before `from`, which has
    /// no fraction of a second, or `None` before the year -9999.
    pub(crate) fn prev_match(&self, from: DateTime) -> Option<DateTime> {
        let mut year = i32::from(from.year());
        let mut month = i32::from(from.month());
        let mut day = i32::from(from.day());
        let mut hour = i32::from(from.hour());
        let mut minute = i32::from(from.minute());
        let mut second = i32::from(from.second());

        // The mirror image of `next_match`. Day 31 stands for "the last day
        // of the month": the day mask has no bits past the month's end.
        loop {
            if year < MIN_YEAR {
                return None;
            }

            match self.months.prev_at_or_before(month) {
                Some(found) if found == month => {}
                Some(found) => (month, day, hour, minute, second) = (found, 31, 23, 59, 59),
                None => {
                    (year, month, day, hour, minute, second) = (year - 1, 12, 31, 23, 59, 59);
                    continue;
                }
            }

            match self.days_in(year, month).prev_at_or_before(day) {
                Some(found) if found == day => {}
                Some(found) => (day, hour, minute, second) = (found, 23, 59, 59),
                None => {
                    (month, day, hour, minute, second) = (month - 1, 31, 23, 59, 59);
                    if month < 1 {
                        (year, month) = (year - 1, 12);
                    }
                    continue;
                }
            }

            match self.hours.prev_at_or_before(hour) {
                Some(found) if found == hour => {}
                Some(found) => (hour, minute, second) = (found, 59, 59),
                None => {
                    (day, hour, minute, second) = (day - 1, 23, 59, 59);
                    continue;
                }
            }

            match self.minutes.prev_at_or_before(minute) {
                Some(found) if found == minute => {}
                Some(found) => (minute, second) = (found, 59),
                None => {
                    (hour, minute, second) = (hour - 1, 59, 59);
                    continue;
                }
            }

            match self.seconds.prev_at_or_before(second) {
                Some(found) => second = found,
                None => {
                    (minute, second) = (minute - 1, 59);
                    continue;
                }
            }

            return civil(year, month, day, hour, minute, second);
        }
    }

    /// Returns the days of `month` that match the day fields, combined by
    /// the Vixie rule, one bit per day from bit 1.
    fn days_in(&self, year: i32, month: i32) -> ValueSet {
        // The callers keep `year` within -9999..=9999 and `month` within 1..=12.
        let Ok(first) = Date::new(year as i16, month as i8, 1) else {
            return ValueSet::EMPTY;
        };
        let days_in_month = u32::from(first.days_in_month() as u8);
        let first_weekday = i32::from(first.weekday().to_sunday_zero_offset());

        let mut weekday_matches = 0u64;
        for day in 1..=days_in_month {
            if self.days_of_week.contains((first_weekday + day as i32 - 1) % 7) {
                weekday_matches |= 1 << day;
            }
        }
        let month_days = ((1u64 << days_in_month) - 1) << 1;

        let day_of_month = self.days_of_month.bits();
        let matches =
            if self.days_match_both { day_of_month & weekday_matches } else { day_of_month | weekday_matches };
        ValueSet::from_bits(matches & month_days)
    }
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.text {
            CronText::Macro(name) => f.write_str(name),
            CronText::Fields(fields) => f.write_str(&fields.join(" ")),
        }
    }
}

fn civil(year: i32, month: i32, day: i32, hour: i32, minute: i32, second: i32) -> Option<DateTime> {
    DateTime::new(year as i16, month as i8, day as i8, hour as i8, minute as i8, second as i8, 0).ok()
}

/// Splits on whitespace and pairs each word with its 1-based character column.
fn split_with_columns(spec: &str) -> Vec<(&str, usize)> {
    let mut words = Vec::new();
    let mut start = None;
    let mut column = 0;
    for (index, ch) in spec.char_indices() {
        column += 1;
        match (ch.is_whitespace(), start) {
            (false, None) => start = Some((index, column)),
            (true, Some((begin, begin_column))) => {
                words.push((&spec[begin..index], begin_column));
                start = None;
            }
            _ => {}
        }
    }
    if let Some((begin, begin_column)) = start {
        words.push((&spec[begin..], begin_column));
    }
    words
}

fn month_full_name(month: i32) -> &'static str {
    const NAMES: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    NAMES[(month - 1) as usize]
}

/// Joins words as English does: "a", "a or b", "a, b or c".
fn join_words<S: AsRef<str>>(words: &[S], conjunction: &str) -> String {
    match words {
        [] => String::new(),
        [only] => only.as_ref().to_owned(),
        [rest @ .., last] => {
            let rest: Vec<&str> = rest.iter().map(AsRef::as_ref).collect();
            format!("{} {conjunction} {}", rest.join(", "), last.as_ref())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn columns_count_characters() {
        let words = split_with_columns("  0 \t9 ü *");

        assert_eq!(words, [("0", 3), ("9", 6), ("ü", 8), ("*", 10)]);
    }

    #[test]
    fn next_match_rolls_over_year() {
        let cron = Cron::parse("0 0 1 1 *").unwrap();

        let found = cron.next_match(date(2026, 1, 1).at(0, 0, 1, 0));

        assert_eq!(found, Some(date(2027, 1, 1).at(0, 0, 0, 0)));
    }

    #[test]
    fn prev_match_rolls_back_year() {
        let cron = Cron::parse("59 23 31 12 *").unwrap();

        let found = cron.prev_match(date(2026, 12, 31).at(23, 58, 59, 0));

        assert_eq!(found, Some(date(2025, 12, 31).at(23, 59, 0, 0)));
    }

    #[test]
    fn prev_match_finds_month_end() {
        let cron = Cron::parse("0 12 28-31 * *").unwrap();

        let found = cron.prev_match(date(2026, 3, 1).at(0, 0, 0, 0));

        assert_eq!(found, Some(date(2026, 2, 28).at(12, 0, 0, 0)));
    }

    #[test]
    fn search_stops_at_calendar_edges() {
        let cron = Cron::parse("0 0 29 2 *").unwrap();

        assert_eq!(cron.next_match(date(9997, 3, 1).at(0, 0, 0, 0)), None);
        assert_eq!(cron.prev_match(date(-9999, 12, 31).at(0, 0, 0, 0)), None);
    }

    #[test]
    fn join_words_lists() {
        assert_eq!(join_words(&["30"], "or"), "30");
        assert_eq!(join_words(&["30", "31"], "or"), "30 or 31");
        assert_eq!(join_words(&["April", "June", "November"], "and"), "April, June and November");
    }
}

//! Errors from [`Schedule::parse`](crate::Schedule::parse).
//!
//! Each message names the bad value, where it sits (the cron field and the
//! 1-based character column in the spec) and how to fix it.

use std::fmt;

/// A field of a cron expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// Seconds 0-59, the first of six fields.
    Second,
    /// Minutes 0-59.
    Minute,
    /// Hours 0-23.
    Hour,
    /// Days of the month 1-31.
    DayOfMonth,
    /// Months 1-12 or JAN-DEC.
    Month,
    /// Days of the week 0-7 or SUN-SAT, where 0 and 7 are both Sunday.
    DayOfWeek,
}

impl Field {
    /// Returns the field's name as the error messages write it, such as `day-of-month`.
    pub fn name(self) -> &'static str {
        match self {
            Field::Second => "second",
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An invalid schedule spec or time zone.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// The spec is empty or contains only whitespace.
    #[error("schedule is empty; write a cron expression such as `0 9 * * *` or an interval such as `@every 15m`")]
    Empty,

    /// The time zone is not in the bundled IANA time zone database.
    #[error("unknown time zone `{name}`; use an IANA name such as {suggestion}")]
    UnknownTimeZone {
        /// The name as given.
        name: String,
        /// One or more example names in backticks, the closest match first.
        suggestion: String,
    },

    /// A cron expression with a field count other than 5 or 6.
    #[error(
        "cron `{spec}` has {count} fields; expected 5 (minute hour day-of-month month day-of-week) \
         or 6 (second minute hour day-of-month month day-of-week)"
    )]
    FieldCount {
        /// The spec as given.
        spec: String,
        /// The number of whitespace-separated fields found.
        count: usize,
    },

    /// A number outside the field's range.
    #[error("{field} field `{value}` (column {column}) is out of range {min}-{max}")]
    OutOfRange {
        /// The field that contains the value.
        field: Field,
        /// The value as written.
        value: String,
        /// The 1-based character column of the value in the spec.
        column: usize,
        /// The smallest value the field accepts.
        min: u8,
        /// The largest value the field accepts.
        max: u8,
    },

    /// Text that is neither a number nor a name that the field accepts.
    #[error("{field} field `{value}` (column {column}) is not a valid value; use {expected}")]
    InvalidValue {
        /// The field that contains the value.
        field: Field,
        /// The list item as written.
        value: String,
        /// The 1-based character column of the item in the spec.
        column: usize,
        /// The values the field accepts, such as "a number 1-12 or a name JAN-DEC".
        expected: &'static str,
    },

    /// A list with an empty item, as in `1,,2` or `1,`.
    #[error("{field} field `{text}` has an empty list item at column {column}; remove the extra comma")]
    EmptyListItem {
        /// The field that contains the list.
        field: Field,
        /// The whole field as written.
        text: String,
        /// The 1-based character column where the empty item starts.
        column: usize,
    },

    /// A range whose start is greater than its end, as in `22-2`.
    #[error(
        "{field} field range `{range}` (column {column}) runs backwards; ranges do not wrap around, \
         so write it as a list such as `{suggestion}`"
    )]
    BackwardsRange {
        /// The field that contains the range.
        field: Field,
        /// The range as written.
        range: String,
        /// The 1-based character column of the range in the spec.
        column: usize,
        /// The same values written as two ranges that do not wrap.
        suggestion: String,
    },

    /// A step that is not a number from 1 to the number of values in the field.
    #[error("{field} field step `/{step}` (column {column}) must be a number from 1 to {max}")]
    InvalidStep {
        /// The field that contains the step.
        field: Field,
        /// The step as written, without the slash.
        step: String,
        /// The 1-based character column of the step in the spec.
        column: usize,
        /// The largest step the field accepts: its number of distinct values.
        max: u8,
    },

    /// A cron expression that matches no date, such as `0 0 30 2 *`.
    #[error("cron `{spec}` never fires: {reason}")]
    NeverFires {
        /// The spec as given.
        spec: String,
        /// The months and the days they lack, such as "February has no day 30".
        reason: String,
    },

    /// A name after `@` that is not a known macro.
    #[error(
        "unknown macro `{name}`; use @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly \
         or `@every DURATION`"
    )]
    UnknownMacro {
        /// The macro as written, with its `@`.
        name: String,
    },

    /// A macro followed by more text, as in `@daily 9`.
    #[error("macro `{name}` takes no arguments, but `{extra}` follows it; write a 5-field cron for other times")]
    MacroArguments {
        /// The macro as written.
        name: String,
        /// The text after it.
        extra: String,
    },

    /// An `@every` schedule whose text cannot be read.
    #[error("interval `{text}` is invalid: {reason}")]
    InvalidInterval {
        /// The text after `@every`.
        text: String,
        /// The problem and the way to write the interval instead.
        reason: String,
    },

    /// An interval of zero or less.
    #[error("interval `{text}` must be longer than zero; use a duration such as `1m`")]
    NonPositiveInterval {
        /// The duration as written.
        text: String,
    },

    /// An interval longer than 36,500 days (about 100 years).
    #[error("interval `{text}` is too long; write at most {}d (about 100 years)", .max_seconds / 86_400)]
    IntervalTooLong {
        /// The duration as written.
        text: String,
        /// The maximum interval, in seconds.
        max_seconds: i64,
    },

    /// An `@every … from TIME` anchor that is not a valid instant.
    #[error("anchor `{text}` is not a valid instant ({reason}); use an RFC 3339 time such as `2026-01-01T00:00:00Z`")]
    InvalidAnchor {
        /// The anchor as written.
        text: String,
        /// The parser's message.
        reason: String,
    },
}

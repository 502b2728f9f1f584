//! One cron field: its syntax (`*`, lists, ranges, steps, names) and the set
//! of values it matches.

use std::fmt::Write as _;

use crate::error::{Field, ScheduleError};

/// The values a field matches, one bit per value from 0 to 63.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ValueSet(u64);

impl ValueSet {
    pub(crate) const EMPTY: ValueSet = ValueSet(0);

    pub(crate) fn from_bits(bits: u64) -> ValueSet {
        ValueSet(bits)
    }

    pub(crate) fn bits(self) -> u64 {
        self.0
    }

    pub(crate) fn contains(self, value: i32) -> bool {
        (0..64).contains(&value) && self.0 & (1 << value) != 0
    }

    fn insert(&mut self, value: u8) {
        self.0 |= 1 << value;
    }

    fn remove(&mut self, value: u8) {
        self.0 &= !(1 << value);
    }

    /// Returns the smallest member that is at least `value`.
    pub(crate) fn next_at_or_after(self, value: i32) -> Option<i32> {
        if value >= 64 {
            return None;
        }
        let above = self.0 & (u64::MAX << value.max(0));
        (above != 0).then(|| above.trailing_zeros() as i32)
    }

    /// Returns the largest member that is at most `value`.
    pub(crate) fn prev_at_or_before(self, value: i32) -> Option<i32> {
        if value < 0 {
            return None;
        }
        let below = self.0 & (u64::MAX >> (63 - value.min(63)));
        (below != 0).then(|| 63 - below.leading_zeros() as i32)
    }

    pub(crate) fn iter(self) -> impl Iterator<Item = i32> {
        (0..64).filter(move |value| self.contains(*value))
    }
}

/// The range and names of one field.
pub(crate) struct FieldSpec {
    pub(crate) field: Field,
    min: u8,
    max: u8,
    /// Names for the values from `min` on, upper case.
    names: &'static [&'static str],
    expected: &'static str,
}

const MONTH_NAMES: &[&str] = &["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAY_NAMES: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

pub(crate) const SECOND: FieldSpec =
    FieldSpec { field: Field::Second, min: 0, max: 59, names: &[], expected: "a number 0-59" };
pub(crate) const MINUTE: FieldSpec =
    FieldSpec { field: Field::Minute, min: 0, max: 59, names: &[], expected: "a number 0-59" };
pub(crate) const HOUR: FieldSpec =
    FieldSpec { field: Field::Hour, min: 0, max: 23, names: &[], expected: "a number 0-23" };
pub(crate) const DAY_OF_MONTH: FieldSpec =
    FieldSpec { field: Field::DayOfMonth, min: 1, max: 31, names: &[], expected: "a number 1-31" };
pub(crate) const MONTH: FieldSpec =
    FieldSpec { field: Field::Month, min: 1, max: 12, names: MONTH_NAMES, expected: "a number 1-12 or a name JAN-DEC" };
pub(crate) const DAY_OF_WEEK: FieldSpec = FieldSpec {
    field: Field::DayOfWeek,
    min: 0,
    max: 7,
    names: DAY_NAMES,
    expected: "a number 0-7 (0 and 7 are Sunday) or a name SUN-SAT",
};

/// A parsed field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ParsedField {
    pub(crate) values: ValueSet,
    /// Whether the field starts with `*`, as `*` and `*/2` do. Vixie cron
    /// uses this, not the values, to decide how day-of-month and
    /// day-of-week combine.
    pub(crate) starts_with_star: bool,
    /// The field with names replaced by numbers, for `Display`.
    pub(crate) normalized: String,
}

/// Parses one field. `column` is the 1-based character column of `text` in the spec.
pub(crate) fn parse_field(spec: &FieldSpec, text: &str, column: usize) -> Result<ParsedField, ScheduleError> {
    let mut values = ValueSet::EMPTY;
    let mut normalized = String::new();

    let mut item_column = column;
    for (index, item) in text.split(',').enumerate() {
        if item.is_empty() {
            return Err(ScheduleError::EmptyListItem { field: spec.field, text: text.to_owned(), column: item_column });
        }
        if index > 0 {
            normalized.push(',');
        }
        parse_item(spec, item, item_column, &mut values, &mut normalized)?;
        item_column += item.chars().count() + 1;
    }

    // Day-of-week 7 is another name for Sunday.
    if spec.field == Field::DayOfWeek && values.contains(7) {
        values.remove(7);
        values.insert(0);
    }

    Ok(ParsedField { values, starts_with_star: text.starts_with('*'), normalized })
}

/// Parses one list item (`*`, `a`, `a-b`, each with an optional `/step`),
/// adds its values and appends its normalized form.
fn parse_item(
    spec: &FieldSpec,
    item: &str,
    column: usize,
    values: &mut ValueSet,
    normalized: &mut String,
) -> Result<(), ScheduleError> {
    let (range, step_text) = match item.split_once('/') {
        Some((range, step)) => (range, Some(step)),
        None => (item, None),
    };

    let (start, end) = if range == "*" {
        normalized.push('*');
        (spec.min, spec.max)
    } else if let Some((start_text, end_text)) = range.split_once('-') {
        if start_text.is_empty() || end_text.is_empty() {
            return Err(invalid_value(spec, item, column));
        }
        let start = parse_value(spec, start_text, column)?;
        let end_column = column + start_text.chars().count() + 1;
        let mut end = parse_value(spec, end_text, end_column)?;
        // `FRI-SUN` means Friday to Sunday, so a closing SUN counts as 7.
        if spec.field == Field::DayOfWeek && end == 0 && start > 0 && end_text.eq_ignore_ascii_case("SUN") {
            end = 7;
        }
        if start > end {
            let last = if spec.field == Field::DayOfWeek { 6 } else { spec.max };
            return Err(ScheduleError::BackwardsRange {
                field: spec.field,
                range: range.to_owned(),
                column,
                suggestion: format!("{},{}", range_text(start, last), range_text(spec.min, end)),
            });
        }
        let _ = write!(normalized, "{start}-{end}");
        (start, end)
    } else {
        if range.is_empty() {
            return Err(invalid_value(spec, item, column));
        }
        let value = parse_value(spec, range, column)?;
        let _ = write!(normalized, "{value}");
        // `a/n` means from `a` to the end of the field in steps of `n`.
        let end = if step_text.is_some() { spec.max } else { value };
        (value, end)
    };

    let step = match step_text {
        Some(step_text) => {
            let step_column = column + range.chars().count() + 1;
            let step = parse_step(spec, step_text, step_column)?;
            let _ = write!(normalized, "/{step}");
            step
        }
        None => 1,
    };

    for value in (start..=end).step_by(usize::from(step)) {
        values.insert(value);
    }
    Ok(())
}

/// Writes `start-end`, or one number if they are equal.
fn range_text(start: u8, end: u8) -> String {
    if start == end { start.to_string() } else { format!("{start}-{end}") }
}

/// Parses a number or a name.
fn parse_value(spec: &FieldSpec, text: &str, column: usize) -> Result<u8, ScheduleError> {
    if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) {
        // Values too large for u32 are out of range like any other.
        return match text.parse::<u32>() {
            Ok(value) if (u32::from(spec.min)..=u32::from(spec.max)).contains(&value) => Ok(value as u8),
            _ => Err(ScheduleError::OutOfRange {
                field: spec.field,
                value: text.to_owned(),
                column,
                min: spec.min,
                max: spec.max,
            }),
        };
    }

    if let Some(index) = spec.names.iter().position(|name| name.eq_ignore_ascii_case(text)) {
        return Ok(spec.min + index as u8);
    }

    Err(invalid_value(spec, text, column))
}

fn invalid_value(spec: &FieldSpec, value: &str, column: usize) -> ScheduleError {
    ScheduleError::InvalidValue { field: spec.field, value: value.to_owned(), column, expected: spec.expected }
}

/// Parses a step: a number from 1 to the number of values in the field.
fn parse_step(spec: &FieldSpec, text: &str, column: usize) -> Result<u8, ScheduleError> {
    // Day-of-week has 7 distinct days although it accepts 8 numbers.
    let max = if spec.field == Field::DayOfWeek { 7 } else { spec.max - spec.min + 1 };
    let valid = text.bytes().all(|byte| byte.is_ascii_digit());
    match text.parse::<u8>() {
        Ok(step) if valid && (1..=max).contains(&step) => Ok(step),
        _ => Err(ScheduleError::InvalidStep { field: spec.field, step: text.to_owned(), column, max }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_set_neighbours() {
        let set = ValueSet::from_bits((1 << 3) | (1 << 10) | (1 << 63));

        assert_eq!(set.next_at_or_after(0), Some(3));
        assert_eq!(set.next_at_or_after(3), Some(3));
        assert_eq!(set.next_at_or_after(4), Some(10));
        assert_eq!(set.next_at_or_after(64), None);
        assert_eq!(set.prev_at_or_before(9), Some(3));
        assert_eq!(set.prev_at_or_before(2), None);
        assert_eq!(set.prev_at_or_before(-1), None);
        assert_eq!(set.prev_at_or_before(63), Some(63));
    }

    #[test]
    fn day_of_week_seven_is_sunday() {
        let field = parse_field(&DAY_OF_WEEK, "7", 1).unwrap();

        assert_eq!(field.values, ValueSet::from_bits(1));
        assert_eq!(field.normalized, "7");
    }

    #[test]
    fn names_become_numbers() {
        let field = parse_field(&DAY_OF_WEEK, "mon-FRI/2,sun", 1).unwrap();

        assert_eq!(field.normalized, "1-5/2,0");
        assert_eq!(field.values.iter().collect::<Vec<_>>(), [0, 1, 3, 5]);
    }
}

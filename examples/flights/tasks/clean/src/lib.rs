//! Clean: keeps the well-formed flight rows and counts the rejected ones by reason.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use wflow_guest::{Context, Result};

#[derive(Serialize)]
struct CleanOutput {
    rows_read: u64,
    rows_rejected: u64,
    /// Number of rejected rows per reason, such as `invalid_date`.
    rejected_by_reason: BTreeMap<&'static str, u64>,
    rows: Vec<Flight>,
}

/// One well-formed flight row.
#[derive(Serialize)]
struct Flight {
    /// Departure time, `YYYY/MM/DD HH:MM`.
    date: String,
    /// Departure hour, 0 to 23, taken from `date`.
    hour: u32,
    /// Delay in minutes, negative when the flight was early.
    delay: i64,
    /// Distance in miles.
    distance: i64,
    origin: String,
    destination: String,
}

/// Validates every row and returns the kept rows with the counts.
fn run(_ctx: &Context, rows: Vec<Value>) -> Result<CleanOutput> {
    let mut output = CleanOutput {
        rows_read: rows.len() as u64,
        rows_rejected: 0,
        rejected_by_reason: BTreeMap::new(),
        rows: Vec::with_capacity(rows.len()),
    };

    for row in &rows {
        match parse_flight(row) {
            Ok(flight) => output.rows.push(flight),
            Err(reason) => {
                output.rows_rejected += 1;
                *output.rejected_by_reason.entry(reason).or_insert(0) += 1;
            }
        }
    }

    if output.rows_rejected == 0 {
        wflow_guest::info!("kept all {} rows", output.rows_read);
    } else {
        wflow_guest::warn!(
            "kept {} of {} rows, rejected {}: {:?}",
            output.rows.len(),
            output.rows_read,
            output.rows_rejected,
            output.rejected_by_reason
        );
    }
    Ok(output)
}

/// Converts one row into a [`Flight`], or returns the reason for rejecting it.
///
/// Fields are checked in the order date, delay, distance, origin, destination,
/// and a row with several problems is counted under the first one. A field that
/// is present but `null` is invalid, not missing. Other fields are ignored.
fn parse_flight(row: &Value) -> std::result::Result<Flight, &'static str> {
    let Value::Object(fields) = row else {
        return Err("not_an_object");
    };

    let date = fields.get("date").ok_or("missing_date")?.as_str().ok_or("invalid_date")?;
    let hour = parse_departure_hour(date).ok_or("invalid_date")?;
    let delay = fields.get("delay").ok_or("missing_delay")?.as_i64().ok_or("invalid_delay")?;
    let distance = fields.get("distance").ok_or("missing_distance")?.as_i64().ok_or("invalid_distance")?;
    let origin = fields.get("origin").ok_or("missing_origin")?;
    let origin = airport_code(origin).ok_or("invalid_origin")?;
    let destination = fields.get("destination").ok_or("missing_destination")?;
    let destination = airport_code(destination).ok_or("invalid_destination")?;

    Ok(Flight {
        date: date.to_string(),
        hour,
        delay,
        distance,
        origin: origin.to_string(),
        destination: destination.to_string(),
    })
}

/// Returns the code when `value` is a string of exactly 3 ASCII letters or digits.
fn airport_code(value: &Value) -> Option<&str> {
    let code = value.as_str()?;
    let valid = code.len() == 3 && code.bytes().all(|byte| byte.is_ascii_alphanumeric());
    valid.then_some(code)
}

/// Returns the hour of `date` when it is a valid calendar time written exactly
/// as `YYYY/MM/DD HH:MM`, zero-padded, with a 24-hour clock.
fn parse_departure_hour(date: &str) -> Option<u32> {
    let bytes = date.as_bytes();
    let separators_valid =
        bytes.len() == 16 && bytes[4] == b'/' && bytes[7] == b'/' && bytes[10] == b' ' && bytes[13] == b':';
    if !separators_valid {
        return None;
    }

    let year = parse_digits(&bytes[0..4])?;
    let month = parse_digits(&bytes[5..7])?;
    let day = parse_digits(&bytes[8..10])?;
    let hour = parse_digits(&bytes[11..13])?;
    let minute = parse_digits(&bytes[14..16])?;

    let valid =
        (1..=12).contains(&month) && (1..=days_in_month(year, month)).contains(&day) && hour <= 23 && minute <= 59;
    valid.then_some(hour)
}

/// Parses ASCII digits only: no sign, no spaces.
fn parse_digits(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0, |value, &byte| byte.is_ascii_digit().then(|| value * 10 + u32::from(byte - b'0')))
}

/// Number of days in `month` (1 to 12) of `year` in the Gregorian calendar.
fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn is_leap_year(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

wflow_guest::task!(run);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn departure_hour_valid_times() {
        assert_eq!(parse_departure_hour("2001/01/01 06:55"), Some(6));
        assert_eq!(parse_departure_hour("2001/12/31 23:59"), Some(23));
        assert_eq!(parse_departure_hour("2000/02/29 00:00"), Some(0));
        assert_eq!(parse_departure_hour("2004/02/29 12:30"), Some(12));
    }

    #[test]
    fn departure_hour_invalid_times() {
        let invalid = [
            "2001/02/29 10:00", // not a leap year
            "1900/02/29 10:00", // divisible by 100 but not by 400
            "2001/04/31 10:00",
            "2001/00/10 10:00",
            "2001/13/10 10:00",
            "2001/01/00 10:00",
            "2001/01/01 24:00",
            "2001/01/01 10:60",
            "2001/1/01 10:00",
            "2001/01/01 6:55",
            "2001-01-01 06:55",
            "2001/01/01T06:55",
            "2001/01/01 06:55:00",
            "2001/01/01 +6:55",
            "",
        ];
        for date in invalid {
            assert_eq!(parse_departure_hour(date), None, "{date:?}");
        }
    }

    #[test]
    fn flight_rejection_reasons() {
        let valid = json!({"date": "2001/01/01 06:55", "delay": -19, "distance": 1797,
                           "origin": "LAX", "destination": "BNA", "extra": true});
        assert!(parse_flight(&valid).is_ok());

        let cases = [
            (json!([1, 2]), "not_an_object"),
            (json!({"delay": 1}), "missing_date"),
            (json!({"date": null}), "invalid_date"),
            (json!({"date": "2001/01/01 06:55", "delay": 5.0}), "invalid_delay"),
            (json!({"date": "2001/01/01 06:55", "delay": "5"}), "invalid_delay"),
            (json!({"date": "2001/01/01 06:55", "delay": 5}), "missing_distance"),
            (json!({"date": "2001/01/01 06:55", "delay": 5, "distance": 1e3}), "invalid_distance"),
            (
                json!({"date": "2001/01/01 06:55", "delay": 5, "distance": 10,
                    "origin": "LA"}),
                "invalid_origin",
            ),
            (
                json!({"date": "2001/01/01 06:55", "delay": 5, "distance": 10,
                    "origin": "LAX", "destination": "BN-"}),
                "invalid_destination",
            ),
            (
                json!({"date": "2001/01/01 06:55", "delay": 5, "distance": 10,
                    "origin": "LAX"}),
                "missing_destination",
            ),
        ];
        for (row, reason) in cases {
            assert_eq!(parse_flight(&row).err(), Some(reason), "{row}");
        }
    }
}

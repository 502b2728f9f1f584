//! Partition: splits the clean flight rows into one group per calendar month.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use wflow_guest::{Context, Result, TaskError};

/// The output of the `clean` task. Serde ignores the fields not listed here.
#[derive(Deserialize)]
struct CleanOutput {
    rows: Vec<Flight>,
}

/// One clean flight row. The fields and their order are those of the `clean`
/// task's output, so a row is written back as the same JSON.
#[derive(Debug, Deserialize, Serialize)]
struct Flight {
    date: String,
    hour: u32,
    delay: i64,
    distance: i64,
    origin: String,
    destination: String,
}

/// The rows of one calendar month, in the order of the `clean` output.
#[derive(Debug, Serialize)]
struct MonthRows {
    /// Calendar month, `YYYY-MM`.
    month: String,
    rows: Vec<Flight>,
}

/// Groups the rows by the month of their `date`, in ascending order of month.
///
/// The output has one element per month that has rows, so the host can run
/// the `monthly` task once per month and cache each month on its own.
fn run(_ctx: &Context, input: CleanOutput) -> Result<Vec<MonthRows>> {
    let row_count = input.rows.len();
    let months = partition_by_month(input.rows)?;

    match (months.first(), months.last()) {
        (Some(first), Some(last)) => wflow_guest::info!(
            "split {row_count} rows into {} months, from {} to {}",
            months.len(),
            first.month,
            last.month
        ),
        _ => wflow_guest::info!("found no rows, so the output has no months"),
    }
    Ok(months)
}

/// Groups `rows` by month. Rows keep their relative order within a month.
///
/// Fails when a date does not start with `YYYY/MM/`, which the `clean` task
/// guarantees for every row it keeps.
fn partition_by_month(rows: Vec<Flight>) -> Result<Vec<MonthRows>> {
    // "YYYY-MM" keys have a fixed width, so their byte order is the calendar order.
    let mut months: BTreeMap<String, Vec<Flight>> = BTreeMap::new();
    for (index, flight) in rows.into_iter().enumerate() {
        let Some(month) = month_of(&flight.date) else {
            return Err(TaskError::fatal(format!(
                "row {} of the clean output has the date {:?}, which does not start with \
                 `YYYY/MM/`. The input must be the output of the `clean` task.",
                index + 1,
                flight.date
            )));
        };
        months.entry(month).or_default().push(flight);
    }

    let months = months.into_iter().map(|(month, rows)| MonthRows { month, rows }).collect();
    Ok(months)
}

/// Returns the month `YYYY-MM` of a date that starts with `YYYY/MM/`, or
/// `None` for any other text. The day and time are not checked.
fn month_of(date: &str) -> Option<String> {
    let bytes = date.as_bytes();
    let valid = bytes.len() >= 8
        && bytes[0..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'/'
        && bytes[5..7].iter().all(u8::is_ascii_digit)
        && bytes[7] == b'/';
    valid.then(|| format!("{}-{}", &date[0..4], &date[5..7]))
}

wflow_guest::task!(run);

#[cfg(test)]
mod tests {
    use super::*;

    fn flight(date: &str, origin: &str) -> Flight {
        Flight {
            date: date.to_string(),
            hour: 6,
            delay: 1,
            distance: 100,
            origin: origin.to_string(),
            destination: "BNA".to_string(),
        }
    }

    #[test]
    fn month_of_dates() {
        assert_eq!(month_of("2001/01/01 06:55").as_deref(), Some("2001-01"));
        assert_eq!(month_of("1999/12/31 23:59").as_deref(), Some("1999-12"));
        assert_eq!(month_of("2001/03/").as_deref(), Some("2001-03"));
        assert_eq!(month_of("2001-01-01 06:55"), None);
        assert_eq!(month_of("2001/1/01 06:55"), None);
        assert_eq!(month_of("01/01/2001"), None);
        assert_eq!(month_of("2001/01"), None);
        assert_eq!(month_of(""), None);
    }

    #[test]
    fn partition_sorts_months_and_keeps_row_order() {
        let rows = vec![
            flight("2001/02/03 10:00", "AAA"),
            flight("2000/12/31 23:00", "BBB"),
            flight("2001/01/15 08:00", "CCC"),
            flight("2001/02/01 09:00", "DDD"),
            flight("2001/01/02 07:00", "EEE"),
        ];

        let months = partition_by_month(rows).unwrap();

        let summary: Vec<(&str, Vec<&str>)> = months
            .iter()
            .map(|month| {
                let origins = month.rows.iter().map(|row| row.origin.as_str()).collect();
                (month.month.as_str(), origins)
            })
            .collect();
        assert_eq!(
            summary,
            [("2000-12", vec!["BBB"]), ("2001-01", vec!["CCC", "EEE"]), ("2001-02", vec!["AAA", "DDD"]),]
        );
    }

    #[test]
    fn partition_empty_input() {
        assert!(partition_by_month(Vec::new()).unwrap().is_empty());
    }

    #[test]
    fn partition_rejects_malformed_date() {
        let rows = vec![flight("2001/01/01 06:55", "AAA"), flight("2001-01-01", "BBB")];

        let error = partition_by_month(rows).unwrap_err();

        assert!(error.message().contains("row 2 "), "{error}");
        assert!(error.message().contains("\"2001-01-01\""), "{error}");
        assert!(!error.is_retryable());
    }

    #[test]
    fn rows_written_as_clean_wrote_them() {
        let clean_row =
            r#"{"date":"2001/01/01 06:55","hour":6,"delay":-19,"distance":1797,"origin":"LAX","destination":"BNA"}"#;
        let input = format!(r#"{{"rows_read":1,"rows_rejected":0,"rejected_by_reason":{{}},"rows":[{clean_row}]}}"#);
        let input: CleanOutput = serde_json::from_str(&input).unwrap();

        let months = partition_by_month(input.rows).unwrap();

        let output = serde_json::to_string(&months).unwrap();
        assert_eq!(output, format!(r#"[{{"month":"2001-01","rows":[{clean_row}]}}]"#));
    }
}

//! Partition: splits the clean flight rows into one group per calendar month.

use flights_batch::{MonthBatch, MonthBatches};
use serde::Deserialize;
use wflow_guest::{Context, Result, TaskError};

/// The output of the `clean` task. Serde ignores the fields not listed here.
#[derive(Deserialize)]
struct CleanOutput {
    rows: Vec<Flight>,
}

/// The fields of a clean flight row that a month batch keeps.
#[derive(Debug, Deserialize)]
struct Flight {
    /// Departure time, `YYYY/MM/DD HH:MM`.
    date: String,
    delay: i64,
    origin: String,
}

/// Groups the rows by the month of their `date`, in ascending order of month.
///
/// Returns one month batch per month that has rows, so the host can run
/// the `monthly` task once per month and cache each month on its own.
fn run(_ctx: &Context, input: CleanOutput) -> Result<Vec<MonthBatch>> {
    let row_count = input.rows.len();
    let months = partition_by_month(&input.rows)?;

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
fn partition_by_month(rows: &[Flight]) -> Result<Vec<MonthBatch>> {
    let mut months = MonthBatches::new();
    for (index, flight) in rows.iter().enumerate() {
        let Some((year, month)) = month_of(&flight.date) else {
            return Err(TaskError::fatal(format!(
                "row {} of the clean output has the date {:?}, which does not start with \
                 `YYYY/MM/`. The input must be the output of the `clean` task.",
                index + 1,
                flight.date
            )));
        };
        months.push(year, month, &flight.origin, flight.delay);
    }
    Ok(months.into_batches())
}

/// Returns the year and month of a date that starts with `YYYY/MM/`, or
/// `None` for any other text. The day and time are not checked.
fn month_of(date: &str) -> Option<(i32, u32)> {
    let bytes = date.as_bytes();
    let valid = bytes.len() >= 8
        && bytes[0..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'/'
        && bytes[5..7].iter().all(u8::is_ascii_digit)
        && bytes[7] == b'/';
    if !valid {
        return None;
    }
    let year = date[0..4].parse().ok()?;
    let month = date[5..7].parse().ok()?;
    Some((year, month))
}

wflow_guest::task!(run);

#[cfg(test)]
mod tests {
    use super::*;

    fn flight(date: &str, origin: &str, delay: i64) -> Flight {
        Flight { date: date.to_string(), delay, origin: origin.to_string() }
    }

    #[test]
    fn month_of_dates() {
        assert_eq!(month_of("2001/01/01 06:55"), Some((2001, 1)));
        assert_eq!(month_of("1999/12/31 23:59"), Some((1999, 12)));
        assert_eq!(month_of("2001/03/"), Some((2001, 3)));
        assert_eq!(month_of("2001-01-01 06:55"), None);
        assert_eq!(month_of("2001/1/01 06:55"), None);
        assert_eq!(month_of("01/01/2001"), None);
        assert_eq!(month_of("2001/01"), None);
        assert_eq!(month_of(""), None);
    }

    #[test]
    fn partition_sorts_months_and_keeps_row_order() {
        let rows = vec![
            flight("2001/02/03 10:00", "AAA", 1),
            flight("2000/12/31 23:00", "BBB", 2),
            flight("2001/01/15 08:00", "CCC", 3),
            flight("2001/02/01 09:00", "DDD", 4),
            flight("2001/01/02 07:00", "EEE", 5),
        ];

        let months = partition_by_month(&rows).unwrap();

        let summary: Vec<(&str, Vec<&str>, Vec<i64>)> = months
            .iter()
            .map(|batch| {
                let origins = batch.origin.iter().map(|&index| batch.origins[index as usize].as_str()).collect();
                (batch.month.as_str(), origins, batch.delay.clone())
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("2000-12", vec!["BBB"], vec![2]),
                ("2001-01", vec!["CCC", "EEE"], vec![3, 5]),
                ("2001-02", vec!["AAA", "DDD"], vec![1, 4]),
            ]
        );
    }

    #[test]
    fn partition_empty_input() {
        assert!(partition_by_month(&[]).unwrap().is_empty());
    }

    #[test]
    fn partition_rejects_malformed_date() {
        let rows = vec![flight("2001/01/01 06:55", "AAA", 0), flight("2001-01-01", "BBB", 0)];

        let error = partition_by_month(&rows).unwrap_err();

        assert!(error.message().contains("row 2 "), "{error}");
        assert!(error.message().contains("\"2001-01-01\""), "{error}");
        assert!(!error.is_retryable());
    }

    #[test]
    fn clean_output_becomes_month_batch() {
        let clean_row =
            r#"{"date":"2001/01/01 06:55","hour":6,"delay":-19,"distance":1797,"origin":"LAX","destination":"BNA"}"#;
        let input = format!(r#"{{"rows_read":1,"rows_rejected":0,"rejected_by_reason":{{}},"rows":[{clean_row}]}}"#);
        let input: CleanOutput = serde_json::from_str(&input).unwrap();

        let months = partition_by_month(&input.rows).unwrap();

        let output = serde_json::to_string(&months).unwrap();
        assert_eq!(output, r#"[{"month":"2001-01","origins":["LAX"],"origin":[0],"delay":[-19]}]"#);
    }
}

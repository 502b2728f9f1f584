//! Monthly: computes the delay statistics of one calendar month of flights.
//!
//! The manifest maps this task over the output of `partition`, so one run
//! receives one element of that array.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use wflow_guest::{Context, Result, TaskError};

/// One element of the `partition` task's output.
#[derive(Deserialize)]
struct MonthRows {
    /// Calendar month, `YYYY-MM`.
    month: String,
    rows: Vec<Flight>,
}

/// A clean flight row. Serde ignores the fields not listed here.
#[derive(Deserialize)]
struct Flight {
    /// Departure time, `YYYY/MM/DD HH:MM`.
    date: String,
    /// Delay in minutes, negative when the flight was early.
    delay: i64,
    origin: String,
}

#[derive(Debug, PartialEq, Serialize)]
struct MonthStats {
    month: String,
    flights: u64,
    /// Mean delay in minutes, rounded to 2 decimals.
    mean_delay: f64,
    /// Fraction of flights delayed by `delay_threshold` minutes or more,
    /// rounded to 4 decimals.
    delayed_share: f64,
    /// Origin airport with the most flights, or the alphabetically first of
    /// them on a tie.
    busiest_origin: String,
}

/// Computes the statistics of one month with the `delay_threshold` parameter.
fn run(ctx: &Context, input: MonthRows) -> Result<MonthStats> {
    let delay_threshold = ctx.param::<i64>("delay_threshold")?;
    let stats = compute_month_stats(&input, delay_threshold)?;

    wflow_guest::info!(
        "month {}: {} flights, mean delay {:.2} minutes, {:.2}% delayed by {delay_threshold} \
         minutes or more, busiest origin {}",
        stats.month,
        stats.flights,
        stats.mean_delay,
        stats.delayed_share * 100.0,
        stats.busiest_origin
    );
    Ok(stats)
}

/// Computes the statistics of `input`.
///
/// Fails when `month` is not `YYYY-MM`, when there are no rows, or when a
/// row's date lies outside `month`.
fn compute_month_stats(input: &MonthRows, delay_threshold: i64) -> Result<MonthStats> {
    let Some(date_prefix) = date_prefix_of(&input.month) else {
        return Err(TaskError::fatal(format!("month {:?} is not in the form `YYYY-MM`", input.month)));
    };
    if input.rows.is_empty() {
        return Err(TaskError::fatal(format!(
            "month {} has no rows, but the statistics need at least one flight",
            input.month
        )));
    }

    // The sum is `i128` so that no `i64` delay can overflow it.
    let mut delay_sum: i128 = 0;
    let mut delayed: u64 = 0;
    let mut flights_by_origin: BTreeMap<&str, u64> = BTreeMap::new();
    for (index, flight) in input.rows.iter().enumerate() {
        if !flight.date.starts_with(&date_prefix) {
            return Err(TaskError::fatal(format!(
                "row {} has the date {:?}, which is not in month {}",
                index + 1,
                flight.date,
                input.month
            )));
        }
        delay_sum += i128::from(flight.delay);
        delayed += u64::from(flight.delay >= delay_threshold);
        *flights_by_origin.entry(&flight.origin).or_insert(0) += 1;
    }

    // The key orders by count first and then prefers the smaller code, so the
    // maximum is the busiest origin and, on a tie, the alphabetically first.
    let (busiest_origin, _) = flights_by_origin
        .iter()
        .max_by_key(|&(origin, count)| (*count, Reverse(*origin)))
        .expect("a month with rows has at least one origin");

    let flights = input.rows.len() as u64;
    Ok(MonthStats {
        month: input.month.clone(),
        flights,
        mean_delay: round_to_scale(delay_sum as f64 / flights as f64, 100.0),
        delayed_share: round_to_scale(delayed as f64 / flights as f64, 10_000.0),
        busiest_origin: busiest_origin.to_string(),
    })
}

/// Returns `YYYY/MM/`, the start of every date in the month `YYYY-MM`, or
/// `None` when `month` is not in that form.
fn date_prefix_of(month: &str) -> Option<String> {
    let bytes = month.as_bytes();
    let valid = bytes.len() == 7
        && bytes[0..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[5..7].iter().all(u8::is_ascii_digit);
    valid.then(|| format!("{}/{}/", &month[0..4], &month[5..7]))
}

/// Rounds `value` to the multiple of `1 / scale` nearest to it, with halfway
/// cases away from zero. A scale of 100.0 keeps 2 decimals.
///
/// While `value * scale` is below 2^53 in magnitude, the result is the float
/// nearest to a number with that many decimals, so serde_json writes it with
/// at most that many.
fn round_to_scale(value: f64, scale: f64) -> f64 {
    (value * scale).round() / scale
}

wflow_guest::task!(run);

#[cfg(test)]
mod tests {
    use super::*;

    fn month(month: &str, rows: &[(&str, i64, &str)]) -> MonthRows {
        MonthRows {
            month: month.to_string(),
            rows: rows
                .iter()
                .map(|&(date, delay, origin)| Flight { date: date.to_string(), delay, origin: origin.to_string() })
                .collect(),
        }
    }

    #[test]
    fn stats_of_one_month() {
        let input = month(
            "2001-02",
            &[("2001/02/01 06:00", 20, "SFO"), ("2001/02/01 07:00", -5, "LAX"), ("2001/02/28 23:59", 15, "SFO")],
        );

        let stats = compute_month_stats(&input, 15).unwrap();

        let expected = MonthStats {
            month: "2001-02".to_string(),
            flights: 3,
            mean_delay: 10.0,
            delayed_share: 0.6667,
            busiest_origin: "SFO".to_string(),
        };
        assert_eq!(stats, expected);
    }

    #[test]
    fn busiest_origin_tie_is_alphabetical() {
        let input = month(
            "2001-01",
            &[
                ("2001/01/01 06:00", 0, "ORD"),
                ("2001/01/01 07:00", 0, "BOS"),
                ("2001/01/01 08:00", 0, "ORD"),
                ("2001/01/01 09:00", 0, "BOS"),
                ("2001/01/01 10:00", 0, "ATL"),
            ],
        );

        let stats = compute_month_stats(&input, 15).unwrap();

        assert_eq!(stats.busiest_origin, "BOS");
    }

    #[test]
    fn mean_delay_rounds_to_two_decimals() {
        let input = month(
            "2001-01",
            &[("2001/01/01 06:00", -1, "AAA"), ("2001/01/01 07:00", -1, "AAA"), ("2001/01/01 08:00", 0, "AAA")],
        );

        let stats = compute_month_stats(&input, 0).unwrap();

        assert_eq!(stats.mean_delay, -0.67);
        assert_eq!(stats.delayed_share, 0.3333);
    }

    #[test]
    fn output_numbers_have_few_decimals() {
        let stats = MonthStats {
            month: "2001-01".to_string(),
            flights: 3,
            mean_delay: round_to_scale(17.0 / 3.0, 100.0),
            delayed_share: round_to_scale(1.0 / 7.0, 10_000.0),
            busiest_origin: "AAA".to_string(),
        };

        let json = serde_json::to_string(&stats).unwrap();

        assert_eq!(
            json,
            r#"{"month":"2001-01","flights":3,"mean_delay":5.67,"delayed_share":0.1429,"busiest_origin":"AAA"}"#
        );
    }

    #[test]
    fn stats_reject_invalid_input() {
        let cases = [
            (month("2001-01", &[]), "has no rows"),
            (month("2001/01", &[("2001/01/01 06:00", 0, "AAA")]), "not in the form `YYYY-MM`"),
            (
                month("2001-01", &[("2001/02/01 06:00", 0, "AAA")]),
                "row 1 has the date \"2001/02/01 06:00\", which is not in month 2001-01",
            ),
        ];
        for (input, expected) in cases {
            let error = compute_month_stats(&input, 15).unwrap_err();
            assert!(error.message().contains(expected), "{error}");
            assert!(!error.is_retryable(), "{error}");
        }
    }
}

//! Monthly: computes the delay statistics of one calendar month of flights.
//!
//! The manifests map this task over the output of `partition` (or `scan`, for
//! Parquet input), so one run receives one month batch of that array.

use std::cmp::Reverse;

use flights_batch::MonthBatch;
use serde::Serialize;
use wflow_guest::{Context, Result, TaskError};

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
fn run(ctx: &Context, input: MonthBatch) -> Result<MonthStats> {
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
/// Fails when `month` is not `YYYY-MM`, when there are no flights, or when
/// the columns do not line up.
fn compute_month_stats(input: &MonthBatch, delay_threshold: i64) -> Result<MonthStats> {
    if !is_month(&input.month) {
        return Err(TaskError::fatal(format!("month {:?} is not in the form `YYYY-MM`", input.month)));
    }
    input.check_columns().map_err(TaskError::fatal)?;
    if input.is_empty() {
        return Err(TaskError::fatal(format!(
            "month {} has no flights, but the statistics need at least one",
            input.month
        )));
    }

    // The sum is `i128` so that no `i64` delay can overflow it.
    let mut delay_sum: i128 = 0;
    let mut delayed: u64 = 0;
    for &delay in &input.delay {
        delay_sum += i128::from(delay);
        delayed += u64::from(delay >= delay_threshold);
    }
    let mut flights_by_origin = vec![0_u64; input.origins.len()];
    for &index in &input.origin {
        flights_by_origin[index as usize] += 1;
    }

    // The key orders by count first and then prefers the smaller code, so the
    // maximum is the busiest origin and, on a tie, the alphabetically first.
    let busiest_origin = input
        .origins
        .iter()
        .zip(&flights_by_origin)
        .max_by_key(|&(origin, count)| (*count, Reverse(origin)))
        .map(|(origin, _)| origin.clone())
        .expect("a month with flights has at least one origin");

    let flights = input.len() as u64;
    Ok(MonthStats {
        month: input.month.clone(),
        flights,
        mean_delay: round_to_scale(delay_sum as f64 / flights as f64, 100.0),
        delayed_share: round_to_scale(delayed as f64 / flights as f64, 10_000.0),
        busiest_origin,
    })
}

/// Returns true when `month` has the form `YYYY-MM`.
fn is_month(month: &str) -> bool {
    let bytes = month.as_bytes();
    bytes.len() == 7
        && bytes[0..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[5..7].iter().all(u8::is_ascii_digit)
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

    fn month(month: &str, rows: &[(i64, &str)]) -> MonthBatch {
        let mut origins: Vec<String> = Vec::new();
        let mut origin = Vec::new();
        for &(_, code) in rows {
            let index = match origins.iter().position(|known| known == code) {
                Some(index) => index,
                None => {
                    origins.push(code.to_string());
                    origins.len() - 1
                }
            };
            origin.push(index as u32);
        }
        MonthBatch { month: month.to_string(), origins, origin, delay: rows.iter().map(|&(delay, _)| delay).collect() }
    }

    #[test]
    fn stats_of_one_month() {
        let input = month("2001-02", &[(20, "SFO"), (-5, "LAX"), (15, "SFO")]);

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
        let input = month("2001-01", &[(0, "ORD"), (0, "BOS"), (0, "ORD"), (0, "BOS"), (0, "ATL")]);

        let stats = compute_month_stats(&input, 15).unwrap();

        assert_eq!(stats.busiest_origin, "BOS");
    }

    #[test]
    fn mean_delay_rounds_to_two_decimals() {
        let input = month("2001-01", &[(-1, "AAA"), (-1, "AAA"), (0, "AAA")]);

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
        let mut misaligned = month("2001-01", &[(0, "AAA")]);
        misaligned.delay.push(5);
        let cases = [
            (month("2001-01", &[]), "has no flights"),
            (month("2001/01", &[(0, "AAA")]), "not in the form `YYYY-MM`"),
            (misaligned, "has 1 origin indexes but 2 delays"),
        ];
        for (input, expected) in cases {
            let error = compute_month_stats(&input, 15).unwrap_err();
            assert!(error.message().contains(expected), "{error}");
            assert!(!error.is_retryable(), "{error}");
        }
    }
}

//! Aggregate: computes delay statistics per origin airport and per departure hour.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use wflow_guest::{Context, Result, TaskError};

/// The output of the `enrich` task. Serde ignores the fields not listed here.
#[derive(Deserialize)]
struct EnrichOutput {
    rows_read: u64,
    rows_rejected: u64,
    rows: Vec<Flight>,
}

#[derive(Deserialize)]
struct Flight {
    hour: u32,
    delay: i64,
    origin: String,
    city: Option<String>,
    state: Option<String>,
}

#[derive(Serialize)]
struct AggregateOutput {
    summary: Summary,
    by_origin: Vec<OriginStats>,
    by_hour: Vec<HourStats>,
}

#[derive(Serialize)]
struct Summary {
    rows_read: u64,
    rows_kept: u64,
    rows_rejected: u64,
    /// Distinct origin airports among the kept rows, before `min_flights` applies.
    origins: u64,
}

#[derive(Serialize)]
struct OriginStats {
    origin: String,
    city: Option<String>,
    state: Option<String>,
    flights: u64,
    /// Mean delay in minutes.
    mean_delay: f64,
    /// Fraction of flights delayed by `delay_threshold` minutes or more.
    delayed_share: f64,
}

#[derive(Serialize)]
struct HourStats {
    hour: u32,
    flights: u64,
    /// Mean delay in minutes.
    mean_delay: f64,
}

/// Running totals for one group of flights. Sums are `i128` so that no
/// `i64` delay can overflow them.
#[derive(Default)]
struct Totals {
    flights: u64,
    delay_sum: i128,
    delayed: u64,
}

impl Totals {
    fn add(&mut self, delay: i64, delay_threshold: i64) {
        self.flights += 1;
        self.delay_sum += i128::from(delay);
        if delay >= delay_threshold {
            self.delayed += 1;
        }
    }

    fn mean_delay(&self) -> f64 {
        self.delay_sum as f64 / self.flights as f64
    }

    fn delayed_share(&self) -> f64 {
        self.delayed as f64 / self.flights as f64
    }
}

/// Groups the rows by origin and by hour with the `min_flights` and
/// `delay_threshold` parameters.
fn run(ctx: &Context, input: EnrichOutput) -> Result<AggregateOutput> {
    let min_flights = ctx.param::<i64>("min_flights")?;
    let delay_threshold = ctx.param::<i64>("delay_threshold")?;
    if min_flights < 0 {
        return Err(TaskError::fatal(format!("parameter `min_flights` must be 0 or more, but it is {min_flights}")));
    }

    // An origin's city and state come from its first row, because enrich gives
    // every row of one origin the same city and state.
    let mut origins: BTreeMap<&str, (&Flight, Totals)> = BTreeMap::new();
    let mut hours: BTreeMap<u32, Totals> = BTreeMap::new();
    for flight in &input.rows {
        let (_, totals) = origins.entry(&flight.origin).or_insert_with(|| (flight, Totals::default()));
        totals.add(flight.delay, delay_threshold);
        hours.entry(flight.hour).or_default().add(flight.delay, delay_threshold);
    }

    let mut by_origin: Vec<OriginStats> = origins
        .values()
        .filter(|(_, totals)| totals.flights >= min_flights as u64)
        .map(|(first, totals)| OriginStats {
            origin: first.origin.clone(),
            city: first.city.clone(),
            state: first.state.clone(),
            flights: totals.flights,
            mean_delay: totals.mean_delay(),
            delayed_share: totals.delayed_share(),
        })
        .collect();
    by_origin.sort_by(|a, b| b.flights.cmp(&a.flights).then_with(|| a.origin.cmp(&b.origin)));

    let by_hour: Vec<HourStats> = hours
        .iter()
        .map(|(&hour, totals)| HourStats { hour, flights: totals.flights, mean_delay: totals.mean_delay() })
        .collect();

    wflow_guest::info!(
        "kept {} of {} origin airports with min_flights = {min_flights}; found {} departure hours",
        by_origin.len(),
        origins.len(),
        by_hour.len()
    );

    Ok(AggregateOutput {
        summary: Summary {
            rows_read: input.rows_read,
            rows_kept: input.rows.len() as u64,
            rows_rejected: input.rows_rejected,
            origins: origins.len() as u64,
        },
        by_origin,
        by_hour,
    })
}

wflow_guest::task!(run);

//! Enrich: adds the origin airport's city and state to each clean flight row.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use wflow_guest::{Context, Result};

/// The combined output of the `clean` and `airports` tasks.
#[derive(Deserialize)]
struct EnrichInput {
    clean: CleanOutput,
    airports: BTreeMap<String, Airport>,
}

#[derive(Deserialize)]
struct CleanOutput {
    rows_read: u64,
    rows_rejected: u64,
    rejected_by_reason: BTreeMap<String, u64>,
    rows: Vec<Flight>,
}

#[derive(Deserialize)]
struct Flight {
    date: String,
    hour: u32,
    delay: i64,
    distance: i64,
    origin: String,
    destination: String,
}

#[derive(Deserialize)]
struct Airport {
    city: String,
    state: String,
}

#[derive(Serialize)]
struct EnrichOutput {
    rows_read: u64,
    rows_rejected: u64,
    rejected_by_reason: BTreeMap<String, u64>,
    rows: Vec<EnrichedFlight>,
}

/// A clean flight row with its origin's city and state, `None` when the
/// origin is not in the airports table.
#[derive(Serialize)]
struct EnrichedFlight {
    date: String,
    hour: u32,
    delay: i64,
    distance: i64,
    origin: String,
    destination: String,
    city: Option<String>,
    state: Option<String>,
}

/// Looks up each row's origin and carries the clean counts through.
fn run(_ctx: &Context, input: EnrichInput) -> Result<EnrichOutput> {
    let EnrichInput { clean, airports } = input;
    let mut unknown_origins = BTreeSet::new();
    let mut rows_with_unknown_origin = 0;

    let rows: Vec<EnrichedFlight> = clean
        .rows
        .into_iter()
        .map(|flight| {
            let airport = airports.get(&flight.origin);
            if airport.is_none() {
                rows_with_unknown_origin += 1;
                unknown_origins.insert(flight.origin.clone());
            }
            EnrichedFlight {
                city: airport.map(|airport| airport.city.clone()),
                state: airport.map(|airport| airport.state.clone()),
                date: flight.date,
                hour: flight.hour,
                delay: flight.delay,
                distance: flight.distance,
                origin: flight.origin,
                destination: flight.destination,
            }
        })
        .collect();

    if unknown_origins.is_empty() {
        wflow_guest::info!("found every origin airport of {} rows", rows.len());
    } else {
        let listed: Vec<&str> = unknown_origins.iter().take(20).map(String::as_str).collect();
        wflow_guest::warn!(
            "{} origin airports not found in the airports table, on {} of {} rows: {}{}",
            unknown_origins.len(),
            rows_with_unknown_origin,
            rows.len(),
            listed.join(", "),
            if unknown_origins.len() > listed.len() { ", ..." } else { "" }
        );
    }

    Ok(EnrichOutput {
        rows_read: clean.rows_read,
        rows_rejected: clean.rows_rejected,
        rejected_by_reason: clean.rejected_by_reason,
        rows,
    })
}

wflow_guest::task!(run);

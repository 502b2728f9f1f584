//! Report: joins the outputs of the Python, JavaScript and C tasks of the
//! polyglot flow into one Markdown page.
//!
//! Input: the combined outputs `{"delays": ..., "origins": ..., "checksum": ...}`.
//! Output: Markdown text. The parameter `top` is the number of origin
//! airports listed.

use serde::Deserialize;
use wflow_guest::{Context, Result, TaskError, Text};

#[derive(Deserialize)]
struct Inputs {
    delays: Delays,
    origins: Origins,
    checksum: Checksum,
}

/// From the Python task: nearest-rank delay percentiles, in minutes.
#[derive(Deserialize)]
struct Delays {
    flights: u64,
    p50: i64,
    p90: i64,
    p99: i64,
}

/// From the JavaScript task: flights and mean delay per origin airport.
#[derive(Deserialize)]
struct Origins {
    origins: Vec<Origin>,
}

#[derive(Deserialize)]
struct Origin {
    origin: String,
    flights: u64,
    mean_delay: f64,
}

/// From the C task: the size, row count and CRC-32 of the extracted rows.
#[derive(Deserialize)]
struct Checksum {
    bytes: u64,
    rows: u64,
    crc32: String,
}

fn report(ctx: &Context, inputs: Inputs) -> Result<Text> {
    let top: i64 = ctx.param("top")?;
    let top = usize::try_from(top)
        .ok()
        .filter(|top| *top > 0)
        .ok_or_else(|| TaskError::fatal(format!("parameter `top` is {top}; give a number of airports from 1 up")))?;
    let Inputs { delays, mut origins, checksum } = inputs;

    // Busiest first; ties by code, so that the list does not depend on the
    // order the JavaScript task wrote.
    origins.origins.sort_by(|a, b| b.flights.cmp(&a.flights).then_with(|| a.origin.cmp(&b.origin)));
    let listed = origins.origins.len().min(top);

    let mut page = String::from("# Flight delays, computed in four languages\n\n");
    page += &format!(
        "The rows: {} flights in {} bytes, CRC-32 `{}` (C).\n\n",
        checksum.rows, checksum.bytes, checksum.crc32
    );
    page += &format!(
        "Delay percentiles over {} flights (Python): p50 {} min, p90 {} min, p99 {} min.\n\n",
        delays.flights, delays.p50, delays.p90, delays.p99
    );
    if delays.flights != checksum.rows {
        page += &format!(
            "Note: {} rows have no integer delay, so the percentiles count {} of {} rows.\n\n",
            checksum.rows.saturating_sub(delays.flights),
            delays.flights,
            checksum.rows
        );
    }
    page += &format!("Busiest {listed} of {} origin airports (JavaScript):\n\n", origins.origins.len());
    page += "| origin | flights | mean delay (min) |\n| --- | ---: | ---: |\n";
    for origin in &origins.origins[..listed] {
        page += &format!("| {} | {} | {:.2} |\n", origin.origin, origin.flights, origin.mean_delay);
    }
    wflow_guest::info!("{}: {} origin airports listed", ctx.task(), listed);
    Ok(Text(page))
}

wflow_guest::task!(report);

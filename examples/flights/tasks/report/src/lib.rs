//! Report: formats the delay statistics as two CSV tables and a summary.

use serde::{Deserialize, Serialize};
use wflow_guest::{Context, ErrorContext, Result};

/// The output of the `aggregate` task.
#[derive(Deserialize)]
struct AggregateOutput {
    summary: Summary,
    by_origin: Vec<OriginStats>,
    by_hour: Vec<HourStats>,
}

#[derive(Deserialize)]
struct OriginStats {
    origin: String,
    city: Option<String>,
    state: Option<String>,
    flights: u64,
    mean_delay: f64,
    delayed_share: f64,
}

#[derive(Deserialize)]
struct HourStats {
    hour: u32,
    flights: u64,
    mean_delay: f64,
}

#[derive(Serialize)]
struct Report {
    by_origin_csv: String,
    by_hour_csv: String,
    summary: Summary,
}

#[derive(Deserialize, Serialize)]
struct Summary {
    rows_read: u64,
    rows_kept: u64,
    rows_rejected: u64,
    origins: u64,
}

/// Writes the per-origin and per-hour tables as CSV and passes the summary on.
fn run(_ctx: &Context, input: AggregateOutput) -> Result<Report> {
    let by_origin_csv = write_by_origin_csv(&input.by_origin).context("failed to write by_origin_csv")?;
    let by_hour_csv = write_by_hour_csv(&input.by_hour).context("failed to write by_hour_csv")?;
    wflow_guest::info!("wrote {} origin rows and {} hour rows", input.by_origin.len(), input.by_hour.len());
    Ok(Report { by_origin_csv, by_hour_csv, summary: input.summary })
}

/// Writes the per-origin table. Mean delays have 2 decimals and delayed shares
/// 4, and an unknown city or state is an empty field.
fn write_by_origin_csv(rows: &[OriginStats]) -> Result<String> {
    let mut writer = csv_writer();
    writer.write_record(["origin", "city", "state", "flights", "mean_delay", "delayed_share"])?;
    for row in rows {
        writer.write_record([
            row.origin.as_str(),
            row.city.as_deref().unwrap_or(""),
            row.state.as_deref().unwrap_or(""),
            &row.flights.to_string(),
            &format!("{:.2}", row.mean_delay),
            &format!("{:.4}", row.delayed_share),
        ])?;
    }
    finish(writer)
}

fn write_by_hour_csv(rows: &[HourStats]) -> Result<String> {
    let mut writer = csv_writer();
    writer.write_record(["hour", "flights", "mean_delay"])?;
    for row in rows {
        writer.write_record([&row.hour.to_string(), &row.flights.to_string(), &format!("{:.2}", row.mean_delay)])?;
    }
    finish(writer)
}

/// Creates a CSV writer that ends every line with `\n` and quotes a field only
/// when it contains a comma, a quote or a line break, as RFC 4180 requires.
fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(Vec::new())
}

fn finish(writer: csv::Writer<Vec<u8>>) -> Result<String> {
    let bytes = writer.into_inner().context("failed to flush the CSV writer")?;
    String::from_utf8(bytes).context("CSV output is not UTF-8")
}

wflow_guest::task!(run);

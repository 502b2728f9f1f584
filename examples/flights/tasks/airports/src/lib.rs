//! Airports: reads the airports CSV table into a map from IATA code to city and state.

use std::collections::BTreeMap;

use serde::Serialize;
use wflow_guest::{Context, Result, TaskError, Text};

const EXPECTED_HEADER: [&str; 7] = ["iata", "name", "city", "state", "country", "latitude", "longitude"];

#[derive(Serialize)]
struct Airport {
    city: String,
    state: String,
}

/// Parses the table and returns its airports keyed by IATA code.
///
/// A sorted map keeps the output bytes the same from run to run, so the
/// tasks that read it can reuse their cached outputs.
fn run(_ctx: &Context, input: Text) -> Result<BTreeMap<String, Airport>> {
    let text = input.0;
    let mut reader = csv::Reader::from_reader(text.as_bytes());

    let header = reader.headers().map_err(|error| describe_csv_error(&text, &error))?;
    if header.iter().ne(EXPECTED_HEADER) {
        return Err(TaskError::fatal(format!(
            "airports table line 1: header is `{}`, expected `{}`",
            header.iter().collect::<Vec<_>>().join(","),
            EXPECTED_HEADER.join(",")
        )));
    }

    let mut airports = BTreeMap::new();
    let mut record_offsets = BTreeMap::new();
    for record in reader.records() {
        let record = record.map_err(|error| describe_csv_error(&text, &error))?;
        let offset = record.position().map_or(0, |position| position.byte());

        // The header check and the reader's equal-length rule guarantee 7 fields.
        let iata = &record[0];
        if iata.is_empty() {
            return Err(error_at_line(&text, offset, "IATA code is empty".to_string()));
        }
        if let Some(first_offset) = record_offsets.insert(iata.to_string(), offset) {
            let first_line = line_at(&text, first_offset);
            let message = format!("IATA code `{iata}` already appears on line {first_line}");
            return Err(error_at_line(&text, offset, message));
        }
        let airport = Airport { city: record[2].to_string(), state: record[3].to_string() };
        airports.insert(iata.to_string(), airport);
    }

    wflow_guest::info!("read {} airports", airports.len());
    Ok(airports)
}

/// Converts a csv error into a fatal error that names its line.
fn describe_csv_error(text: &str, error: &csv::Error) -> TaskError {
    match error.kind() {
        csv::ErrorKind::UnequalLengths { pos: Some(position), expected_len, len } => {
            let message = format!("found {len} fields, expected {expected_len}");
            error_at_line(text, position.byte(), message)
        }
        _ => match error.position() {
            Some(position) => error_at_line(text, position.byte(), error.to_string()),
            None => TaskError::fatal(format!("airports table: {error}")),
        },
    }
}

fn error_at_line(text: &str, offset: u64, message: String) -> TaskError {
    TaskError::fatal(format!("airports table line {}: {message}", line_at(text, offset)))
}

/// Returns the 1-based line on which the record at byte `offset` starts.
///
/// csv 1.4 puts the position of a record that follows a CRLF line break or a
/// blank line on that line break, so its own `line()` is one short there. This
/// function skips those line-break bytes and counts the lines itself.
fn line_at(text: &str, offset: u64) -> usize {
    let offset = usize::try_from(offset).map_or(text.len(), |offset| offset.min(text.len()));
    let line_breaks = text.as_bytes()[offset..].iter().take_while(|&&byte| byte == b'\r' || byte == b'\n').count();
    let record_start = offset + line_breaks;
    1 + text.as_bytes()[..record_start].iter().filter(|&&byte| byte == b'\n').count()
}

wflow_guest::task!(run);

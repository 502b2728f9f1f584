//! Scan: reads the flights of a Parquet file and groups them into month
//! batches, the same output as `partition` gives for JSON input.
//!
//! The task reads three columns, in chunks of rows: `date`, a timestamp or a
//! date; `delay`, a signed integer; and `origin`, a string. A row whose date,
//! delay or origin is null, whose date is outside the years 0000 to 9999, or
//! whose origin is not a 3-character airport code, is rejected and counted,
//! as the `clean` task does for JSON rows.
//!
//! NOTE: the parquet crate can still panic on some damaged files, and a
//! panic ends the task as a trap, which the host retries when the task has
//! retries. The checks before each row group catch the known cases.

mod columns;

use std::collections::BTreeMap;

use bytes::Bytes as ByteBuffer;
use flights_batch::{MonthBatch, MonthBatches};
use parquet::errors::ParquetError;
use parquet::file::reader::{FileReader, SerializedFileReader};
use wflow_guest::{Bytes, Context, Result, TaskError};

use crate::columns::{ChunkValues, Columns, DateUnit};

/// Reads the Parquet file in `input` and returns one batch per month.
fn run(_ctx: &Context, input: Bytes) -> Result<Vec<MonthBatch>> {
    let size = input.0.len();
    // Parquet files start and end with the magic bytes `PAR1`.
    let (starts_like_parquet, ends_like_parquet) = (input.0.starts_with(b"PAR1"), input.0.ends_with(b"PAR1"));
    let reader = SerializedFileReader::new(ByteBuffer::from(input.0)).map_err(|error| {
        let message = match (starts_like_parquet, ends_like_parquet) {
            (true, true) => format!(
                "the input ({size} bytes) starts and ends like a Parquet file, but its metadata is damaged: \
                 {error}. Write the file again, or check that it was copied whole."
            ),
            (true, false) => format!(
                "the input ({size} bytes) starts like a Parquet file but does not end like one, so it may be \
                 cut short: {error}. Check that the file was copied whole."
            ),
            _ => format!(
                "the input ({size} bytes) is not a Parquet file: {error}. Pass a Parquet file as the \
                 task's input, for example `--param flights=flights.parquet`."
            ),
        };
        TaskError::fatal(message)
    })?;
    let columns = Columns::find(reader.metadata().file_metadata().schema_descr()).map_err(TaskError::fatal)?;

    let mut months = MonthBatches::new();
    let mut rejected: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut rows_read: u64 = 0;
    for index in 0..reader.num_row_groups() {
        columns::check_column_ranges(reader.metadata().row_group(index), size).map_err(|message| {
            TaskError::fatal(format!("row group {index} of the Parquet file is damaged: {message}"))
        })?;
        let row_group = reader.get_row_group(index).map_err(|error| read_error(index, &error))?;
        let mut chunks = columns.open(row_group.as_ref()).map_err(|error| read_error(index, &error))?;
        while let Some(values) = chunks.next_chunk().map_err(|error| read_error(index, &error))? {
            rows_read += values.len() as u64;
            for row in 0..values.len() {
                match flight(&values, row, columns.date_unit) {
                    Ok(flight) => months.push(flight.year, flight.month, flight.origin, flight.delay),
                    Err(reason) => *rejected.entry(reason).or_insert(0) += 1,
                }
            }
        }
    }

    let rows_rejected: u64 = rejected.values().sum();
    let summary = format!(
        "read {} in {} into {}",
        counted(rows_read, "row"),
        counted(reader.num_row_groups() as u64, "row group"),
        counted(months.month_count() as u64, "month")
    );
    if rows_rejected == 0 {
        wflow_guest::info!("{summary}");
    } else {
        wflow_guest::warn!("{summary} and rejected {rows_rejected}: {rejected:?}");
    }
    Ok(months.into_batches())
}

/// Returns `count` and `noun`, with an `s` unless the count is 1.
fn counted(count: u64, noun: &str) -> String {
    if count == 1 { format!("1 {noun}") } else { format!("{count} {noun}s") }
}

/// Turns an error of the parquet crate into the task's fatal error, with
/// advice for the errors that have a known fix.
fn read_error(row_group: usize, error: &ParquetError) -> TaskError {
    let advice = if error.to_string().contains("Disabled feature at compile time") {
        "The task reads uncompressed pages and pages compressed with zstd, Snappy, LZ4 or gzip: \
         write the file with one of these."
    } else {
        "The file may be damaged: write it again, or check that it was copied whole."
    };
    TaskError::fatal(format!("reading row group {row_group} of the Parquet file failed: {error}. {advice}"))
}

/// One accepted row.
struct Flight<'a> {
    year: i32,
    month: u32,
    origin: &'a str,
    delay: i64,
}

/// Returns row `row` of `values` as a flight, or the reason for rejecting it.
fn flight(values: &ChunkValues, row: usize, unit: DateUnit) -> std::result::Result<Flight<'_>, &'static str> {
    let date = values.date[row].ok_or("invalid_date")?;
    let delay = values.delay[row].ok_or("invalid_delay")?;
    let origin = values.origin[row].as_ref().ok_or("invalid_origin")?.data();
    let origin = airport_code(origin).ok_or("invalid_origin")?;

    // A month batch names its month `YYYY-MM`, as the JSON dates do.
    let (year, month) = year_month(unit.days_since_epoch(date));
    if !(0..=9999).contains(&year) {
        return Err("invalid_date");
    }
    Ok(Flight { year, month, origin, delay })
}

/// Returns the code when `bytes` are exactly 3 ASCII letters or digits.
fn airport_code(bytes: &[u8]) -> Option<&str> {
    let valid = bytes.len() == 3 && bytes.iter().all(u8::is_ascii_alphanumeric);
    valid.then(|| std::str::from_utf8(bytes).expect("ASCII is valid UTF-8"))
}

/// Returns the year and month (1 to 12) of a day counted from 1970-01-01, in
/// the proleptic Gregorian calendar.
///
/// The count is shifted to start on 0000-03-01 and split into 400-year eras
/// of 146,097 days. A year that starts in March ends with the leap day, so
/// the month follows from the day of that year without a table.
fn year_month(days: i64) -> (i32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year as i32, month as u32)
}

wflow_guest::task!(run);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn year_month_of_days() {
        assert_eq!(year_month(0), (1970, 1));
        assert_eq!(year_month(-1), (1969, 12));
        assert_eq!(year_month(11_323), (2001, 1));
        assert_eq!(year_month(11_323 + 30), (2001, 1));
        assert_eq!(year_month(11_323 + 31), (2001, 2));
        // 2000 is a leap year: 2000-02-29 is day 11,016 and 2000-03-01 day 11,017.
        assert_eq!(year_month(11_016), (2000, 2));
        assert_eq!(year_month(11_017), (2000, 3));
    }

    #[test]
    fn airport_codes() {
        assert_eq!(airport_code(b"ABQ"), Some("ABQ"));
        assert_eq!(airport_code(b"1G4"), Some("1G4"));
        assert_eq!(airport_code(b"AB"), None);
        assert_eq!(airport_code(b"ABQD"), None);
        assert_eq!(airport_code(b"A Q"), None);
        assert_eq!(airport_code("ÄBQ".as_bytes()), None);
    }
}

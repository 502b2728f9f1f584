//! The Parquet flights flow (`examples/flights/parquet.toml`): Parquet files
//! that the tests write with the `parquet` crate, bad files, and the
//! 3-million-row file checked against a native reading of it.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::basic::{Compression, GzipLevel, ZstdLevel};
use parquet::data_type::{ByteArray, ByteArrayType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::record::Field;
use parquet::schema::parser::parse_message_type;
use parquet::schema::types::SchemaDescriptor;
use serde_json::Value;
use wflow_host::state::{RunState, RunStore, TaskState};

use crate::flights_reference::{MonthlyStatistics, expected_outputs};
use crate::support::{self, Sandbox};

/// One column of a Parquet file the test writes, with `None` for a null.
enum ColumnValues {
    Int32(Vec<Option<i32>>),
    Int64(Vec<Option<i64>>),
    Text(Vec<Option<String>>),
}

/// Writes `columns` under the schema `message` to `path`, in row groups of
/// `group_rows` rows. A column with a `None` must be `OPTIONAL` in the schema.
fn write_parquet(path: &Path, message: &str, columns: &[ColumnValues], group_rows: usize, compression: Compression) {
    let schema = Arc::new(parse_message_type(message).expect("the test's schema is valid"));
    let descriptor = SchemaDescriptor::new(schema.clone());
    let properties = Arc::new(WriterProperties::builder().set_compression(compression).build());
    let file = File::create(path).unwrap();
    let mut writer = SerializedFileWriter::new(file, schema, properties).unwrap();

    let rows = match &columns[0] {
        ColumnValues::Int32(values) => values.len(),
        ColumnValues::Int64(values) => values.len(),
        ColumnValues::Text(values) => values.len(),
    };
    for start in (0..rows).step_by(group_rows.max(1)) {
        let range = start..rows.min(start + group_rows);
        let mut row_group = writer.next_row_group().unwrap();
        let mut index = 0;
        while let Some(mut column) = row_group.next_column().unwrap() {
            let optional = descriptor.column(index).max_def_level() > 0;
            match &columns[index] {
                ColumnValues::Int32(values) => {
                    let (present, levels) = split_nulls(&values[range.clone()], optional);
                    column.typed::<Int32Type>().write_batch(&present, levels.as_deref(), None).unwrap();
                }
                ColumnValues::Int64(values) => {
                    let (present, levels) = split_nulls(&values[range.clone()], optional);
                    column.typed::<Int64Type>().write_batch(&present, levels.as_deref(), None).unwrap();
                }
                ColumnValues::Text(values) => {
                    let (present, levels) = split_nulls(&values[range.clone()], optional);
                    let present: Vec<ByteArray> =
                        present.into_iter().map(|text| ByteArray::from(text.as_str())).collect();
                    column.typed::<ByteArrayType>().write_batch(&present, levels.as_deref(), None).unwrap();
                }
            }
            column.close().unwrap();
            index += 1;
        }
        row_group.close().unwrap();
    }
    writer.close().unwrap();
}

/// Splits values into the non-null ones and, for an optional column, the
/// definition level of each row: 1 for a value, 0 for a null.
fn split_nulls<T: Clone>(values: &[Option<T>], optional: bool) -> (Vec<T>, Option<Vec<i16>>) {
    let present: Vec<T> = values.iter().flatten().cloned().collect();
    if !optional {
        assert_eq!(present.len(), values.len(), "a required column has no nulls");
        return (present, None);
    }
    let levels = values.iter().map(|value| i16::from(value.is_some())).collect();
    (present, Some(levels))
}

/// Returns the days from 1970-01-01 to a Gregorian date, by counting whole
/// years and months: slow, and independent of the task's calendar code.
fn days_since_epoch(year: i64, month: i64, day: i64) -> i64 {
    let is_leap = |year: i64| (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_lengths = |year: i64| [31, if is_leap(year) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut days = 0;
    for earlier in 1970..year {
        days += if is_leap(earlier) { 366 } else { 365 };
    }
    days += month_lengths(year)[..(month - 1) as usize].iter().sum::<i64>();
    days + day - 1
}

/// A row of the flights JSON: its departure as minutes since 1970-01-01, its
/// delay and its origin.
struct JsonFlight {
    minutes: i64,
    delay: i64,
    origin: String,
}

/// Reads the flights JSON of the example. Every row of that file is valid.
fn example_flights() -> (String, Vec<JsonFlight>) {
    let text = std::fs::read_to_string(support::root().join("examples/flights/data/flights-2k.json")).unwrap();
    let rows: Vec<Value> = serde_json::from_str(&text).unwrap();
    let flights = rows
        .iter()
        .map(|row| {
            let date = row["date"].as_str().unwrap();
            let number = |range: std::ops::Range<usize>| date[range].parse::<i64>().unwrap();
            let days = days_since_epoch(number(0..4), number(5..7), number(8..10));
            JsonFlight {
                minutes: days * 1440 + number(11..13) * 60 + number(14..16),
                delay: row["delay"].as_i64().unwrap(),
                origin: row["origin"].as_str().unwrap().to_string(),
            }
        })
        .collect();
    (text, flights)
}

/// Writes the 2k example flights as a Parquet file. The date column has the
/// physical type `date_type` (`INT32` days or `INT64` with `per_minute` units
/// per minute) with the annotation `date_annotation` of the schema language.
fn write_example_parquet(
    path: &Path,
    (date_type, date_annotation): (&str, &str),
    per_minute: i64,
    compression: Compression,
) {
    let (_, flights) = example_flights();
    let dates = if date_type == "INT32" {
        ColumnValues::Int32(flights.iter().map(|flight| Some((flight.minutes.div_euclid(1440)) as i32)).collect())
    } else {
        ColumnValues::Int64(flights.iter().map(|flight| Some(flight.minutes * per_minute)).collect())
    };
    let message = format!(
        "message flights {{ REQUIRED {date_type} date {date_annotation}; REQUIRED INT32 delay; REQUIRED INT64 distance; \
         REQUIRED BINARY origin (STRING); REQUIRED BINARY destination (STRING); }}"
    );
    let columns = [
        dates,
        ColumnValues::Int32(flights.iter().map(|flight| Some(flight.delay as i32)).collect()),
        ColumnValues::Int64(flights.iter().map(|_| Some(100)).collect()),
        ColumnValues::Text(flights.iter().map(|flight| Some(flight.origin.clone())).collect()),
        ColumnValues::Text(flights.iter().map(|_| Some("SFO".to_string())).collect()),
    ];
    write_parquet(path, &message, &columns, 700, compression);
}

fn read_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|error| panic!("failed to read {}: {error}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn by_month_path(sandbox: &Sandbox) -> PathBuf {
    sandbox.path().join("flights/out/parquet/by_month.json")
}

#[tokio::test(flavor = "multi_thread")]
async fn parquet_2k_matches_json_reference() {
    let sandbox = Sandbox::new();
    let manifest = support::flights_parquet_flow(&sandbox);
    let flights = sandbox.path().join("flights-2k.parquet");
    let date = ("INT64", "(TIMESTAMP(MICROS, false))");
    write_example_parquet(&flights, date, 60_000_000, Compression::ZSTD(ZstdLevel::default()));
    let flow = support::load(&manifest, &[("flights", flights.to_str().unwrap())]);

    let report = support::run(&sandbox.host(), &flow).await;

    assert_eq!(report.state, RunState::Completed, "{report:#?}");
    assert_eq!(report.task("monthly").unwrap().elements, Some(3));
    let (json, _) = example_flights();
    let airports = std::fs::read_to_string(support::root().join("examples/flights/data/airports.csv")).unwrap();
    let expected = expected_outputs(&json, &airports, 10, 15);
    assert_eq!(read_json(&by_month_path(&sandbox)), expected.by_month);
}

#[tokio::test(flavor = "multi_thread")]
async fn parquet_date_types_agree() {
    let sandbox = Sandbox::new();
    let manifest = support::flights_parquet_flow(&sandbox);
    let host = sandbox.host();
    let (json, _) = example_flights();
    let airports = std::fs::read_to_string(support::root().join("examples/flights/data/airports.csv")).unwrap();
    let expected = expected_outputs(&json, &airports, 10, 30).by_month;
    // Each case also uses another compression codec.
    let cases = [
        (("INT32", "(DATE)"), 0, Compression::UNCOMPRESSED),
        (("INT64", "(TIMESTAMP(MILLIS, true))"), 60_000, Compression::SNAPPY),
        (("INT64", "(TIMESTAMP(NANOS, false))"), 60_000_000_000, Compression::LZ4_RAW),
        (("INT64", "(TIMESTAMP_MILLIS)"), 60_000, Compression::GZIP(GzipLevel::default())),
        (("INT64", "(TIMESTAMP_MICROS)"), 60_000_000, Compression::LZ4),
    ];

    for (index, (date_type, per_minute, compression)) in cases.into_iter().enumerate() {
        let flights = sandbox.path().join(format!("flights-{index}.parquet"));
        write_example_parquet(&flights, date_type, per_minute, compression);
        let flow = support::load(&manifest, &[("flights", flights.to_str().unwrap()), ("delay_threshold", "30")]);

        let report = support::run(&host, &flow).await;

        assert_eq!(report.state, RunState::Completed, "{date_type:?}: {report:#?}");
        assert_eq!(read_json(&by_month_path(&sandbox)), expected, "date type {date_type:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn parquet_rejects_null_and_invalid_rows() {
    let sandbox = Sandbox::new();
    let manifest = support::flights_parquet_flow(&sandbox);
    let host = sandbox.host();
    let flights = sandbox.path().join("nulls.parquet");
    let day = days_since_epoch(2001, 3, 31) as i32;
    let year_10000 = days_since_epoch(10_000, 1, 1) as i32;
    let columns = [
        ColumnValues::Int32(vec![Some(day), None, Some(day), Some(day), Some(day + 1), Some(year_10000)]),
        ColumnValues::Int64(vec![Some(20), Some(5), None, Some(7), Some(-4), Some(1)]),
        ColumnValues::Text(vec![
            Some("LAX".to_string()),
            Some("LAX".to_string()),
            Some("SFO".to_string()),
            Some("LAXX".to_string()),
            None,
            Some("LAX".to_string()),
        ]),
    ];
    let message =
        "message flights { OPTIONAL INT32 date (DATE); OPTIONAL INT64 delay; OPTIONAL BINARY origin (STRING); }";
    write_parquet(&flights, message, &columns, 2, Compression::UNCOMPRESSED);
    let flow = support::load(&manifest, &[("flights", flights.to_str().unwrap())]);

    let report = support::run(&host, &flow).await;

    assert_eq!(report.state, RunState::Completed, "{report:#?}");
    let expected = serde_json::json!([
        {"month": "2001-03", "flights": 1, "mean_delay": 20.0, "delayed_share": 1.0, "busiest_origin": "LAX"}
    ]);
    assert_eq!(read_json(&by_month_path(&sandbox)), expected);
    let logs = host.runs().logs(&report.run_id, "scan").unwrap();
    let expected_log = "read 6 rows in 3 row groups into 1 month and rejected 5: \
                        {\"invalid_date\": 2, \"invalid_delay\": 1, \"invalid_origin\": 2}";
    assert!(logs.iter().any(|line| line.message == expected_log), "{logs:?}");
}

/// Runs the flow on `flights`, with retries allowed, and returns the scan
/// task's error.
async fn scan_error(sandbox: &Sandbox, flights: &Path) -> String {
    let manifest = support::flights_parquet_flow(sandbox);
    let text = std::fs::read_to_string(&manifest).unwrap();
    let retry = "id = \"scan\"\nretry = { attempts = 3, delay = \"10ms\" }";
    std::fs::write(&manifest, text.replacen("id = \"scan\"", retry, 1)).unwrap();
    let flow = support::load(&manifest, &[("flights", flights.to_str().unwrap())]);

    let report = support::run(&sandbox.host(), &flow).await;

    assert_eq!(report.state, RunState::Failed, "{report:#?}");
    let scan = report.task("scan").unwrap();
    assert_eq!(scan.state, TaskState::Failed);
    assert_eq!(scan.attempts, 1, "a bad file fails without a retry");
    scan.error.clone().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_rejects_json_input() {
    let sandbox = Sandbox::new();
    let flights = support::root().join("examples/flights/data/flights-2k.json");

    let size = std::fs::metadata(&flights).unwrap().len();

    let error = scan_error(&sandbox, &flights).await;

    let start = format!("task `scan` failed: the input ({size} bytes) is not a Parquet file: ");
    assert!(error.starts_with(&start), "{error}");
    assert!(error.ends_with("Pass a Parquet file as the task's input, for example `--param flights=flights.parquet`."));
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_names_missing_column() {
    let sandbox = Sandbox::new();
    let flights = sandbox.path().join("no-origin.parquet");
    let columns = [ColumnValues::Int32(vec![Some(11_323)]), ColumnValues::Int64(vec![Some(3)])];
    write_parquet(
        &flights,
        "message m { REQUIRED INT32 date (DATE); REQUIRED INT64 delay; }",
        &columns,
        10,
        Compression::UNCOMPRESSED,
    );

    let error = scan_error(&sandbox, &flights).await;

    assert_eq!(
        error,
        "task `scan` failed: the Parquet file has no column `origin`; its columns are date, delay. \
         The task needs the columns `date`, `delay` and `origin`."
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_rejects_text_dates() {
    let sandbox = Sandbox::new();
    let flights = sandbox.path().join("text-dates.parquet");
    let columns = [
        ColumnValues::Text(vec![Some("2001/01/01 06:55".to_string())]),
        ColumnValues::Int64(vec![Some(3)]),
        ColumnValues::Text(vec![Some("LAX".to_string())]),
    ];
    let message = "message m { REQUIRED BINARY date (STRING); REQUIRED INT64 delay; REQUIRED BINARY origin (STRING); }";
    write_parquet(&flights, message, &columns, 10, Compression::UNCOMPRESSED);

    let error = scan_error(&sandbox, &flights).await;

    assert_eq!(
        error,
        "task `scan` failed: column `date` of the Parquet file has the type BYTE_ARRAY (String), but the task \
         needs a DATE or a TIMESTAMP in milliseconds, microseconds or nanoseconds"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_rejects_unsigned_delay() {
    let sandbox = Sandbox::new();
    let flights = sandbox.path().join("unsigned.parquet");
    let columns = [
        ColumnValues::Int32(vec![Some(11_323)]),
        ColumnValues::Int32(vec![Some(3)]),
        ColumnValues::Text(vec![Some("LAX".to_string())]),
    ];
    let message = "message m { REQUIRED INT32 date (DATE); REQUIRED INT32 delay (INTEGER(32, false)); \
                   REQUIRED BINARY origin (STRING); }";
    write_parquet(&flights, message, &columns, 10, Compression::UNCOMPRESSED);

    let error = scan_error(&sandbox, &flights).await;

    assert!(error.contains("column `delay` of the Parquet file has the type INT32"), "{error}");
    assert!(error.ends_with("but the task needs a signed 32-bit or 64-bit integer of minutes"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn parquet_without_rows_gives_no_months() {
    let sandbox = Sandbox::new();
    let manifest = support::flights_parquet_flow(&sandbox);
    let flights = sandbox.path().join("empty.parquet");
    let columns = [ColumnValues::Int32(vec![]), ColumnValues::Int64(vec![]), ColumnValues::Text(vec![])];
    let message = "message m { REQUIRED INT32 date (DATE); REQUIRED INT64 delay; REQUIRED BINARY origin (STRING); }";
    write_parquet(&flights, message, &columns, 10, Compression::UNCOMPRESSED);
    let flow = support::load(&manifest, &[("flights", flights.to_str().unwrap())]);

    let report = support::run(&sandbox.host(), &flow).await;

    assert_eq!(report.state, RunState::Completed, "{report:#?}");
    assert_eq!(report.task("monthly").unwrap().elements, Some(0));
    assert_eq!(read_json(&by_month_path(&sandbox)), serde_json::json!([]));
}

/// Returns the 3-million-row file: the one that `WFLOW_FLIGHTS_PARQUET`
/// names, or else `../shared/data/flights-3m.parquet` beside the checkout. `None` when
/// the file does not exist.
fn large_flights_file() -> Option<PathBuf> {
    let path = match std::env::var_os("WFLOW_FLIGHTS_PARQUET") {
        Some(path) => PathBuf::from(path),
        None => support::root().join("../shared/data/flights-3m.parquet"),
    };
    path.is_file().then_some(path)
}

/// Computes the expected `by_month.json` of `path` with the `parquet` crate's
/// row reader, which shares no code with the scan task's column reader.
fn expected_by_month(path: &Path, delay_threshold: i64) -> Value {
    let reader = SerializedFileReader::new(File::open(path).unwrap()).unwrap();
    let mut months = MonthlyStatistics::new(delay_threshold);
    // The file spans a few hundred days, so each day's month is computed once.
    let mut month_names: HashMap<i64, String> = HashMap::new();
    for row in reader.get_row_iter(None).unwrap() {
        let row = row.unwrap();
        let (mut date, mut delay, mut origin) = (None, None, None);
        for (name, field) in row.get_column_iter() {
            match (name.as_str(), field) {
                ("date", Field::TimestampMicros(micros)) => date = Some(micros.div_euclid(86_400_000_000)),
                ("delay", Field::Long(minutes)) => delay = Some(*minutes),
                ("origin", Field::Str(code)) => origin = Some(code.as_str()),
                _ => {}
            }
        }
        let (Some(day), Some(delay), Some(origin)) = (date, delay, origin) else {
            panic!("row without a date, delay or origin: {row}");
        };
        let month = month_names.entry(day).or_insert_with(|| month_name(day));
        months.add(month, delay, origin);
    }
    months.to_json()
}

/// Returns the month `YYYY-MM` of a day counted from 1970-01-01.
fn month_name(day: i64) -> String {
    let (year, month) = year_and_month(day);
    format!("{year:04}-{month:02}")
}

/// Returns the year and month of a day counted from 1970-01-01, by searching
/// forward, for days from 1970 on.
fn year_and_month(day: i64) -> (i64, i64) {
    let mut year = 1970 + day / 366;
    while days_since_epoch(year + 1, 1, 1) <= day {
        year += 1;
    }
    let mut month = 1;
    while month < 12 && days_since_epoch(year, month + 1, 1) <= day {
        month += 1;
    }
    (year, month)
}

#[tokio::test(flavor = "multi_thread")]
async fn parquet_3m_matches_row_reader() {
    let Some(flights) = large_flights_file() else {
        eprintln!(
            "skipped: no 3-million-row Parquet file; set WFLOW_FLIGHTS_PARQUET to its path or put it at \
             ../shared/data/flights-3m.parquet beside the checkout"
        );
        return;
    };
    let sandbox = Sandbox::new();
    let manifest = support::flights_parquet_flow(&sandbox);
    let flow = support::load(&manifest, &[("flights", flights.to_str().unwrap())]);

    let report = support::run(&sandbox.host(), &flow).await;

    assert_eq!(report.state, RunState::Completed, "{report:#?}");
    let by_month = read_json(&by_month_path(&sandbox));
    let total: u64 = by_month.as_array().unwrap().iter().map(|month| month["flights"].as_u64().unwrap()).sum();
    assert_eq!(total, 3_000_000);
    assert_eq!(by_month, expected_by_month(&flights, 15));
}

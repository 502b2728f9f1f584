//! Finds the `date`, `delay` and `origin` columns in a Parquet schema, checks
//! their types, and reads them one row group at a time.

use parquet::basic::{ConvertedType, LogicalType, TimeUnit, Type as PhysicalType};
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::{ByteArray, DataType};
use parquet::errors::{ParquetError, Result as ParquetResult};
use parquet::file::reader::RowGroupReader;
use parquet::schema::types::{ColumnDescPtr, SchemaDescriptor};

/// The columns that the task reads, by index in the file's schema.
pub struct Columns {
    date: Column,
    delay: Column,
    origin: Column,
    /// What one unit of the `date` column is.
    pub date_unit: DateUnit,
}

struct Column {
    index: usize,
    /// The column's maximum definition level: 0 when it is required, so it has
    /// no nulls, and 1 when it is optional.
    max_definition_level: i16,
}

/// The unit of a `date` value: a day for a Parquet `DATE`, or the unit of a
/// `TIMESTAMP`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DateUnit {
    Days,
    Milliseconds,
    Microseconds,
    Nanoseconds,
}

impl DateUnit {
    /// Returns the day, counted from 1970-01-01, that contains `value`.
    pub fn days_since_epoch(self, value: i64) -> i64 {
        let per_day: i64 = match self {
            DateUnit::Days => 1,
            DateUnit::Milliseconds => 86_400_000,
            DateUnit::Microseconds => 86_400_000_000,
            DateUnit::Nanoseconds => 86_400_000_000_000,
        };
        value.div_euclid(per_day)
    }
}

/// The values of one row group, one entry per row, `None` where the value is
/// null.
pub struct RowGroupValues {
    pub date: Vec<Option<i64>>,
    pub delay: Vec<Option<i64>>,
    pub origin: Vec<Option<ByteArray>>,
}

impl RowGroupValues {
    /// Returns the number of rows.
    pub fn len(&self) -> usize {
        self.date.len()
    }
}

impl Columns {
    /// Finds the three columns in `schema` and checks their types. The error
    /// names the column, what it is, and what the task accepts.
    pub fn find(schema: &SchemaDescriptor) -> Result<Columns, String> {
        let (date_index, date) = find_column(schema, "date")?;
        let date_unit = date_unit(&date)?;
        let (delay_index, delay) = find_column(schema, "delay")?;
        if !matches!(delay.physical_type(), PhysicalType::INT32 | PhysicalType::INT64) {
            return Err(wrong_type(&delay, "a 32-bit or 64-bit integer of minutes"));
        }
        let (origin_index, origin) = find_column(schema, "origin")?;
        if origin.physical_type() != PhysicalType::BYTE_ARRAY {
            return Err(wrong_type(&origin, "a string such as \"ABQ\""));
        }

        Ok(Columns {
            date: Column::new(date_index, &date),
            delay: Column::new(delay_index, &delay),
            origin: Column::new(origin_index, &origin),
            date_unit,
        })
    }

    /// Reads the three columns of `row_group`.
    pub fn read(&self, row_group: &dyn RowGroupReader) -> ParquetResult<RowGroupValues> {
        let rows = usize::try_from(row_group.metadata().num_rows()).unwrap_or(0);
        let date = read_integers(row_group, &self.date, rows)?;
        let delay = read_integers(row_group, &self.delay, rows)?;
        let origin = match row_group.get_column_reader(self.origin.index)? {
            ColumnReader::ByteArrayColumnReader(reader) => read_column(reader, &self.origin, rows)?,
            _ => unreachable!("`find` checked that the origin column holds byte arrays"),
        };
        if date.len() != rows || delay.len() != rows || origin.len() != rows {
            return Err(ParquetError::General(format!(
                "the row group has {rows} rows, but its columns hold {} dates, {} delays and {} origins",
                date.len(),
                delay.len(),
                origin.len()
            )));
        }
        Ok(RowGroupValues { date, delay, origin })
    }
}

impl Column {
    fn new(index: usize, descriptor: &ColumnDescPtr) -> Column {
        Column { index, max_definition_level: descriptor.max_def_level() }
    }
}

/// Returns the index and descriptor of the top-level column `name`. A nested column with that leaf name
/// does not count, and neither does a repeated one.
fn find_column(schema: &SchemaDescriptor, name: &str) -> Result<(usize, ColumnDescPtr), String> {
    let found = schema.columns().iter().enumerate().find(|(_, column)| column.path().string() == name);
    let Some((index, column)) = found else {
        let names: Vec<String> = schema.columns().iter().map(|column| column.path().string()).collect();
        return Err(format!(
            "the Parquet file has no column `{name}`; its columns are {}. The task needs the \
             columns `date`, `delay` and `origin`.",
            names.join(", ")
        ));
    };
    if column.max_rep_level() > 0 {
        return Err(format!("column `{name}` of the Parquet file is a list, but the task needs one value per row"));
    }
    Ok((index, column.clone()))
}

/// Returns the unit of the `date` column, or an error when it is neither a
/// `DATE` nor a `TIMESTAMP`.
fn date_unit(column: &ColumnDescPtr) -> Result<DateUnit, String> {
    let unit = match (column.physical_type(), column.logical_type_ref(), column.converted_type()) {
        (PhysicalType::INT32, Some(LogicalType::Date), _) | (PhysicalType::INT32, None, ConvertedType::DATE) => {
            Some(DateUnit::Days)
        }
        (PhysicalType::INT64, Some(LogicalType::Timestamp { unit, .. }), _) => Some(match unit {
            TimeUnit::MILLIS => DateUnit::Milliseconds,
            TimeUnit::MICROS => DateUnit::Microseconds,
            TimeUnit::NANOS => DateUnit::Nanoseconds,
        }),
        (PhysicalType::INT64, None, ConvertedType::TIMESTAMP_MILLIS) => Some(DateUnit::Milliseconds),
        (PhysicalType::INT64, None, ConvertedType::TIMESTAMP_MICROS) => Some(DateUnit::Microseconds),
        _ => None,
    };
    unit.ok_or_else(|| wrong_type(column, "a DATE or a TIMESTAMP in milliseconds, microseconds or nanoseconds"))
}

fn wrong_type(column: &ColumnDescPtr, expected: &str) -> String {
    let logical =
        column.logical_type_ref().map_or_else(|| "no logical type".to_string(), |logical| format!("{logical:?}"));
    format!(
        "column `{}` of the Parquet file has the type {} ({logical}), but the task needs {expected}",
        column.path().string(),
        column.physical_type()
    )
}

/// Reads an `INT32` or `INT64` column as 64-bit integers.
fn read_integers(row_group: &dyn RowGroupReader, column: &Column, rows: usize) -> ParquetResult<Vec<Option<i64>>> {
    match row_group.get_column_reader(column.index)? {
        ColumnReader::Int64ColumnReader(reader) => read_column(reader, column, rows),
        ColumnReader::Int32ColumnReader(reader) => {
            let values = read_column(reader, column, rows)?;
            Ok(values.into_iter().map(|value| value.map(i64::from)).collect())
        }
        _ => unreachable!("`find` checked that the column holds 32-bit or 64-bit integers"),
    }
}

/// Reads all `rows` values of one column, with `None` for each null.
fn read_column<T: DataType>(
    mut reader: ColumnReaderImpl<T>,
    column: &Column,
    rows: usize,
) -> ParquetResult<Vec<Option<T::T>>> {
    let mut values: Vec<T::T> = Vec::with_capacity(rows);
    if column.max_definition_level == 0 {
        reader.read_records(rows, None, None, &mut values)?;
        return Ok(values.into_iter().map(Some).collect());
    }

    // An optional column stores only its non-null values. The definition
    // level of each row says whether the row has the next value.
    let mut levels: Vec<i16> = Vec::with_capacity(rows);
    reader.read_records(rows, Some(&mut levels), None, &mut values)?;
    let mut values = values.into_iter();
    let spread =
        levels.iter().map(|&level| if level == column.max_definition_level { values.next() } else { None }).collect();
    Ok(spread)
}

//! Finds the `date`, `delay` and `origin` columns in a Parquet schema, checks
//! their types, and reads them in chunks of rows.

use parquet::basic::{ConvertedType, LogicalType, TimeUnit, Type as PhysicalType};
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::{ByteArray, ByteArrayType, DataType, Int32Type, Int64Type};
use parquet::errors::{ParquetError, Result as ParquetResult};
use parquet::file::metadata::RowGroupMetaData;
use parquet::file::reader::RowGroupReader;
use parquet::schema::types::{ColumnDescPtr, SchemaDescriptor};

/// Rows read from each column at a time. Memory grows with the chunk, not
/// with the row group, which a writer may make as large as the file.
const CHUNK_ROWS: usize = 65_536;

/// The columns that the task reads, by index in the file's schema.
pub struct Columns {
    date: Column,
    delay: Column,
    origin: Column,
    /// The unit of the `date` column's values.
    pub date_unit: DateUnit,
}

#[derive(Clone, Copy)]
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

/// The values of a chunk of rows, one entry per row, `None` where the value
/// is null.
#[derive(Default)]
pub struct ChunkValues {
    pub date: Vec<Option<i64>>,
    pub delay: Vec<Option<i64>>,
    pub origin: Vec<Option<ByteArray>>,
}

impl ChunkValues {
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
        check_delay_type(&delay)?;
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

    /// Opens the three columns of `row_group` for reading in chunks.
    pub fn open(&self, row_group: &dyn RowGroupReader) -> ParquetResult<RowGroupChunks> {
        let rows = usize::try_from(row_group.metadata().num_rows()).map_err(|_| {
            ParquetError::General(format!("its row count {} is negative", row_group.metadata().num_rows()))
        })?;
        let date = IntegerReader::new(row_group.get_column_reader(self.date.index)?, self.date)?;
        let delay = IntegerReader::new(row_group.get_column_reader(self.delay.index)?, self.delay)?;
        let origin = match row_group.get_column_reader(self.origin.index)? {
            ColumnReader::ByteArrayColumnReader(reader) => reader,
            _ => return Err(ParquetError::General("column `origin` does not hold byte arrays".to_string())),
        };
        Ok(RowGroupChunks { date, delay, origin, origin_column: self.origin, rows_left: rows })
    }
}

/// Checks that every column chunk of `row_group` lies inside a file of
/// `file_size` bytes. The parquet crate panics on a negative offset or size
/// instead of returning an error, and a task's panic would be retried.
pub fn check_column_ranges(row_group: &RowGroupMetaData, file_size: usize) -> Result<(), String> {
    for column in row_group.columns() {
        let start = column.dictionary_page_offset().unwrap_or(column.data_page_offset());
        let size = column.compressed_size();
        let end = start.checked_add(size);
        let inside = start >= 0 && size >= 0 && end.is_some_and(|end| end <= file_size as i64);
        if !inside {
            return Err(format!(
                "the metadata places column `{}` at bytes {start} to {}, outside the file's {file_size} bytes",
                column.column_path().string(),
                end.map_or_else(|| "beyond 2^63".to_string(), |end| end.to_string()),
            ));
        }
    }
    Ok(())
}

/// The open readers of one row group's three columns.
pub struct RowGroupChunks {
    date: IntegerReader,
    delay: IntegerReader,
    origin: ColumnReaderImpl<ByteArrayType>,
    origin_column: Column,
    rows_left: usize,
}

impl RowGroupChunks {
    /// Reads the next chunk of rows, or returns `None` after the last row that
    /// the row group's metadata counts. Fails when a column has fewer or
    /// more rows than that count.
    pub fn next_chunk(&mut self) -> ParquetResult<Option<ChunkValues>> {
        if self.rows_left == 0 {
            self.check_exhausted()?;
            return Ok(None);
        }
        let rows = self.rows_left.min(CHUNK_ROWS);
        let chunk = ChunkValues {
            date: self.date.read(rows)?,
            delay: self.delay.read(rows)?,
            origin: read_column(&mut self.origin, self.origin_column, rows)?,
        };
        let lengths = [("date", chunk.date.len()), ("delay", chunk.delay.len()), ("origin", chunk.origin.len())];
        if let Some((name, length)) = lengths.into_iter().find(|&(_, length)| length != rows) {
            return Err(ParquetError::General(format!(
                "column `{name}` ends {} rows before the row count in the metadata",
                self.rows_left - length
            )));
        }
        self.rows_left -= rows;
        Ok(Some(chunk))
    }

    /// Fails when a column has values past the row count in the metadata,
    /// which would otherwise be dropped without notice.
    fn check_exhausted(&mut self) -> ParquetResult<()> {
        let extra = [
            ("date", self.date.read(1)?.len()),
            ("delay", self.delay.read(1)?.len()),
            ("origin", read_column(&mut self.origin, self.origin_column, 1)?.len()),
        ];
        match extra.into_iter().find(|&(_, count)| count > 0) {
            Some((name, _)) => {
                Err(ParquetError::General(format!("column `{name}` has more rows than the row count in the metadata")))
            }
            None => Ok(()),
        }
    }
}

/// A reader of an `INT32` or `INT64` column that returns 64-bit integers.
enum IntegerReader {
    Int32(ColumnReaderImpl<Int32Type>, Column),
    Int64(ColumnReaderImpl<Int64Type>, Column),
}

impl IntegerReader {
    fn new(reader: ColumnReader, column: Column) -> ParquetResult<IntegerReader> {
        match reader {
            ColumnReader::Int32ColumnReader(reader) => Ok(IntegerReader::Int32(reader, column)),
            ColumnReader::Int64ColumnReader(reader) => Ok(IntegerReader::Int64(reader, column)),
            _ => Err(ParquetError::General("the integer column has another physical type".to_string())),
        }
    }

    fn read(&mut self, rows: usize) -> ParquetResult<Vec<Option<i64>>> {
        match self {
            IntegerReader::Int32(reader, column) => {
                let values = read_column(reader, *column, rows)?;
                Ok(values.into_iter().map(|value| value.map(i64::from)).collect())
            }
            IntegerReader::Int64(reader, column) => read_column(reader, *column, rows),
        }
    }
}

/// Reads up to `rows` values of one column, with `None` for each null.
fn read_column<T: DataType>(
    reader: &mut ColumnReaderImpl<T>,
    column: Column,
    rows: usize,
) -> ParquetResult<Vec<Option<T::T>>> {
    let mut values: Vec<T::T> = Vec::with_capacity(rows);
    if column.max_definition_level == 0 {
        reader.read_records(rows, None, None, &mut values)?;
        return Ok(values.into_iter().map(Some).collect());
    }

    // An optional column stores only its non-null values. The definition
    // level of each row shows whether the row has the next value.
    let mut levels: Vec<i16> = Vec::with_capacity(rows);
    reader.read_records(rows, Some(&mut levels), None, &mut values)?;
    let mut values = values.into_iter();
    let spread =
        levels.iter().map(|&level| if level == column.max_definition_level { values.next() } else { None }).collect();
    Ok(spread)
}

impl Column {
    fn new(index: usize, descriptor: &ColumnDescPtr) -> Column {
        Column { index, max_definition_level: descriptor.max_def_level() }
    }
}

/// Returns the index and descriptor of the top-level column `name`. A nested
/// column with that leaf name does not count, and neither does a repeated one.
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
        return Err(format!(
            "column `{name}` of the Parquet file is a list, but the task needs one value per row; write \
             `{name}` as a plain column"
        ));
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
        (PhysicalType::INT64, Some(LogicalType::Timestamp(timestamp)), _) => Some(match timestamp.unit {
            TimeUnit::MILLIS => DateUnit::Milliseconds,
            TimeUnit::MICROS => DateUnit::Microseconds,
            TimeUnit::NANOS => DateUnit::Nanoseconds,
        }),
        (PhysicalType::INT64, None, ConvertedType::TIMESTAMP_MILLIS) => Some(DateUnit::Milliseconds),
        (PhysicalType::INT64, None, ConvertedType::TIMESTAMP_MICROS) => Some(DateUnit::Microseconds),
        _ => None,
    };
    if unit.is_none() && column.physical_type() == PhysicalType::INT96 {
        return Err(wrong_type(
            column,
            "a DATE or a TIMESTAMP in milliseconds, microseconds or nanoseconds. INT96 timestamps are \
             deprecated; Spark writes TIMESTAMP_MICROS with spark.sql.parquet.outputTimestampType=TIMESTAMP_MICROS",
        ));
    }
    unit.ok_or_else(|| wrong_type(column, "a DATE or a TIMESTAMP in milliseconds, microseconds or nanoseconds"))
}

/// Accepts a signed `INT32` or `INT64` without an annotation that changes
/// its meaning: an unsigned, decimal or time value read as minutes would
/// give wrong statistics without an error.
fn check_delay_type(column: &ColumnDescPtr) -> Result<(), String> {
    let integer = matches!(column.physical_type(), PhysicalType::INT32 | PhysicalType::INT64);
    let signed = match (column.logical_type_ref(), column.converted_type()) {
        (None, ConvertedType::NONE) => true,
        (None, converted) => {
            matches!(
                converted,
                ConvertedType::INT_8 | ConvertedType::INT_16 | ConvertedType::INT_32 | ConvertedType::INT_64
            )
        }
        (Some(LogicalType::Integer(integer)), _) => integer.is_signed,
        (Some(_), _) => false,
    };
    if integer && signed { Ok(()) } else { Err(wrong_type(column, "a signed 32-bit or 64-bit integer of minutes")) }
}

fn wrong_type(column: &ColumnDescPtr, expected: &str) -> String {
    let logical = match column.logical_type_ref() {
        Some(logical) => format!("{logical:?}"),
        None if column.converted_type() != ConvertedType::NONE => column.converted_type().to_string(),
        None => "no logical type".to_string(),
    };
    format!(
        "column `{}` of the Parquet file has the type {} ({logical}), but the task needs {expected}",
        column.path().string(),
        column.physical_type()
    )
}

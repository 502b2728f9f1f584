//! The month batch: the flights of one calendar month in columns, the element
//! that the `partition` and `scan` tasks write and the `monthly` task reads.
//!
//! A batch stores each column as one JSON array, and each origin airport as an
//! index into the batch's own list of codes. Half a million flights take
//! about 4 MB, against 25 MB or more as an array of row objects, so a month of
//! a large data set stays cheap to write, cache and parse.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// The flights of one calendar month. Position `i` of `origin` and `delay`
/// describes flight `i`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct MonthBatch {
    /// Calendar month, `YYYY-MM`.
    pub month: String,
    /// Origin airport codes, each once, in the order of their first flight.
    pub origins: Vec<String>,
    /// Per flight, the index of its origin airport in `origins`.
    pub origin: Vec<u32>,
    /// Per flight, the delay in minutes, negative when the flight was early.
    pub delay: Vec<i64>,
}

impl MonthBatch {
    /// Returns the number of flights.
    pub fn len(&self) -> usize {
        self.delay.len()
    }

    /// Returns true when the batch has no flights.
    pub fn is_empty(&self) -> bool {
        self.delay.is_empty()
    }

    /// Checks that the columns have the same length, that every origin
    /// index points into `origins`, and that no code is listed twice. The
    /// error names the first violation.
    pub fn check_columns(&self) -> Result<(), String> {
        if self.origin.len() != self.delay.len() {
            return Err(format!(
                "month {} has {} origin indexes but {} delays; each flight needs one of each",
                self.month,
                self.origin.len(),
                self.delay.len()
            ));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(code) = self.origins.iter().find(|code| !seen.insert(code.as_str())) {
            return Err(format!(
                "month {} lists the origin code {code:?} twice; each code must appear once in `origins`",
                self.month
            ));
        }
        let codes = self.origins.len();
        if let Some(position) = self.origin.iter().position(|&index| index as usize >= codes) {
            return Err(format!(
                "flight {} of month {} has the origin index {}, but the month lists only {codes} origin codes",
                position + 1,
                self.month,
                self.origin[position]
            ));
        }
        Ok(())
    }
}

/// Groups flights by month while they are read, and builds the batches.
///
/// Months are keyed by year and month number, so a reader that decodes dates
/// into numbers formats each month name once, not once per flight.
#[derive(Debug, Default)]
pub struct MonthBatches {
    months: BTreeMap<(i32, u32), BatchBuilder>,
}

#[derive(Debug, Default)]
struct BatchBuilder {
    origins: Vec<String>,
    index_of: HashMap<String, u32>,
    origin: Vec<u32>,
    delay: Vec<i64>,
}

impl MonthBatches {
    /// Creates an empty grouping.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one flight of `month` (1 to 12) in `year`.
    ///
    /// # Panics
    ///
    /// Panics when a month has more than `u32::MAX` distinct origin codes.
    pub fn push(&mut self, year: i32, month: u32, origin: &str, delay: i64) {
        let builder = self.months.entry((year, month)).or_default();
        let index = match builder.index_of.get(origin) {
            Some(&index) => index,
            None => {
                let index = u32::try_from(builder.origins.len()).expect("fewer than 2^32 origin codes in a month");
                builder.origins.push(origin.to_string());
                builder.index_of.insert(origin.to_string(), index);
                index
            }
        };
        builder.origin.push(index);
        builder.delay.push(delay);
    }

    /// Returns the number of months that have flights.
    pub fn month_count(&self) -> usize {
        self.months.len()
    }

    /// Returns the batches in ascending order of month. A flight keeps its
    /// position relative to the other flights of its month.
    pub fn into_batches(self) -> Vec<MonthBatch> {
        self.months
            .into_iter()
            .map(|((year, month), builder)| MonthBatch {
                month: format!("{year:04}-{month:02}"),
                origins: builder.origins,
                origin: builder.origin,
                delay: builder.delay,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_sort_months_and_keep_flight_order() {
        let mut batches = MonthBatches::new();
        batches.push(2001, 2, "SFO", 5);
        batches.push(2000, 12, "LAX", -3);
        batches.push(2001, 2, "LAX", 7);
        batches.push(2001, 2, "SFO", 0);

        let batches = batches.into_batches();

        let months: Vec<&str> = batches.iter().map(|batch| batch.month.as_str()).collect();
        assert_eq!(months, ["2000-12", "2001-02"]);
        assert_eq!(batches[1].origins, ["SFO", "LAX"]);
        assert_eq!(batches[1].origin, [0, 1, 0]);
        assert_eq!(batches[1].delay, [5, 7, 0]);
    }

    #[test]
    fn batch_json_shape() {
        let mut batches = MonthBatches::new();
        batches.push(2001, 1, "ABQ", -5);
        batches.push(2001, 1, "ATL", 12);

        let json = serde_json::to_string(&batches.into_batches()).unwrap();

        assert_eq!(json, r#"[{"month":"2001-01","origins":["ABQ","ATL"],"origin":[0,1],"delay":[-5,12]}]"#);
    }

    #[test]
    fn check_columns_rejects_mismatched_lengths() {
        let batch = MonthBatch {
            month: "2001-01".to_string(),
            origins: vec!["ABQ".to_string()],
            origin: vec![0, 0],
            delay: vec![1],
        };

        let error = batch.check_columns().unwrap_err();

        assert!(error.contains("2 origin indexes but 1 delays"), "{error}");
    }

    #[test]
    fn check_columns_rejects_duplicate_codes() {
        let batch = MonthBatch {
            month: "2001-01".to_string(),
            origins: vec!["LAX".to_string(), "SFO".to_string(), "LAX".to_string()],
            origin: vec![0, 1, 2],
            delay: vec![1, 2, 3],
        };

        let error = batch.check_columns().unwrap_err();

        assert!(error.contains("lists the origin code \"LAX\" twice"), "{error}");
    }

    #[test]
    fn check_columns_rejects_unknown_origin_index() {
        let batch = MonthBatch {
            month: "2001-01".to_string(),
            origins: vec!["ABQ".to_string()],
            origin: vec![0, 1],
            delay: vec![1, 2],
        };

        let error = batch.check_columns().unwrap_err();

        assert!(error.contains("flight 2 of month 2001-01 has the origin index 1"), "{error}");
    }
}

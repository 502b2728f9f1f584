//! An independent computation of the `examples/flights` flow's output files.
//!
//! This module shares no code with the flow's tasks. It reads the raw flights
//! JSON and airports CSV itself and applies the rules that
//! `examples/flights/README.md` states. A test compares the files that the
//! flow writes with these expected ones.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde_json::{Value, json};

/// The expected contents of the flow's four output files.
pub struct Expected {
    /// Contents of `by_origin.csv`.
    pub by_origin_csv: String,
    /// Contents of `by_hour.csv`.
    pub by_hour_csv: String,
    /// The JSON in `summary.json`.
    pub summary: Value,
    /// The JSON array in `by_month.json`.
    pub by_month: Value,
}

/// Computes the expected outputs for the given raw files and parameters.
///
/// Panics when `flights_json` is not a JSON array or `airports_csv` does not
/// have the expected header, because the flow fails on such input.
pub fn expected_outputs(flights_json: &str, airports_csv: &str, min_flights: i64, delay_threshold: i64) -> Expected {
    let document: Value = serde_json::from_str(flights_json).expect("flights file is not valid JSON");
    let rows = document.as_array().expect("flights file is not a JSON array");
    let kept: Vec<KeptFlight> = rows.iter().filter_map(keep_flight).collect();
    let cities = read_airport_cities(airports_csv);

    let mut origins: BTreeMap<&str, Group> = BTreeMap::new();
    let mut hours: BTreeMap<u32, Group> = BTreeMap::new();
    for flight in &kept {
        origins.entry(flight.origin.as_str()).or_default().add(flight.delay, delay_threshold);
        hours.entry(flight.hour).or_default().add(flight.delay, delay_threshold);
    }

    let summary = json!({
        "rows_read": rows.len(),
        "rows_kept": kept.len(),
        "rows_rejected": rows.len() - kept.len(),
        "origins": origins.len(),
    });

    let mut ranked: Vec<(&str, &Group)> = origins
        .iter()
        .map(|(origin, group)| (*origin, group))
        .filter(|(_, group)| group.flights as i64 >= min_flights)
        .collect();
    ranked.sort_by_key(|(origin, group)| (std::cmp::Reverse(group.flights), *origin));

    let mut by_origin_csv = String::from("origin,city,state,flights,mean_delay,delayed_share\n");
    for (origin, group) in ranked {
        let (city, state) = match cities.get(origin) {
            Some((city, state)) => (city.as_str(), state.as_str()),
            None => ("", ""),
        };
        let mean_delay = group.delay_sum as f64 / group.flights as f64;
        let delayed_share = group.delayed as f64 / group.flights as f64;
        writeln!(
            by_origin_csv,
            "{},{},{},{},{mean_delay:.2},{delayed_share:.4}",
            quote_csv_field(origin),
            quote_csv_field(city),
            quote_csv_field(state),
            group.flights,
        )
        .unwrap();
    }

    let mut by_hour_csv = String::from("hour,flights,mean_delay\n");
    for (hour, group) in &hours {
        let mean_delay = group.delay_sum as f64 / group.flights as f64;
        writeln!(by_hour_csv, "{hour},{},{mean_delay:.2}", group.flights).unwrap();
    }

    Expected { by_origin_csv, by_hour_csv, summary, by_month: monthly_statistics(&kept, delay_threshold) }
}

/// Computes the `by_month.json` array, with one object per month of the kept
/// rows in ascending order of month.
fn monthly_statistics(kept: &[KeptFlight], delay_threshold: i64) -> Value {
    let mut months = MonthlyStatistics::new(delay_threshold);
    for flight in kept {
        months.add(&flight.month, flight.delay, &flight.origin);
    }
    months.to_json()
}

/// The `by_month.json` array of any number of flights, added one at a time,
/// so that a test can compute it over millions of rows without keeping them.
///
/// Like the `monthly` task, this divides the `f64` sum by the `f64` count and
/// rounds with `(x * 100.0).round() / 100.0` or `(x * 10_000.0).round() /
/// 10_000.0`. The same operations give the same floats, so the parsed JSON
/// numbers compare equal.
pub struct MonthlyStatistics {
    delay_threshold: i64,
    months: BTreeMap<String, (Group, HashMap<String, u64>)>,
}

impl MonthlyStatistics {
    pub fn new(delay_threshold: i64) -> Self {
        MonthlyStatistics { delay_threshold, months: BTreeMap::new() }
    }

    /// Adds one kept flight of `month`, `YYYY-MM`.
    pub fn add(&mut self, month: &str, delay: i64, origin: &str) {
        if !self.months.contains_key(month) {
            self.months.insert(month.to_string(), Default::default());
        }
        let (group, flights_by_origin) = self.months.get_mut(month).expect("inserted above");
        group.add(delay, self.delay_threshold);
        match flights_by_origin.get_mut(origin) {
            Some(count) => *count += 1,
            None => {
                flights_by_origin.insert(origin.to_string(), 1);
            }
        }
    }

    /// Returns the array, with one object per month in ascending order.
    pub fn to_json(&self) -> Value {
        let mut elements = Vec::new();
        for (month, (group, flights_by_origin)) in &self.months {
            // Most flights first, then the alphabetically first code on a tie.
            let mut ranked: Vec<(&str, u64)> =
                flights_by_origin.iter().map(|(origin, count)| (origin.as_str(), *count)).collect();
            ranked.sort_by_key(|&(origin, count)| (Reverse(count), origin));
            let busiest_origin = ranked[0].0;

            let mean_delay = group.delay_sum as f64 / group.flights as f64;
            let delayed_share = group.delayed as f64 / group.flights as f64;
            elements.push(json!({
                "month": month,
                "flights": group.flights,
                "mean_delay": (mean_delay * 100.0).round() / 100.0,
                "delayed_share": (delayed_share * 10_000.0).round() / 10_000.0,
                "busiest_origin": busiest_origin,
            }));
        }
        Value::Array(elements)
    }
}

struct KeptFlight {
    /// Calendar month of `date`, `YYYY-MM`.
    month: String,
    hour: u32,
    delay: i64,
    origin: String,
}

/// Flight count, delay sum and count of delayed flights of one origin, hour or month.
#[derive(Default)]
struct Group {
    flights: u64,
    delay_sum: i128,
    delayed: u64,
}

impl Group {
    fn add(&mut self, delay: i64, delay_threshold: i64) {
        self.flights += 1;
        self.delay_sum += delay as i128;
        self.delayed += u64::from(delay >= delay_threshold);
    }
}

/// Returns the row's month, hour, delay and origin when the row passes the clean
/// rules: an object whose `date` is a valid `YYYY/MM/DD HH:MM` time, whose
/// `delay` and `distance` are JSON integers, and whose `origin` and
/// `destination` are 3 ASCII letters or digits.
fn keep_flight(row: &Value) -> Option<KeptFlight> {
    let row = row.as_object()?;
    let departure = parse_departure(row.get("date")?.as_str()?)?;
    let delay = row.get("delay")?.as_i64()?;
    row.get("distance")?.as_i64()?;
    let origin = row.get("origin")?.as_str().filter(|code| is_airport_code(code))?;
    row.get("destination")?.as_str().filter(|code| is_airport_code(code))?;
    Some(KeptFlight { month: departure.month, hour: departure.hour, delay, origin: origin.to_string() })
}

fn is_airport_code(code: &str) -> bool {
    code.len() == 3 && code.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Month and hour of a departure time.
#[derive(Debug, PartialEq)]
struct Departure {
    /// `YYYY-MM`.
    month: String,
    hour: u32,
}

/// Splits `date` into its five numbers and returns the month and hour when the
/// date and time exist on a Gregorian calendar and a 24-hour clock.
fn parse_departure(date: &str) -> Option<Departure> {
    let (day_part, time_part) = date.split_once(' ')?;
    let day_fields: Vec<&str> = day_part.split('/').collect();
    let time_fields: Vec<&str> = time_part.split(':').collect();
    if day_fields.len() != 3 || time_fields.len() != 2 {
        return None;
    }

    let widths = [4, 2, 2, 2, 2];
    let fields: Vec<&str> = day_fields.into_iter().chain(time_fields).collect();
    let mut numbers = [0u32; 5];
    for (index, field) in fields.iter().enumerate() {
        if field.len() != widths[index] || !field.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        numbers[index] = field.parse().ok()?;
    }

    let [year, month, day, hour, minute] = numbers;
    let leap = year % 400 == 0 || (year % 4 == 0 && year % 100 != 0);
    let mut month_lengths = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if leap {
        month_lengths[1] = 29;
    }
    if month == 0 || month > 12 || day == 0 || day > month_lengths[month as usize - 1] {
        return None;
    }
    (hour < 24 && minute < 60).then(|| Departure { month: format!("{year:04}-{month:02}"), hour })
}

const AIRPORTS_HEADER: [&str; 7] = ["iata", "name", "city", "state", "country", "latitude", "longitude"];

/// Reads `iata,name,city,state,...` rows into a map from IATA code to city and state.
fn read_airport_cities(airports_csv: &str) -> HashMap<String, (String, String)> {
    let mut records = split_csv_records(airports_csv).into_iter();
    let header = records.next().expect("airports table is empty");
    assert_eq!(header, AIRPORTS_HEADER, "airports table has an unexpected header");
    records
        .map(|record| {
            assert_eq!(record.len(), 7, "airports row {record:?} does not have 7 fields");
            (record[0].clone(), (record[2].clone(), record[3].clone()))
        })
        .collect()
}

/// Splits CSV text into records of fields as RFC 4180 defines them: a quoted
/// field may contain commas, line breaks and `""` for one quote. Empty lines
/// are skipped, as the csv crate's reader skips them.
fn split_csv_records(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut chars = text.chars().peekable();

    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                '"' => in_quotes = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' => in_quotes = true,
            ',' => record.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                if record != [""] {
                    records.push(std::mem::take(&mut record));
                }
                record.clear();
            }
            _ => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records
}

/// Quotes a field that contains a comma, a quote or a line break, doubling
/// its quotes, as RFC 4180 requires.
fn quote_csv_field(field: &str) -> String {
    if field.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_split_quoted_fields() {
        let text = "a,b\n\"x, y\",\"say \"\"hi\"\"\"\n\n\"two\nlines\",\n";
        let records = split_csv_records(text);
        assert_eq!(records.len(), 3);
        assert_eq!(records[0], ["a", "b"]);
        assert_eq!(records[1], ["x, y", "say \"hi\""]);
        assert_eq!(records[2], ["two\nlines", ""]);
    }

    #[test]
    fn csv_quote_when_needed() {
        assert_eq!(quote_csv_field("Boston"), "Boston");
        assert_eq!(quote_csv_field("Westport, NY"), "\"Westport, NY\"");
        assert_eq!(quote_csv_field("W. H. \"Bud\""), "\"W. H. \"\"Bud\"\"\"");
        assert_eq!(quote_csv_field(""), "");
    }

    #[test]
    fn departure_hour_calendar() {
        let departure_hour = |date| parse_departure(date).map(|departure| departure.hour);
        assert_eq!(departure_hour("2001/01/01 06:55"), Some(6));
        assert_eq!(departure_hour("2000/02/29 23:59"), Some(23));
        assert_eq!(departure_hour("2100/02/29 10:00"), None);
        assert_eq!(departure_hour("2001/06/31 10:00"), None);
        assert_eq!(departure_hour("2001/01/01 24:00"), None);
        assert_eq!(departure_hour("2001/01/01 6:55"), None);
        assert_eq!(departure_hour("2001/01/01 06:55 "), None);
    }

    #[test]
    fn departure_month() {
        let departure = parse_departure("2001/01/01 06:55").unwrap();
        assert_eq!(departure.month, "2001-01");
        let departure = parse_departure("1999/12/31 23:59").unwrap();
        assert_eq!(departure.month, "1999-12");
    }

    #[test]
    fn expected_outputs_small_input() {
        let flights = r#"[
            {"date": "2001/01/01 06:55", "delay": 20, "distance": 100, "origin": "AAA", "destination": "BBB"},
            {"date": "2001/01/01 06:10", "delay": -5, "distance": 100, "origin": "AAA", "destination": "BBB"},
            {"date": "2001/01/02 17:00", "delay": 15, "distance": 100, "origin": "CCC", "destination": "AAA"},
            {"date": "2001/02/30 17:00", "delay": 15, "distance": 100, "origin": "CCC", "destination": "AAA"},
            {"date": "2001/01/02 17:00", "delay": 1.5, "distance": 100, "origin": "CCC", "destination": "AAA"},
            {"date": "2001/01/02 17:00", "delay": 9, "distance": 100, "origin": "ZZZ", "destination": "AAA"},
            "not a row"
        ]"#;
        let airports = "iata,name,city,state,country,latitude,longitude\n\
                        AAA,First,\"Alpha, Town\",AL,USA,1,2\n\
                        CCC,\"Third \"\"C\"\"\",Gamma,GA,USA,1,2\n";

        let expected = expected_outputs(flights, airports, 1, 15);

        assert_eq!(
            expected.by_origin_csv,
            "origin,city,state,flights,mean_delay,delayed_share\n\
             AAA,\"Alpha, Town\",AL,2,7.50,0.5000\n\
             CCC,Gamma,GA,1,15.00,1.0000\n\
             ZZZ,,,1,9.00,0.0000\n"
        );
        assert_eq!(expected.by_hour_csv, "hour,flights,mean_delay\n6,2,7.50\n17,2,12.00\n");
        assert_eq!(expected.summary, json!({"rows_read": 7, "rows_kept": 4, "rows_rejected": 3, "origins": 3}));
        assert_eq!(
            expected.by_month,
            json!([{"month": "2001-01", "flights": 4, "mean_delay": 9.75,
                    "delayed_share": 0.5, "busiest_origin": "AAA"}])
        );

        let filtered = expected_outputs(flights, airports, 2, 15);
        assert_eq!(
            filtered.by_origin_csv,
            "origin,city,state,flights,mean_delay,delayed_share\nAAA,\"Alpha, Town\",AL,2,7.50,0.5000\n"
        );
    }

    #[test]
    fn expected_by_month_groups_and_rounds() {
        let flights = r#"[
            {"date": "2001/02/01 10:00", "delay": 20, "distance": 10, "origin": "ORD", "destination": "BOS"},
            {"date": "2000/12/31 23:59", "delay": -1, "distance": 10, "origin": "SFO", "destination": "LAX"},
            {"date": "2001/02/02 10:00", "delay": -2, "distance": 10, "origin": "BOS", "destination": "ORD"},
            {"date": "2000/12/01 00:00", "delay": -1, "distance": 10, "origin": "SFO", "destination": "LAX"},
            {"date": "2001/02/03 10:00", "delay": 15, "distance": 10, "origin": "BOS", "destination": "ORD"},
            {"date": "2000/12/15 12:00", "delay": 0, "distance": 10, "origin": "LAX", "destination": "SFO"},
            {"date": "2001/02/04 10:00", "delay": 7, "distance": 10, "origin": "ORD", "destination": "BOS"},
            {"date": "2001/02/05 10:00", "delay": 1, "distance": 10, "origin": "ATL", "destination": "BOS"},
            {"date": "2001/02/05 10:00", "delay": 1, "distance": 10, "origin": "ATL", "destination": "BOS"},
            {"date": "2001/02/30 10:00", "delay": 1, "distance": 10, "origin": "ATL", "destination": "BOS"},
            {"date": "2001/02/06 10:00", "delay": 2, "distance": 10, "origin": "ATL"}
        ]"#;
        let airports = "iata,name,city,state,country,latitude,longitude\n";

        let expected = expected_outputs(flights, airports, 1, 15);

        // December 2000: the mean -2/3 rounds to -0.67, and SFO has 2 of the 3
        // flights. February 2001 keeps 6 rows, because the clean rules reject
        // the one dated February 30 and the one without a destination. Its
        // mean is 42/6 = 7, 2 of 6 flights are delayed by 15 minutes or more,
        // and ATL, BOS and ORD tie with 2 flights each, so ATL is the busiest.
        assert_eq!(
            expected.by_month,
            json!([
                {"month": "2000-12", "flights": 3, "mean_delay": -0.67,
                 "delayed_share": 0.0, "busiest_origin": "SFO"},
                {"month": "2001-02", "flights": 6, "mean_delay": 7.0,
                 "delayed_share": 0.3333, "busiest_origin": "ATL"},
            ])
        );
    }

    #[test]
    fn expected_by_month_empty_when_no_rows_kept() {
        let airports = "iata,name,city,state,country,latitude,longitude\n";

        let expected = expected_outputs(r#"["not a row"]"#, airports, 1, 15);

        assert_eq!(expected.by_month, json!([]));
    }
}

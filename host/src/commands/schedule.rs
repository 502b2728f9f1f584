//! `wflow-host schedule next`: print the next fire times of a schedule, so
//! that a user can check a spec before deploying it.

use clap::{Args, Subcommand};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use wflow_schedule::Schedule;

use super::Status;

/// The maximum number of fire times that `--count` accepts.
const MAX_COUNT: usize = 10_000;

/// Check schedules before deploying them.
#[derive(Args)]
pub struct ScheduleArgs {
    #[command(subcommand)]
    command: ScheduleCommand,
}

#[derive(Subcommand)]
enum ScheduleCommand {
    Next(NextArgs),
}

/// Print the next fire times of a cron or interval spec, in local time with
/// the UTC offset and in UTC.
///
/// Examples: `wflow-host schedule next "30 2 * * *" --tz America/New_York`,
/// `wflow-host schedule next "@every 90m from 2026-01-01T00:00:00Z" --count 3`.
#[derive(Args)]
struct NextArgs {
    /// A cron expression (5 fields, or 6 with seconds first), a macro such
    /// as `@daily`, or an interval such as `@every 15m`.
    spec: String,

    /// The IANA time zone that cron fields are matched in, such as
    /// `Europe/Berlin`.
    #[arg(long, default_value = "UTC", value_name = "ZONE")]
    tz: String,

    /// Start after this time instead of now: an RFC 3339 time with an
    /// offset (`2026-03-08T01:00:00-05:00`), or a local date and time in
    /// `--tz` (`2026-03-08T01:00`).
    #[arg(long, value_name = "TIME")]
    from: Option<String>,

    /// How many fire times to print, from 1 to 10,000.
    #[arg(long, default_value_t = 5, value_name = "N")]
    count: usize,

    /// Print a JSON array of `{"local", "utc"}` objects instead of lines.
    #[arg(long)]
    json: bool,
}

pub fn execute(args: ScheduleArgs) -> Status {
    match args.command {
        ScheduleCommand::Next(args) => next(args),
    }
}

fn next(args: NextArgs) -> Status {
    if !(1..=MAX_COUNT).contains(&args.count) {
        eprintln!("error: --count {} is out of range; give a number from 1 to {MAX_COUNT}", args.count);
        return Status::InvalidInput;
    }
    let schedule = match Schedule::parse(&args.spec, &args.tz) {
        Ok(schedule) => schedule,
        Err(error) => {
            eprintln!("error: {error}");
            return Status::InvalidInput;
        }
    };
    let from = match &args.from {
        Some(text) => match parse_time(text, schedule.time_zone()) {
            Ok(from) => from,
            Err(message) => {
                eprintln!("error: {message}");
                return Status::InvalidInput;
            }
        },
        None => Timestamp::now(),
    };

    let times: Vec<Zoned> = schedule.fire_times(from).take(args.count).collect();
    if args.json {
        let entries: Vec<serde_json::Value> = times
            .iter()
            .map(|time| serde_json::json!({ "local": time.to_string(), "utc": time.timestamp().to_string() }))
            .collect();
        say!("{}", serde_json::Value::Array(entries));
    } else {
        for time in &times {
            say!("{}", describe(time));
        }
    }
    if times.len() < args.count {
        eprintln!(
            "note: `{schedule}` has no more fire times before the end of the supported range (the year 9999); \
             printed {} of {}",
            times.len(),
            args.count
        );
    }
    Status::Success
}

/// Formats a fire time as its local date, time, weekday, offset and zone
/// abbreviation, then the same instant in UTC.
fn describe(time: &Zoned) -> String {
    format!(
        "{}  {}  ({} UTC)",
        time.strftime("%Y-%m-%d %H:%M:%S %:z"),
        time.strftime("%a %Z"),
        time.timestamp().strftime("%Y-%m-%d %H:%M:%S")
    )
}

/// Parses `--from`: an RFC 3339 time with an offset, or a civil date and
/// time read in `zone`. A civil time that a DST change repeats takes its
/// earlier instant, and one that it skips the later, as jiff's `compatible`
/// rule does.
fn parse_time(text: &str, zone: &TimeZone) -> Result<Timestamp, String> {
    if let Ok(timestamp) = text.parse::<Timestamp>() {
        return Ok(timestamp);
    }
    let civil: jiff::civil::DateTime = text.parse().map_err(|error| {
        format!(
            "--from `{text}` is not a time ({error}); give an RFC 3339 time such as 2026-03-08T01:00:00-05:00, \
             or a local time such as 2026-03-08T01:00"
        )
    })?;
    zone.to_ambiguous_zoned(civil)
        .compatible()
        .map(|zoned| zoned.timestamp())
        .map_err(|error| format!("--from `{text}` cannot be placed in the time zone: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_time_forms() {
        let zone = jiff::tz::db().get("America/New_York").unwrap();

        let with_offset = parse_time("2026-03-08T01:00:00-05:00", &zone).unwrap();
        let civil = parse_time("2026-03-08T01:00", &zone).unwrap();
        let utc = parse_time("2026-03-08T06:00:00Z", &zone).unwrap();

        assert_eq!(with_offset.to_string(), "2026-03-08T06:00:00Z");
        assert_eq!(civil, with_offset);
        assert_eq!(utc, with_offset);
    }

    #[test]
    fn parse_time_rejects_text() {
        let error = parse_time("tomorrow", &TimeZone::UTC).unwrap_err();

        assert!(error.starts_with("--from `tomorrow` is not a time"), "{error}");
    }
}

//! Time zones: lookup in the bundled database, and the DST rule that maps
//! a matching wall-clock time to the instant it fires.
//!
//! Invariant: [`fire_instant`] never decreases as its civil time
//! increases. The cron search relies on it to stop at the first match
//! whose instant lies past the search start.

use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone, TimeZoneDatabase};
use jiff::{SignedDuration, Timestamp};

use crate::error::ScheduleError;

/// Example names for an unknown time zone with no close match.
const EXAMPLE_ZONES: &str = "`America/New_York`, `Europe/Berlin` or `UTC`";

/// Looks up an IANA time zone name, ignoring ASCII case, in the database
/// compiled into jiff.
pub(crate) fn lookup(name: &str) -> Result<TimeZone, ScheduleError> {
    let database = TimeZoneDatabase::bundled();
    database.get(name).map_err(|_| ScheduleError::UnknownTimeZone {
        name: name.to_owned(),
        suggestion: closest_name(&database, name).map_or_else(|| EXAMPLE_ZONES.to_owned(), |name| format!("`{name}`")),
    })
}

/// Returns the zone name closest to `name` by edit distance, comparing both
/// the whole name and its last part (`Berlin` in `Europe/Berlin`), or
/// `None` if no name is close.
fn closest_name(database: &TimeZoneDatabase, name: &str) -> Option<String> {
    let query = name.to_ascii_lowercase();
    // A quarter of the length: one typo in `Berlin`, none in `PST`.
    let max_distance = query.chars().count() / 4;

    let mut best: Option<(usize, String)> = None;
    for candidate in database.available() {
        let candidate = candidate.as_str();
        let lower = candidate.to_ascii_lowercase();
        let last_part = lower.rsplit('/').next().unwrap_or(&lower);
        let distance = edit_distance(&query, &lower).min(edit_distance(&query, last_part));
        if distance <= max_distance && best.as_ref().is_none_or(|(best_distance, _)| distance < *best_distance) {
            best = Some((distance, candidate.to_owned()));
        }
    }
    best.map(|(_, name)| name)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, a_char) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, b_char) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(a_char != *b_char);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// Returns the instant at which a matching wall-clock time fires, by the
/// DST rule: a skipped time fires when the clocks jump past it, a repeated
/// time fires at its first occurrence. Returns `None` if that instant lies
/// outside jiff's timestamp range.
pub(crate) fn fire_instant(time_zone: &TimeZone, local: DateTime) -> Option<Timestamp> {
    match time_zone.to_ambiguous_timestamp(local).offset() {
        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(local).ok(),
        AmbiguousOffset::Fold { before, .. } => before.to_timestamp(local).ok(),
        AmbiguousOffset::Gap { before, after } => {
            // Read with the offsets on either side, a skipped time gives two
            // instants, and the transition lies after the first and at or
            // before the second.
            let latest = before.to_timestamp(local).ok()?;
            let Ok(earliest) = after.to_timestamp(local) else {
                return Some(latest);
            };
            match time_zone.following(earliest).next() {
                Some(transition) if transition.timestamp() <= latest => Some(transition.timestamp()),
                // NOTE: unreachable with consistent zone data; firing at the
                // later reading still keeps the order of fire times.
                _ => Some(latest),
            }
        }
    }
}

/// If `instant` lies in the second pass through wall-clock times that a
/// fall-back change repeats, returns the first wall-clock time after the
/// repeated ones. Those repeated times fired in the first pass.
pub(crate) fn second_pass_end(time_zone: &TimeZone, instant: Timestamp) -> Option<DateTime> {
    let local = time_zone.to_datetime(instant);
    let AmbiguousOffset::Fold { before, after } = time_zone.to_ambiguous_timestamp(local).offset() else {
        return None;
    };
    if time_zone.to_offset(instant) != after {
        return None;
    }

    // The repetition started at the last transition at or before `instant`,
    // and ends where the clocks, still at the old offset, would have been.
    let just_after = instant.checked_add(SignedDuration::from_nanos(1)).ok()?;
    let transition = time_zone.preceding(just_after).next()?;
    Some(before.to_datetime(transition.timestamp()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("berln", "berlin"), 1);
        assert_eq!(edit_distance("new york", "new_york"), 1);
        assert_eq!(edit_distance("", "utc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn second_pass_end_only_in_second_pass() {
        let new_york = lookup("America/New_York").unwrap();
        let berlin = lookup("Europe/Berlin").unwrap();
        let at = |text: &str| text.parse::<Timestamp>().unwrap();

        // 01:10 EDT, then 01:10 EST, in New York on 2026-11-01.
        assert_eq!(second_pass_end(&new_york, at("2026-11-01T05:10:00Z")), None);
        assert_eq!(second_pass_end(&new_york, at("2026-11-01T06:10:00Z")), Some(date(2026, 11, 1).at(2, 0, 0, 0)));
        assert_eq!(second_pass_end(&new_york, at("2026-11-01T06:00:00Z")), Some(date(2026, 11, 1).at(2, 0, 0, 0)));
        assert_eq!(second_pass_end(&new_york, at("2026-11-01T07:00:00Z")), None);
        // 02:10 CET in Berlin on 2026-10-25, the second 02:10.
        assert_eq!(second_pass_end(&berlin, at("2026-10-25T01:10:00Z")), Some(date(2026, 10, 25).at(3, 0, 0, 0)));
    }

    #[test]
    fn closest_name_matches_last_part() {
        let database = TimeZoneDatabase::bundled();

        assert_eq!(closest_name(&database, "Berlin").as_deref(), Some("Europe/Berlin"));
        assert_eq!(closest_name(&database, "PST"), None);
    }
}

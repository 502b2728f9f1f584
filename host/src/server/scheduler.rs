//! Decides when deployments fire: their next fire times, the misfire policy
//! after downtime, and the stored state that a restart resumes from.
//!
//! The scheduler does no waiting and reads no clock: the caller passes the
//! current time to [`Scheduler::due`], which returns the fires due by then.
//! Before it returns them, it stores each deployment's next fire time and
//! the chosen fires, each with the id its run will get. A restart resumes
//! from the stored next fire time, not from the process start. It starts
//! the stored fires whose runs were never recorded, so a crash neither
//! repeats nor loses a run.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use jiff::{SignedDuration, Timestamp, Zoned};

use super::deployment::{Deployment, Misfire, ScheduleSettings};
use crate::state::{PendingFire, ScheduleRecord, ScheduleStore};

/// A fire time later than this is missed, and the misfire policy decides
/// whether it runs; an earlier one is on time. It covers a late wake-up of
/// the server's timer, not downtime.
pub const ON_TIME_GRACE: Duration = Duration::from_secs(60);

/// The most missed fire times that `misfire = "all"` runs at once.
const MAX_CATCH_UP_FIRES: usize = 1000;

/// A deployment's fire time chosen to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fire {
    pub deployment: String,
    pub slot: Timestamp,
    /// The id the run gets, chosen and stored before the run starts.
    pub run_id: String,
}

struct Entry {
    settings: ScheduleSettings,
    paused: bool,
    record: ScheduleRecord,
    /// Run ids of pending fires already returned by this process, so that
    /// each is returned once.
    handed_out: HashSet<String>,
    /// Set when the record changed but could not be stored.
    unsaved: bool,
}

/// The schedules of the current deployments and their stored state.
pub struct Scheduler {
    store: Arc<dyn ScheduleStore>,
    entries: BTreeMap<String, Entry>,
}

impl Scheduler {
    pub fn new(store: Arc<dyn ScheduleStore>) -> Self {
        Scheduler { store, entries: BTreeMap::new() }
    }

    /// Takes the current set of deployments, at start and on each reload.
    ///
    /// A deployment whose schedule is unchanged keeps its stored next fire
    /// time, so fire times missed while the server was down are found by
    /// the next [`Scheduler::due`]. A new or changed schedule starts at its
    /// first fire time after `now`. Stored fires whose run `run_exists`
    /// already recorded are dropped, because their run started before a
    /// crash. The records of removed deployments stay stored, so that a
    /// deployment file that was invalid or missing for a while resumes.
    pub fn update(
        &mut self,
        deployments: &[Deployment],
        now: Timestamp,
        run_exists: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<String>> {
        let mut changes = Vec::new();
        let mut updated = BTreeMap::new();
        for deployment in deployments {
            let Some(settings) = &deployment.schedule else {
                continue;
            };
            let spec = settings.schedule.to_string();
            let time_zone = settings.schedule.time_zone_name().to_string();
            let previous = self.entries.remove(&deployment.name);
            let stored = match &previous {
                Some(entry) => Some(entry.record.clone()),
                None => self.store.load(&deployment.name)?,
            };
            let record = match stored {
                Some(mut record) if record.spec == spec && record.time_zone == time_zone => {
                    let before = record.pending.len();
                    record.pending.retain(|fire| !run_exists(&fire.run_id));
                    if record.pending.len() != before {
                        self.store.save(&deployment.name, &record)?;
                    }
                    record
                }
                stored => {
                    let next = settings.schedule.next_after(now).map(|time| time.timestamp().as_millisecond());
                    let pending = stored.map(|record| record.pending).unwrap_or_default();
                    let record = ScheduleRecord {
                        spec: spec.clone(),
                        time_zone: time_zone.clone(),
                        next_fire_ms: next,
                        pending,
                    };
                    self.store.save(&deployment.name, &record)?;
                    changes.push(format!("deployment `{}` fires on `{spec}` in {time_zone}", deployment.name));
                    record
                }
            };
            let handed_out = previous.map(|entry| entry.handed_out).unwrap_or_default();
            updated.insert(
                deployment.name.clone(),
                Entry { settings: settings.clone(), paused: deployment.paused, record, handed_out, unsaved: false },
            );
        }
        // The stored state of a deployment that disappeared is kept: a file
        // that was broken or moved for a moment resumes where it left off.
        // TODO: nothing removes the state of a deployment removed for good.
        for name in std::mem::take(&mut self.entries).into_keys() {
            changes.push(format!("deployment `{name}` no longer has a schedule; its stored state is kept"));
        }
        self.entries = updated;
        Ok(changes)
    }

    /// Returns the fires due at `now`, oldest first, and stores the state
    /// that follows them before returning.
    ///
    /// Of a deployment's fire times from its stored next one up to `now`,
    /// the latest is on time when it is at most [`ON_TIME_GRACE`] old, and
    /// the others were missed. An on-time fire time runs. Missed ones run as
    /// the misfire policy sets: those within the catch-up window, only the
    /// latest, or none. A paused deployment fires nothing and moves its next
    /// fire time past `now`. Fires stored by an earlier process and not
    /// started are returned once too.
    ///
    /// The changed states are stored in one transaction. When that fails,
    /// the changed deployments' fires are held back, the others' pending
    /// fires are still handed out, and the next call stores the state again.
    pub fn due(&mut self, now: Timestamp) -> (Vec<Fire>, Option<anyhow::Error>) {
        let mut changed = Vec::new();
        for (name, entry) in &mut self.entries {
            let mut is_changed = std::mem::take(&mut entry.unsaved);
            if let Some(next_ms) = entry.record.next_fire_ms
                && next_ms <= now.as_millisecond()
            {
                let chosen = if entry.paused { Vec::new() } else { choose_slots(&entry.settings, next_ms, now) };
                for slot in chosen {
                    let run_id = uuid::Uuid::now_v7().to_string();
                    entry.record.pending.push(PendingFire { slot_ms: slot.as_millisecond(), run_id });
                }
                entry.record.next_fire_ms =
                    entry.settings.schedule.next_after(now).map(|time| time.timestamp().as_millisecond());
                is_changed = true;
            }
            if is_changed {
                changed.push(name.clone());
            }
        }

        // One durable transaction for every changed deployment.
        let records: Vec<(&str, &ScheduleRecord)> =
            changed.iter().map(|name| (name.as_str(), &self.entries[name].record)).collect();
        let failure = match self.store.save_all(&records) {
            Ok(()) => None,
            Err(error) => {
                for name in &changed {
                    if let Some(entry) = self.entries.get_mut(name) {
                        entry.unsaved = true;
                    }
                }
                Some(error.context("failed to store the schedule state"))
            }
        };

        let mut fires = Vec::new();
        for (name, entry) in &mut self.entries {
            if entry.unsaved {
                continue;
            }
            for pending in &entry.record.pending {
                if entry.handed_out.insert(pending.run_id.clone()) {
                    let slot = Timestamp::from_millisecond(pending.slot_ms).unwrap_or(Timestamp::UNIX_EPOCH);
                    fires.push(Fire { deployment: name.clone(), slot, run_id: pending.run_id.clone() });
                }
            }
        }
        fires.sort_by_key(|fire| fire.slot);
        (fires, failure)
    }

    /// Records that the run of a fire started, or was skipped, so that a
    /// restart does not start it again.
    pub fn settle(&mut self, deployment: &str, run_id: &str) -> Result<()> {
        let Some(entry) = self.entries.get_mut(deployment) else {
            return Ok(());
        };
        entry.handed_out.remove(run_id);
        let before = entry.record.pending.len();
        entry.record.pending.retain(|fire| fire.run_id != run_id);
        if entry.record.pending.len() != before {
            self.store.save(deployment, &entry.record)?;
        }
        Ok(())
    }

    /// Returns the earliest next fire time of the deployments that are not
    /// paused, for the caller to wait until.
    pub fn next_wake(&self) -> Option<Timestamp> {
        self.entries
            .values()
            .filter_map(|entry| entry.record.next_fire_ms)
            .min()
            .and_then(|millisecond| Timestamp::from_millisecond(millisecond).ok())
    }

    /// Returns the next `count` fire times of `deployment` from its stored
    /// next fire time, in its time zone; empty when it has no schedule.
    pub fn upcoming(&self, deployment: &str, count: usize) -> Vec<Zoned> {
        let Some(entry) = self.entries.get(deployment) else {
            return Vec::new();
        };
        let Some(next) =
            entry.record.next_fire_ms.and_then(|millisecond| Timestamp::from_millisecond(millisecond).ok())
        else {
            return Vec::new();
        };
        let first = next.to_zoned(entry.settings.schedule.time_zone().clone());
        std::iter::once(first).chain(entry.settings.schedule.fire_times(next)).take(count).collect()
    }
}

/// Chooses which fire times from `next_ms` up to `now` run.
///
/// Only the latest of them can be on time, and only when it is at most
/// [`ON_TIME_GRACE`] old: the earlier ones were missed, since a later one
/// came due before they ran. An on-time fire time runs under every policy;
/// missed ones run by the misfire policy.
fn choose_slots(settings: &ScheduleSettings, next_ms: i64, now: Timestamp) -> Vec<Timestamp> {
    let schedule = &settings.schedule;
    let stored = Timestamp::from_millisecond(next_ms).unwrap_or(Timestamp::MIN);
    let Some(latest) = schedule.last_at_or_before(now).map(|time| time.timestamp()).filter(|latest| *latest >= stored)
    else {
        return Vec::new();
    };
    let grace = SignedDuration::try_from(ON_TIME_GRACE).unwrap_or(SignedDuration::ZERO);
    let on_time = now.duration_since(latest) <= grace;

    match settings.misfire {
        Misfire::All { catch_up } => {
            let catch_up = SignedDuration::try_from(catch_up).unwrap_or(SignedDuration::MAX);
            let window_start = now.checked_sub(catch_up).unwrap_or(Timestamp::MIN).max(stored);
            // `fire_times_between(after, until)` lists the times in (after,
            // until], so one nanosecond before a bound includes the bound.
            let after = window_start.checked_sub(SignedDuration::from_nanos(1)).unwrap_or(window_start);
            let before_latest = latest.checked_sub(SignedDuration::from_nanos(1)).unwrap_or(latest);
            let mut chosen: Vec<Timestamp> = if after < before_latest {
                let found = schedule.fire_times_between(after, before_latest, MAX_CATCH_UP_FIRES);
                if found.truncated {
                    tracing::warn!(
                        limit = MAX_CATCH_UP_FIRES,
                        "more missed fire times in the catch-up window than the limit; running the oldest ones"
                    );
                }
                found.times.into_iter().map(|time| time.timestamp()).collect()
            } else {
                Vec::new()
            };
            if on_time || latest >= window_start {
                chosen.push(latest);
            }
            chosen
        }
        Misfire::Latest => vec![latest],
        Misfire::None if on_time => vec![latest],
        Misfire::None => Vec::new(),
    }
}

//! The scheduler's stored state: each deployment's next fire time and the
//! fires decided but not started yet, so that a restart neither repeats
//! nor loses a run.

use anyhow::{Context as _, Result};
use redb::{ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::StateDatabase;

/// Schedule state by deployment name, as JSON.
const SCHEDULES: TableDefinition<&str, &[u8]> = TableDefinition::new("schedules");

/// The stored state of one deployment's schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleRecord {
    /// The normalized spec and time zone the record was made for. When the
    /// deployment's schedule changes, the record starts over.
    pub spec: String,
    pub time_zone: String,
    /// The next fire time not handled yet, in milliseconds since the Unix
    /// epoch; `None` when the schedule has no more fire times.
    pub next_fire_ms: Option<i64>,
    /// Fires decided but whose run has not started yet, oldest first.
    #[serde(default)]
    pub pending: Vec<PendingFire>,
}

/// A fire time chosen to run, with the id its run will have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingFire {
    /// The fire time, in milliseconds since the Unix epoch.
    pub slot_ms: i64,
    pub run_id: String,
}

/// The storage of the scheduler's state.
pub trait ScheduleStore: Send + Sync {
    /// Returns the record of `deployment`, if one is stored.
    fn load(&self, deployment: &str) -> Result<Option<ScheduleRecord>>;

    /// Stores the record of `deployment` durably: it survives a crash once
    /// this returns.
    fn save(&self, deployment: &str, record: &ScheduleRecord) -> Result<()>;

    /// Stores several records durably in one transaction, so that a pass
    /// over many deployments costs one disk sync.
    fn save_all(&self, records: &[(&str, &ScheduleRecord)]) -> Result<()> {
        for (deployment, record) in records {
            self.save(deployment, record)?;
        }
        Ok(())
    }

    /// Removes the record of a deployment that no longer exists.
    fn remove(&self, deployment: &str) -> Result<()>;
}

/// The schedule store in the state directory's redb database.
#[derive(Clone)]
pub struct RedbScheduleStore {
    database: StateDatabase,
}

impl RedbScheduleStore {
    pub fn new(database: StateDatabase) -> Self {
        RedbScheduleStore { database }
    }
}

impl ScheduleStore for RedbScheduleStore {
    fn load(&self, deployment: &str) -> Result<Option<ScheduleRecord>> {
        let transaction = self.database.begin_read()?;
        let table = match transaction.open_table(SCHEDULES) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        let Some(value) = table.get(deployment)? else {
            return Ok(None);
        };
        let record = serde_json::from_slice(value.value())
            .with_context(|| format!("the stored schedule of deployment `{deployment}` is damaged"))?;
        Ok(Some(record))
    }

    fn save(&self, deployment: &str, record: &ScheduleRecord) -> Result<()> {
        let bytes = serde_json::to_vec(record)?;
        let transaction = self.database.begin_write()?;
        transaction.open_table(SCHEDULES)?.insert(deployment, bytes.as_slice())?;
        self.database.commit(transaction)
    }

    fn save_all(&self, records: &[(&str, &ScheduleRecord)]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let transaction = self.database.begin_write()?;
        {
            let mut table = transaction.open_table(SCHEDULES)?;
            for (deployment, record) in records {
                table.insert(*deployment, serde_json::to_vec(record)?.as_slice())?;
            }
        }
        self.database.commit(transaction)
    }

    fn remove(&self, deployment: &str) -> Result<()> {
        let transaction = self.database.begin_write()?;
        transaction.open_table(SCHEDULES)?.remove(deployment)?;
        self.database.commit(transaction)
    }
}

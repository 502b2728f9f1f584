//! The alerts sent for each run, with the outcome of each delivery, so that
//! a failed delivery is recorded on the run it was about.

use anyhow::{Context as _, Result};
use redb::{ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::StateDatabase;

/// Alert records by (run id, number of the alert within the run), as JSON.
const ALERTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("alerts");

/// One alert sent for a run and what became of it on each channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    /// The event: `failed`, `succeeded`, `retrying`, `late` or `long_running`.
    pub event: String,
    /// When the deliveries ended, in milliseconds since the Unix epoch.
    pub sent_at_ms: u64,
    /// One outcome per channel, as `wflow_alerts::Delivery` serializes it.
    pub deliveries: serde_json::Value,
}

/// The alert records in the state directory's redb database.
#[derive(Clone)]
pub struct RedbAlertLog {
    database: StateDatabase,
}

impl RedbAlertLog {
    pub fn new(database: StateDatabase) -> Self {
        RedbAlertLog { database }
    }

    /// Appends `record` to the alerts of run `run_id`.
    pub fn record(&self, run_id: &str, record: &AlertRecord) -> Result<()> {
        let bytes = serde_json::to_vec(record)?;
        let transaction = self.database.begin_write()?;
        {
            let mut table = transaction.open_table(ALERTS)?;
            let next = table
                .range((run_id, 0)..=(run_id, u64::MAX))?
                .next_back()
                .transpose()?
                .map_or(0, |(key, _)| key.value().1 + 1);
            table.insert((run_id, next), bytes.as_slice())?;
        }
        self.database.commit(transaction)
    }

    /// Returns the alerts of run `run_id`, oldest first.
    pub fn alerts(&self, run_id: &str) -> Result<Vec<AlertRecord>> {
        let transaction = self.database.begin_read()?;
        let table = match transaction.open_table(ALERTS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(error) => return Err(error.into()),
        };
        let mut records = Vec::new();
        for entry in table.range((run_id, 0)..=(run_id, u64::MAX))? {
            let (_, value) = entry?;
            records.push(serde_json::from_slice(value.value()).context("an alert record is damaged")?);
        }
        Ok(records)
    }
}

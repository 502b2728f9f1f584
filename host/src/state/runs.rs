//! The record of every flow run and its task runs.

use anyhow::{Context as _, Result};
use redb::{ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::StateDatabase;
use crate::runtime::LogLine;

/// Flow runs by run id, as JSON.
const RUNS: TableDefinition<&str, &[u8]> = TableDefinition::new("runs");
/// Task runs by (run id, task id), as JSON.
const TASK_RUNS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("task_runs");
/// Log lines by (run id, task id), as a JSON array. The lines of element
/// `i` of a mapped task are under the task id `ID[i]`.
const TASK_LOGS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("task_logs");
/// Outputs of completed tasks whose outputs are not cached, by (run id, task
/// id), kept so that a resumed run can reuse them.
const RUN_OUTPUTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("run_outputs");
/// Element runs of mapped tasks by (run id, task id, element index), as JSON.
const ELEMENTS: TableDefinition<(&str, &str, u64), &[u8]> = TableDefinition::new("elements");

/// The state of a flow run.
///
/// A run is `running` until it ends in one of the other states. `crashed`
/// marks a run whose host process ended without recording the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Running,
    /// Every task has an output and every output file was written.
    Completed,
    /// A task failed, timed out or was skipped, or an output was not written.
    Failed,
    /// The flow's own timeout ended the run.
    TimedOut,
    /// A signal or a caller cancelled the run.
    Cancelled,
    Crashed,
}

impl RunState {
    /// The state's name as it appears in JSON and on the terminal.
    pub fn name(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Completed => "completed",
            RunState::Failed => "failed",
            RunState::TimedOut => "timed_out",
            RunState::Cancelled => "cancelled",
            RunState::Crashed => "crashed",
        }
    }
}

impl std::str::FromStr for RunState {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let states = [
            RunState::Running,
            RunState::Completed,
            RunState::Failed,
            RunState::TimedOut,
            RunState::Cancelled,
            RunState::Crashed,
        ];
        states.into_iter().find(|state| state.name() == name).ok_or_else(|| {
            let names: Vec<&str> = states.iter().map(|state| state.name()).collect();
            format!("unknown run state `{name}`; use one of: {}", names.join(", "))
        })
    }
}

/// The state of a task run.
///
/// `pending`, `running` and `retrying` are passing states; the others are
/// final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Waiting for the tasks it reads from.
    Pending,
    Running,
    /// Failed and waiting for its next attempt.
    Retrying,
    /// Ran and returned an output.
    Completed,
    /// Reused a stored output without running.
    Cached,
    /// Ran and failed, or could not start.
    Failed,
    /// Its last attempt ran longer than its timeout.
    TimedOut,
    /// Did not run because a task it reads from did not complete.
    Skipped,
    /// Stopped or never started because the run was cancelled or timed out.
    Cancelled,
    /// Was running when the host process ended without recording the end.
    Crashed,
}

impl TaskState {
    /// Whether the task has an output that downstream tasks can read.
    pub fn has_output(self) -> bool {
        matches!(self, TaskState::Completed | TaskState::Cached)
    }

    /// The state's name as it appears in JSON and on the terminal.
    pub fn name(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::Running => "running",
            TaskState::Retrying => "retrying",
            TaskState::Completed => "completed",
            TaskState::Cached => "cached",
            TaskState::Failed => "failed",
            TaskState::TimedOut => "timed_out",
            TaskState::Skipped => "skipped",
            TaskState::Cancelled => "cancelled",
            TaskState::Crashed => "crashed",
        }
    }
}

/// One flow run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    pub flow: String,
    pub manifest_path: String,
    pub params: serde_json::Map<String, serde_json::Value>,
    pub state: RunState,
    pub started_at_ms: u64,
    pub ended_at_ms: Option<u64>,
    /// The blake3 hash of the manifest file's bytes, in hex.
    #[serde(default)]
    pub manifest_hash: String,
    /// The run this run resumed, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_from: Option<String>,
    /// The server deployment that started the run, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
    /// The schedule's fire time that the run is for, in milliseconds since
    /// the Unix epoch; absent for a run started on request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_for_ms: Option<u64>,
    /// The reason the run failed before any task could start, such as a
    /// manifest that no longer loads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One attempt of a task run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// The attempt number, from 1.
    pub attempt: u32,
    /// `completed`, `failed`, `timed_out` or `cancelled`.
    pub state: TaskState,
    pub started_at_ms: u64,
    pub ended_at_ms: u64,
    pub fuel_used: u64,
    pub peak_memory_bytes: u64,
    pub error: Option<String>,
    /// The wait before the next attempt, in milliseconds; `None` when there
    /// was no next attempt.
    pub retry_delay_ms: Option<u64>,
}

/// One element run of a mapped task: a small record, so that a run over many
/// elements stays small.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ElementRecord {
    /// The element's position in the upstream array, from 0.
    pub index: u64,
    pub state: TaskState,
    pub attempts: u32,
    pub cache_hit: bool,
    pub fuel_used: u64,
    pub duration_ms: f64,
    pub error: Option<String>,
}

/// One task of a flow run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    pub task_id: String,
    pub state: TaskState,
    pub attempts: Vec<AttemptRecord>,
    pub started_at_ms: u64,
    pub ended_at_ms: u64,
    /// Fuel consumed by all attempts together.
    pub fuel_used: u64,
    /// The largest linear memory of any attempt, in bytes.
    pub peak_memory_bytes: u64,
    pub cache_hit: bool,
    pub error: Option<String>,
    /// The cache key of the output of a completed task whose output is
    /// cached, in hex, so that a resumed run can reuse the output.
    #[serde(default)]
    pub output_key: Option<String>,
    /// The number of elements of a mapped task; its element records hold
    /// the attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elements: Option<u64>,
}

/// A filter on the flow runs a listing returns.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Only runs of this flow.
    pub flow: Option<String>,
    /// Only runs in this state.
    pub state: Option<RunState>,
    /// Only runs that this server deployment started.
    pub deployment: Option<String>,
    /// At most this many runs; `None` for all.
    pub limit: Option<usize>,
}

/// Storage of run records. The embedded default is [`RedbRunStore`].
pub trait RunStore: Send + Sync {
    /// Inserts or replaces the record of a flow run.
    fn put_run(&self, run: &RunRecord) -> Result<()>;

    /// Inserts or replaces the record of a task run with its log lines and,
    /// when given, a copy of its output for a resumed run, in one transaction.
    /// The write may happen after this returns; reads through this store see
    /// it.
    fn put_task(&self, run_id: &str, task: &TaskRecord, logs: &[LogLine], output: Option<&[u8]>) -> Result<()>;

    /// Inserts element records of mapped task `task_id`, each with its log
    /// lines, in one transaction.
    fn put_elements(&self, run_id: &str, task_id: &str, elements: &[(ElementRecord, Vec<LogLine>)]) -> Result<()>;

    /// Returns the element records of mapped task `task_id`, by index.
    fn elements(&self, run_id: &str, task_id: &str) -> Result<Vec<ElementRecord>>;

    /// Returns the output kept by [`RunStore::put_task`], if any.
    fn output(&self, run_id: &str, task_id: &str) -> Result<Option<Vec<u8>>>;

    /// Returns the flow run `run_id`, if recorded.
    fn run(&self, run_id: &str) -> Result<Option<RunRecord>>;

    /// Returns the flow runs that match `filter`, newest first.
    fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>>;

    /// Returns the task runs of flow run `run_id`.
    fn tasks(&self, run_id: &str) -> Result<Vec<TaskRecord>>;

    /// Returns the log lines of task `task_id` in flow run `run_id`.
    fn logs(&self, run_id: &str, task_id: &str) -> Result<Vec<LogLine>>;
}

/// Run records in the state directory's redb database.
pub struct RedbRunStore {
    database: StateDatabase,
}

impl RedbRunStore {
    pub fn new(database: StateDatabase) -> Self {
        RedbRunStore { database }
    }

    /// Marks every run recorded as running as crashed and returns their ids.
    /// Call it only while no process can be running a flow on this database.
    pub(crate) fn mark_crashed(&self) -> Result<Vec<String>> {
        let transaction = self.database.begin_write()?;
        let mut crashed = Vec::new();
        {
            let mut table = transaction.open_table(RUNS)?;
            let mut running: Vec<RunRecord> = Vec::new();
            for entry in table.iter()? {
                let (_, value) = entry?;
                let run: RunRecord = serde_json::from_slice(value.value())?;
                if run.state == RunState::Running {
                    running.push(run);
                }
            }
            for mut run in running {
                run.state = RunState::Crashed;
                table.insert(run.run_id.as_str(), serde_json::to_vec(&run)?.as_slice())?;
                crashed.push(run.run_id);
            }
        }
        self.database.commit(transaction).context("failed to mark crashed runs")?;
        Ok(crashed)
    }
}

impl RunStore for RedbRunStore {
    fn put_run(&self, run: &RunRecord) -> Result<()> {
        let json = serde_json::to_vec(run)?;
        let transaction = self.database.begin_write()?;
        transaction.open_table(RUNS)?.insert(run.run_id.as_str(), json.as_slice())?;
        // The start and the end of a run are durable at once.
        self.database.commit(transaction).context("failed to record the flow run")?;
        Ok(())
    }

    fn put_task(&self, run_id: &str, task: &TaskRecord, logs: &[LogLine], output: Option<&[u8]>) -> Result<()> {
        let json = serde_json::to_vec(task)?;
        let logs = serde_json::to_vec(logs)?;
        let (run_id, task_id) = (run_id.to_string(), task.task_id.clone());
        let output = output.map(<[u8]>::to_vec);
        self.database.submit("record a task run", move |transaction| {
            let key = (run_id.as_str(), task_id.as_str());
            transaction.open_table(TASK_RUNS)?.insert(key, json.as_slice())?;
            transaction.open_table(TASK_LOGS)?.insert(key, logs.as_slice())?;
            if let Some(output) = output {
                transaction.open_table(RUN_OUTPUTS)?.insert(key, output.as_slice())?;
            }
            Ok(())
        });
        Ok(())
    }

    fn put_elements(&self, run_id: &str, task_id: &str, elements: &[(ElementRecord, Vec<LogLine>)]) -> Result<()> {
        let mut rows = Vec::with_capacity(elements.len());
        for (element, lines) in elements {
            let logs = if lines.is_empty() { None } else { Some(serde_json::to_vec(lines)?) };
            rows.push((element.index, serde_json::to_vec(element)?, logs));
        }
        let (run_id, task_id) = (run_id.to_string(), task_id.to_string());
        self.database.submit("record element runs", move |transaction| {
            let mut records = transaction.open_table(ELEMENTS)?;
            let mut log_table = transaction.open_table(TASK_LOGS)?;
            for (index, json, logs) in rows {
                records.insert((run_id.as_str(), task_id.as_str(), index), json.as_slice())?;
                if let Some(logs) = logs {
                    let key = format!("{task_id}[{index}]");
                    log_table.insert((run_id.as_str(), key.as_str()), logs.as_slice())?;
                }
            }
            Ok(())
        });
        Ok(())
    }

    fn output(&self, run_id: &str, task_id: &str) -> Result<Option<Vec<u8>>> {
        let transaction = self.database.begin_read()?;
        let table = match transaction.open_table(RUN_OUTPUTS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        Ok(table.get((run_id, task_id))?.map(|value| value.value().to_vec()))
    }

    fn elements(&self, run_id: &str, task_id: &str) -> Result<Vec<ElementRecord>> {
        let transaction = self.database.begin_read()?;
        let table = match transaction.open_table(ELEMENTS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(error) => return Err(error.into()),
        };
        let mut elements = Vec::new();
        for entry in table.range((run_id, task_id, 0)..=(run_id, task_id, u64::MAX))? {
            let (_, value) = entry?;
            elements.push(serde_json::from_slice(value.value())?);
        }
        Ok(elements)
    }

    fn run(&self, run_id: &str) -> Result<Option<RunRecord>> {
        let transaction = self.database.begin_read()?;
        let table = match transaction.open_table(RUNS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        let Some(value) = table.get(run_id)? else { return Ok(None) };
        Ok(Some(serde_json::from_slice(value.value())?))
    }

    fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>> {
        let transaction = self.database.begin_read()?;
        let table = match transaction.open_table(RUNS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(error) => return Err(error.into()),
        };
        // Run ids are UUIDv7, which sort by creation time: newest last.
        let mut runs = Vec::new();
        for entry in table.iter()?.rev() {
            if filter.limit.is_some_and(|limit| runs.len() >= limit) {
                break;
            }
            let (_, value) = entry?;
            let run: RunRecord = serde_json::from_slice(value.value())?;
            let flow_matches = filter.flow.as_ref().is_none_or(|flow| &run.flow == flow);
            let state_matches = filter.state.is_none_or(|state| run.state == state);
            let deployment_matches =
                filter.deployment.as_ref().is_none_or(|deployment| run.deployment.as_ref() == Some(deployment));
            if flow_matches && state_matches && deployment_matches {
                runs.push(run);
            }
        }
        Ok(runs)
    }

    fn tasks(&self, run_id: &str) -> Result<Vec<TaskRecord>> {
        let transaction = self.database.begin_read()?;
        let table = match transaction.open_table(TASK_RUNS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(error) => return Err(error.into()),
        };
        let mut tasks = Vec::new();
        for entry in table.range((run_id, "")..)? {
            let (key, value) = entry?;
            if key.value().0 != run_id {
                break;
            }
            tasks.push(serde_json::from_slice(value.value())?);
        }
        Ok(tasks)
    }

    fn logs(&self, run_id: &str, task_id: &str) -> Result<Vec<LogLine>> {
        let transaction = self.database.begin_read()?;
        let table = match transaction.open_table(TASK_LOGS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(error) => return Err(error.into()),
        };
        let Some(value) = table.get((run_id, task_id))? else { return Ok(Vec::new()) };
        Ok(serde_json::from_slice(value.value())?)
    }
}

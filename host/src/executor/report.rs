//! The outcome of a run, task by task, in the shape that `--json` prints.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::state::{RunState, TaskState};

/// The outcome of one task in a run.
#[derive(Debug, Clone, Serialize)]
pub struct TaskReport {
    pub id: String,
    pub state: TaskState,
    /// Attempts made, over all elements of a mapped task; 0 for a cached,
    /// skipped or cancelled task.
    pub attempts: u32,
    /// The number of elements of a mapped task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elements: Option<u64>,
    #[serde(rename = "duration_ms", serialize_with = "milliseconds")]
    pub duration: Duration,
    /// Fuel consumed by all attempts together.
    pub fuel_used: u64,
    pub peak_memory_bytes: u64,
    pub cache_hit: bool,
    /// The user-facing message of a failed or skipped task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The raw error chain and backtrace of a failure, for `--verbose`.
    #[serde(skip)]
    pub detail: Option<String>,
}

/// One file the run wrote, or failed to write.
#[derive(Debug, Clone, Serialize)]
pub struct OutputReport {
    pub task: String,
    pub path: PathBuf,
    /// Bytes written; `None` when the file was not written.
    pub bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The outcome of a flow run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub flow: String,
    pub run_id: String,
    pub state: RunState,
    #[serde(rename = "duration_ms", serialize_with = "milliseconds")]
    pub duration: Duration,
    /// The tasks in the order the flow lists them after ordering by inputs.
    pub tasks: Vec<TaskReport>,
    pub outputs: Vec<OutputReport>,
}

impl RunReport {
    /// The number of tasks in state `state`.
    pub fn count(&self, state: TaskState) -> usize {
        self.tasks.iter().filter(|task| task.state == state).count()
    }

    /// The report of task `id`.
    pub fn task(&self, id: &str) -> Option<&TaskReport> {
        self.tasks.iter().find(|task| task.id == id)
    }
}

/// Serializes a duration as fractional milliseconds, rounded to microseconds.
fn milliseconds<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    let micros = duration.as_micros() as f64;
    serializer.serialize_f64(micros / 1000.0)
}

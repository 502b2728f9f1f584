//! The live log of a running flow run: one JSON object per line in
//! `logs/RUN_ID.jsonl` of the state directory, appended as tasks write.
//!
//! The run records in redb are written when each task ends and can be read
//! only by the process that has the state directory open. The live log is a
//! plain file, so `runs logs --follow` in another process can read a run
//! while it goes on. Its last line is an end marker with the run's state.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::RunState;
use crate::executor::{RunObserver, TaskReport};
use crate::runtime::LogLine;
use crate::state::AttemptRecord;

const LIVE_LOG_DIR: &str = "logs";

/// One line of a live log file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LiveEntry {
    /// A log line of task `task` (`ID[N]` for element N of a mapped task).
    Line { task: String, line: LogLine },
    /// The run ended in `state`; nothing follows.
    End { end: RunState },
}

/// Returns the path of run `run_id`'s live log in the state directory `state_dir`.
pub fn live_log_path(state_dir: &Path, run_id: &str) -> PathBuf {
    state_dir.join(LIVE_LOG_DIR).join(format!("{run_id}.jsonl"))
}

/// An observer that appends every live log line to the run's live log file,
/// then passes every call on to `inner`.
pub struct LiveLogWriter {
    state_dir: PathBuf,
    file: Mutex<Option<File>>,
    inner: Arc<dyn RunObserver>,
}

impl LiveLogWriter {
    pub fn new(state_dir: &Path, inner: Arc<dyn RunObserver>) -> Self {
        LiveLogWriter { state_dir: state_dir.to_path_buf(), file: Mutex::new(None), inner }
    }

    fn append(&self, entry: &LiveEntry) {
        let mut file = self.file.lock().expect("live log lock is never poisoned");
        let Some(file) = file.as_mut() else { return };
        let mut json = serde_json::to_vec(entry).expect("a live log entry always serializes");
        json.push(b'\n');
        if let Err(error) = file.write_all(&json) {
            tracing::warn!(%error, "failed to append to the live log");
        }
    }
}

impl RunObserver for LiveLogWriter {
    fn run_started(&self, run_id: &str) {
        let path = live_log_path(&self.state_dir, run_id);
        let opened = std::fs::create_dir_all(path.parent().expect("the live log path has a folder"))
            .and_then(|()| OpenOptions::new().create(true).append(true).open(&path));
        match opened {
            Ok(file) => *self.file.lock().expect("live log lock is never poisoned") = Some(file),
            Err(error) => tracing::warn!(path = %path.display(), %error, "failed to create the live log"),
        }
        self.inner.run_started(run_id);
    }

    fn run_ended(&self, run_id: &str, state: RunState) {
        self.append(&LiveEntry::End { end: state });
        self.file.lock().expect("live log lock is never poisoned").take();
        self.inner.run_ended(run_id, state);
    }

    fn task_finished(&self, report: &TaskReport, logs: &[LogLine]) {
        self.inner.task_finished(report, logs);
    }

    fn task_retrying(&self, task: &str, attempt: &AttemptRecord, logs: &[LogLine]) {
        self.inner.task_retrying(task, attempt, logs);
    }

    fn task_log(&self, task: &str, line: &LogLine) {
        self.append(&LiveEntry::Line { task: task.to_string(), line: line.clone() });
        self.inner.task_log(task, line);
    }
}

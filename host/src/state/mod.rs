//! The state directory: one folder that contains the redb database (output
//! cache and run records) and the compiled component artifacts.
//!
//! redb allows one process at a time to open a database file. A process
//! keeps the state directory open for as long as its command runs. A second
//! process waits for it (up to a limit it is given) and then runs, so two
//! runs started together both complete and are both recorded, one after the
//! other. A process that waits past its limit fails with a message that
//! names the directory.
//!
//! TODO: runs that share a state directory are serialized; a state backend
//! with concurrent writers lifts this.

mod alerts;
mod commit;
mod live_log;
mod runs;
mod schedules;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

pub use alerts::{AlertRecord, RedbAlertLog};
pub use commit::{DURABLE_WINDOW, StateDatabase};
pub use live_log::{LiveEntry, LiveLogWriter, live_log_path};
pub use runs::{
    AttemptRecord, ElementRecord, RedbRunStore, RunFilter, RunRecord, RunState, RunStore, TaskRecord, TaskState,
};
pub use schedules::{PendingFire, RedbScheduleStore, ScheduleRecord, ScheduleStore};

/// The environment variable that sets the state directory.
pub const STATE_DIR_ENV: &str = "WFLOW_STATE_DIR";

const DATABASE_FILE: &str = "wflow.redb";

/// How often a process waiting for the state directory tries again.
const OPEN_RETRY_PERIOD: Duration = Duration::from_millis(50);

/// How long a process waits for a state directory that another process
/// has open, unless the caller sets another wait.
pub const DEFAULT_STATE_WAIT: Duration = Duration::from_secs(30);

/// The redb page cache. redb's default of 1 GiB lets a long run's memory
/// grow with every record written; records are read rarely.
const DATABASE_CACHE_BYTES: usize = 16 * 1024 * 1024;
const ARTIFACT_DIR: &str = "artifacts";

/// An open state directory.
#[derive(Clone)]
pub struct StateDir {
    path: PathBuf,
    database: StateDatabase,
    /// The runs that opening marked as crashed.
    crashed: Vec<String>,
}

impl StateDir {
    /// Opens the state directory at `path`, creating it when missing. When
    /// another process has it open, waits up to `wait` for it, then fails.
    ///
    /// Opening marks every run still recorded as running as crashed, because
    /// no other process can be running one while this process has the
    /// database open.
    pub fn open(path: &Path, wait: Duration) -> Result<Self> {
        if path.exists() && !path.is_dir() {
            bail!("state directory `{}` is not a folder; pass --state-dir with a folder", path.display());
        }
        std::fs::create_dir_all(path)
            .with_context(|| format!("failed to create state directory `{}`", path.display()))?;
        let database_path = path.join(DATABASE_FILE);
        let started = Instant::now();
        let mut warned = false;
        let database = loop {
            match redb::Builder::new().set_cache_size(DATABASE_CACHE_BYTES).create(&database_path) {
                Ok(database) => break database,
                Err(redb::DatabaseError::DatabaseAlreadyOpen) if started.elapsed() < wait => {
                    if !warned {
                        tracing::warn!(path = %path.display(), "state directory is in use by another wflow-host process; waiting");
                        warned = true;
                    }
                    std::thread::sleep(OPEN_RETRY_PERIOD);
                }
                Err(redb::DatabaseError::DatabaseAlreadyOpen) => bail!(
                    "state directory `{}` is in use by another wflow-host process, which did not finish within {}; \
                     wait for it, allow a longer wait with --state-wait, or pass --state-dir with another folder",
                    path.display(),
                    humantime::format_duration(wait)
                ),
                Err(error) => {
                    return Err(error).with_context(|| {
                        format!(
                            "failed to open database `{}`; if it is damaged, move it aside and run again",
                            database_path.display()
                        )
                    });
                }
            }
        };
        // TODO: a damaged database file can make redb panic on a later read
        // or write. Check its integrity here, or contain such panics, and tell
        // the user to move the file aside.
        let database = StateDatabase::new(database);
        remove_live_logs(path);
        let crashed = RedbRunStore::new(database.clone()).mark_crashed()?;
        for run_id in &crashed {
            tracing::warn!(%run_id, "marked a run whose process ended without recording its end as crashed");
        }
        Ok(StateDir { path: path.to_path_buf(), database, crashed })
    }

    /// Returns the ids of the runs that opening the directory marked as
    /// crashed: their process ended without recording their end.
    pub fn crashed_runs(&self) -> &[String] {
        &self.crashed
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The folder of compiled component artifacts.
    pub fn artifact_dir(&self) -> PathBuf {
        self.path.join(ARTIFACT_DIR)
    }

    /// The redb database that contains the cache and the run records.
    pub fn database(&self) -> StateDatabase {
        self.database.clone()
    }
}

/// Removes the live logs of earlier runs. While this process has the state
/// directory open, no other process is running a flow that writes one.
fn remove_live_logs(state_dir: &Path) {
    let folder = live_log_path(state_dir, "run").parent().map(Path::to_path_buf).unwrap_or_default();
    let Ok(entries) = std::fs::read_dir(&folder) else { return };
    for entry in entries.flatten() {
        if let Err(error) = std::fs::remove_file(entry.path()) {
            tracing::warn!(path = %entry.path().display(), %error, "failed to remove an old live log");
        }
    }
}

/// Returns the default state directory: `$XDG_STATE_HOME/wflow`, else
/// `$HOME/.local/state/wflow`, else `.wflow` in the current directory.
pub fn default_state_dir() -> PathBuf {
    if let Some(state_home) = std::env::var_os("XDG_STATE_HOME").filter(|value| !value.is_empty()) {
        return PathBuf::from(state_home).join("wflow");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|value| !value.is_empty()) {
        return PathBuf::from(home).join(".local/state/wflow");
    }
    PathBuf::from(".wflow")
}

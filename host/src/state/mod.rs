//! The state directory: one folder that holds the redb database (output
//! cache and run records) and the compiled component artifacts.
//!
//! redb allows one process at a time to open a database file, so a second
//! `wflow-host` process on the same state directory gets a clear error that
//! names the directory instead of waiting.

mod runs;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};

pub use runs::{AttemptRecord, ElementRecord, RedbRunStore, RunFilter, RunRecord, RunState, RunStore, TaskRecord, TaskState};

/// The environment variable that sets the state directory.
pub const STATE_DIR_ENV: &str = "WFLOW_STATE_DIR";

const DATABASE_FILE: &str = "wflow.redb";

/// The redb page cache. redb's default of 1 GiB lets a long run's memory
/// grow with every record written; records are read rarely.
const DATABASE_CACHE_BYTES: usize = 16 * 1024 * 1024;
const ARTIFACT_DIR: &str = "artifacts";

/// An open state directory.
#[derive(Clone)]
pub struct StateDir {
    path: PathBuf,
    database: Arc<redb::Database>,
}

impl StateDir {
    /// Opens the state directory at `path`, creating it when missing.
    pub fn open(path: &Path) -> Result<Self> {
        if path.exists() && !path.is_dir() {
            bail!("state directory `{}` is not a folder; pass --state-dir with a folder", path.display());
        }
        std::fs::create_dir_all(path)
            .with_context(|| format!("failed to create state directory `{}`", path.display()))?;
        let database_path = path.join(DATABASE_FILE);
        let database = match redb::Builder::new().set_cache_size(DATABASE_CACHE_BYTES).create(&database_path) {
            Ok(database) => database,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => bail!(
                "state directory `{}` is in use by another wflow-host process; wait for it to \
                 finish or pass --state-dir with another folder",
                path.display()
            ),
            Err(error) => {
                return Err(error).with_context(|| format!("failed to open database `{}`", database_path.display()));
            }
        };
        Ok(StateDir { path: path.to_path_buf(), database: Arc::new(database) })
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The folder of compiled component artifacts.
    pub fn artifact_dir(&self) -> PathBuf {
        self.path.join(ARTIFACT_DIR)
    }

    /// The redb database that holds the cache and the run records.
    pub fn database(&self) -> Arc<redb::Database> {
        self.database.clone()
    }
}

/// The default state directory: `$XDG_STATE_HOME/wflow`, else
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

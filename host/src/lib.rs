//! wflow: a workflow orchestrator whose tasks are WebAssembly components.
//!
//! A flow is a TOML manifest of tasks ([`manifest`]). The [`Executor`] runs
//! its tasks in dependency order, each in its own wasmtime sandbox
//! ([`runtime`]) with fuel and memory limits, reuses outputs from the
//! [`cache`], and records every run in the [`state`] directory. Three narrow
//! interfaces keep the engine independent of where things live:
//! [`OutputCache`], [`RunStore`] and [`Dispatcher`]. The embedded defaults
//! keep everything in one redb file and run tasks in this process.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use std::path::Path;
//! use std::sync::Arc;
//! use wflow_host::{Host, NoObserver, RunOptions};
//!
//! let host = Host::open(Path::new("/var/lib/wflow"))?;
//! let flow = wflow_host::manifest::load(Path::new("flow.toml"), &[], &std::env::current_dir()?)?;
//! let report = host.run(&flow, &RunOptions::default(), Arc::new(NoObserver)).await?;
//! println!("{}: {:?}", report.run_id, report.state);
//! # Ok(())
//! # }
//! ```

pub mod cache;
pub mod dispatch;
pub mod executor;
pub mod manifest;
pub mod runtime;
pub mod server;
pub mod state;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

pub use cache::{OutputCache, RedbOutputCache};
pub use dispatch::{Dispatcher, LocalDispatcher};
pub use executor::{Executor, NoObserver, RunObserver, RunOptions, RunReport, TaskReport};
pub use manifest::{Flow, ManifestError};
pub use runtime::Runtime;
pub use state::{RedbRunStore, RunStore, StateDir};

/// Options of [`Host::open_with`].
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// How long to wait for another process that has the state directory
    /// open.
    pub state_wait: Duration,
    /// The folder of compiled components, when not the state directory's
    /// own. Several state directories, and processes, may share one: its
    /// files are written by atomic renames and checked against corruption
    /// before loading. The host runs them as native code, so the folder must
    /// be writable only by the user the host runs as.
    pub artifact_dir: Option<PathBuf>,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions { state_wait: state::DEFAULT_STATE_WAIT, artifact_dir: None }
    }
}

/// The embedded host: a state directory, a runtime and an executor wired
/// together with the redb cache and run store and the local dispatcher.
pub struct Host {
    state: StateDir,
    runtime: Arc<Runtime>,
    executor: Executor,
}

impl Host {
    /// Opens the state directory at `path`, waiting up to
    /// [`state::DEFAULT_STATE_WAIT`] for another process that has it open,
    /// and creates the runtime.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with_wait(path, state::DEFAULT_STATE_WAIT)
    }

    /// Opens the state directory at `path`, waiting up to `wait` for another
    /// process that has it open, and creates the runtime.
    pub fn open_with_wait(path: &Path, wait: Duration) -> Result<Self> {
        Self::open_with(path, &HostOptions { state_wait: wait, ..HostOptions::default() })
    }

    /// Opens the state directory at `path` with `options`, and creates the
    /// runtime.
    pub fn open_with(path: &Path, options: &HostOptions) -> Result<Self> {
        let state = StateDir::open(path, options.state_wait)?;
        let artifact_dir = options.artifact_dir.clone().unwrap_or_else(|| state.artifact_dir());
        let runtime = Arc::new(Runtime::new(artifact_dir)?);
        let executor = Executor::new(
            Arc::new(LocalDispatcher::new(runtime.clone())),
            Arc::new(RedbOutputCache::new(state.database())),
            Arc::new(RedbRunStore::new(state.database())),
        );
        Ok(Host { state, runtime, executor })
    }

    /// Runs `flow` to the end; see [`Executor::run`].
    /// Every task log line is also appended to the run's live log file in
    /// the state directory, which `runs logs --follow` reads.
    pub async fn run(&self, flow: &Flow, options: &RunOptions, observer: Arc<dyn RunObserver>) -> Result<RunReport> {
        let observer = Arc::new(state::LiveLogWriter::new(self.state.path(), observer));
        self.executor.run(flow, options, observer).await
    }

    pub fn state(&self) -> &StateDir {
        &self.state
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// The record of past runs.
    pub fn runs(&self) -> RedbRunStore {
        RedbRunStore::new(self.state.database())
    }
}

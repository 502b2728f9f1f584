//! The executor runs a validated flow: it starts each task once every task
//! it reads from has an output, looks outputs up in the cache, dispatches
//! the rest, records every task run, and writes the flow's output files.
//!
//! Tasks whose inputs are ready run at the same time, up to
//! [`RunOptions::max_parallel`]. When a task fails, every task that reads
//! from it, directly or not, is skipped; independent branches go on.

mod inputs;
mod outputs;
mod report;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::Instrument;

pub use report::{OutputReport, RunReport, TaskReport};

use crate::cache::{CacheKey, OutputCache};
use crate::dispatch::{ComponentRef, Dispatcher, TaskRequest};
use crate::manifest::{Flow, ParamValue, TaskSpec};
use crate::runtime::{LogLine, TaskContext, TaskFailure, TaskResult, now_ms};
use crate::state::{RunRecord, RunState, RunStore, TaskRecord, TaskState};

/// Settings of a run: cache use and parallelism.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Read stored outputs. When false every task runs, and its output still
    /// replaces the stored one.
    pub read_cache: bool,
    /// The number of tasks that may run at the same time, at least 1.
    pub max_parallel: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
        RunOptions { read_cache: true, max_parallel: cores }
    }
}

/// Receives progress while a run goes on, for example to print it.
pub trait RunObserver: Send + Sync {
    /// Called once per task when it ends, in the order tasks end.
    fn task_finished(&self, report: &TaskReport, logs: &[LogLine]);
}

/// An observer that ignores progress.
pub struct NoObserver;

impl RunObserver for NoObserver {
    fn task_finished(&self, _report: &TaskReport, _logs: &[LogLine]) {}
}

/// Runs flows with a dispatcher, an output cache and a run store.
pub struct Executor {
    dispatcher: Arc<dyn Dispatcher>,
    cache: Arc<dyn OutputCache>,
    runs: Arc<dyn RunStore>,
}

/// The result a finished task returns to the scheduling loop.
struct Finished {
    report: TaskReport,
    output: Option<Arc<Vec<u8>>>,
    logs: Vec<LogLine>,
    started_at_ms: u64,
}

impl Executor {
    pub fn new(dispatcher: Arc<dyn Dispatcher>, cache: Arc<dyn OutputCache>, runs: Arc<dyn RunStore>) -> Self {
        Executor { dispatcher, cache, runs }
    }

    /// Runs `flow` to the end and returns its report. Task failures are in
    /// the report; an error means the run could not be recorded.
    pub async fn run(&self, flow: &Flow, options: &RunOptions, observer: &dyn RunObserver) -> Result<RunReport> {
        let run_id = uuid::Uuid::now_v7().to_string();
        let span = tracing::info_span!("flow_run", run_id = %run_id, flow = %flow.name);
        self.run_with_id(flow, options, observer, run_id).instrument(span).await
    }

    async fn run_with_id(
        &self,
        flow: &Flow,
        options: &RunOptions,
        observer: &dyn RunObserver,
        run_id: String,
    ) -> Result<RunReport> {
        let clock = Instant::now();
        let mut record = RunRecord {
            run_id: run_id.clone(),
            flow: flow.name.clone(),
            manifest_path: flow.manifest_path.display().to_string(),
            params: flow.values.iter().map(|(name, value)| (name.clone(), value.to_json())).collect(),
            state: RunState::Running,
            started_at_ms: now_ms(),
            ended_at_ms: None,
        };
        self.runs.put_run(&record)?;
        tracing::info!("flow run started");

        let components = read_components(flow).await;
        let values = Arc::new(flow.values.clone());
        let semaphore = Arc::new(Semaphore::new(options.max_parallel.max(1)));
        let mut outputs: HashMap<String, Arc<Vec<u8>>> = HashMap::new();
        let mut states: HashMap<String, TaskState> = HashMap::new();
        let mut reports: HashMap<String, TaskReport> = HashMap::new();
        let mut started: Vec<&str> = Vec::new();
        let mut running = JoinSet::new();

        loop {
            for task in &flow.tasks {
                if started.contains(&task.id.as_str()) {
                    continue;
                }
                if let Some(failed) = task.upstream().iter().find(|id| matches!(states.get(*id), Some(state) if !state.has_output())) {
                    started.push(&task.id);
                    let finished = skipped(task, failed);
                    self.finish(&run_id, finished, &mut states, &mut reports, &mut outputs, observer);
                    continue;
                }
                if !task.upstream().iter().all(|id| outputs.contains_key(id)) {
                    continue;
                }
                started.push(&task.id);
                let attempt = Attempt {
                    flow: flow.name.clone(),
                    run_id: run_id.clone(),
                    task: task.clone(),
                    params: task.params.iter().map(|name| (name.clone(), flow.values[name].clone())).collect(),
                    values: values.clone(),
                    upstream: task.upstream().iter().map(|id| (id.clone(), outputs[id].clone())).collect(),
                    component: components[&task.component].clone(),
                    dispatcher: self.dispatcher.clone(),
                    cache: self.cache.clone(),
                    read_cache: options.read_cache,
                };
                let semaphore = semaphore.clone();
                let span = tracing::info_span!("task_attempt", run_id = %run_id, task = %task.id, attempt = 1);
                running.spawn(
                    async move {
                        let _permit = semaphore.acquire_owned().await.expect("the semaphore is never closed");
                        attempt.run().await
                    }
                    .instrument(span),
                );
            }

            let Some(joined) = running.join_next().await else { break };
            let finished = joined.context("a task's host future panicked")?;
            self.finish(&run_id, finished, &mut states, &mut reports, &mut outputs, observer);
        }

        let written = outputs::write_all(&flow.outputs, &outputs);
        let all_completed = flow.tasks.iter().all(|task| states.get(&task.id).is_some_and(|state| state.has_output()));
        let all_written = written.iter().all(|output| output.error.is_none());
        record.state = if all_completed && all_written { RunState::Completed } else { RunState::Failed };
        record.ended_at_ms = Some(now_ms());
        self.runs.put_run(&record)?;
        tracing::info!(state = ?record.state, "flow run ended");

        let tasks = flow.tasks.iter().filter_map(|task| reports.remove(&task.id)).collect();
        Ok(RunReport {
            flow: flow.name.clone(),
            run_id,
            state: record.state,
            duration: clock.elapsed(),
            tasks,
            outputs: written,
        })
    }

    /// Records a finished task, notifies the observer, and keeps its output.
    fn finish(
        &self,
        run_id: &str,
        finished: Finished,
        states: &mut HashMap<String, TaskState>,
        reports: &mut HashMap<String, TaskReport>,
        outputs: &mut HashMap<String, Arc<Vec<u8>>>,
        observer: &dyn RunObserver,
    ) {
        let report = finished.report;
        let record = TaskRecord {
            task_id: report.id.clone(),
            state: report.state,
            attempts: u32::from(report.state != TaskState::Skipped),
            started_at_ms: finished.started_at_ms,
            ended_at_ms: now_ms(),
            fuel_used: report.fuel_used,
            peak_memory_bytes: report.peak_memory_bytes,
            cache_hit: report.cache_hit,
            error: report.error.clone(),
        };
        if let Err(error) = self.runs.put_task(run_id, &record, &finished.logs) {
            tracing::error!(task = %report.id, error = %format!("{error:#}"), "failed to record the task run");
        }
        observer.task_finished(&report, &finished.logs);

        states.insert(report.id.clone(), report.state);
        if let Some(output) = finished.output {
            outputs.insert(report.id.clone(), output);
        }
        reports.insert(report.id.clone(), report);
    }
}

/// One attempt of one task, with everything it needs to run on its own.
struct Attempt {
    flow: String,
    run_id: String,
    task: TaskSpec,
    params: Vec<(String, ParamValue)>,
    /// Every parameter value, for an input that reads a parameter.
    values: Arc<BTreeMap<String, ParamValue>>,
    /// The outputs of the tasks this task reads from.
    upstream: HashMap<String, Arc<Vec<u8>>>,
    component: Result<ComponentRef, String>,
    dispatcher: Arc<dyn Dispatcher>,
    cache: Arc<dyn OutputCache>,
    read_cache: bool,
}

impl Attempt {
    async fn run(self) -> Finished {
        let started_at_ms = now_ms();
        let clock = Instant::now();

        let input = match inputs::assemble(&self.task.input, &self.values, &self.upstream).await {
            Ok(input) => input,
            Err(reason) => return self.failed(TaskFailure::Input { reason }, started_at_ms),
        };
        let component = match self.component.clone() {
            Ok(component) => component,
            Err(reason) => return self.failed(TaskFailure::InvalidComponent { reason }, started_at_ms),
        };

        let key = CacheKey::new(&component.hash, &self.flow, &self.task.id, &self.params, &input);
        if self.task.cache.enabled && self.read_cache {
            match self.cache.get(&key, self.task.cache.ttl) {
                Ok(Some(output)) => {
                    tracing::debug!(key = %key, "output cache hit");
                    return self.cached(output, clock.elapsed(), started_at_ms);
                }
                Ok(None) => tracing::debug!(key = %key, "output cache miss"),
                Err(error) => tracing::warn!(error = %format!("{error:#}"), "output cache read failed; running the task"),
            }
        }

        let request = TaskRequest {
            component,
            context: TaskContext {
                flow: self.flow.clone(),
                task: self.task.id.clone(),
                run_id: self.run_id.clone(),
                attempt: 1,
                params: self.params.clone(),
            },
            input,
            limits: self.task.limits,
        };
        let result = self.dispatcher.dispatch(request).await;

        if let Ok(output) = &result.output {
            if self.task.cache.enabled {
                if let Err(error) = self.cache.put(&key, output) {
                    tracing::warn!(error = %format!("{error:#}"), "failed to store the output in the cache");
                }
            }
        }
        self.ran(result, started_at_ms)
    }

    fn ran(self, result: TaskResult, started_at_ms: u64) -> Finished {
        let TaskResult { output, fuel_used, peak_memory_bytes, logs, duration, detail } = result;
        let (state, output, error) = match output {
            Ok(output) => (TaskState::Completed, Some(Arc::new(output)), None),
            Err(failure) => {
                tracing::warn!(error = %failure, "task failed");
                (TaskState::Failed, None, Some(failure.describe(&self.task.id)))
            }
        };
        let report = TaskReport {
            id: self.task.id,
            state,
            duration,
            fuel_used,
            peak_memory_bytes,
            cache_hit: false,
            error,
            detail,
        };
        Finished { report, output, logs, started_at_ms }
    }

    fn cached(self, output: Vec<u8>, duration: Duration, started_at_ms: u64) -> Finished {
        let report = TaskReport {
            id: self.task.id,
            state: TaskState::Cached,
            duration,
            fuel_used: 0,
            peak_memory_bytes: 0,
            cache_hit: true,
            error: None,
            detail: None,
        };
        Finished { report, output: Some(Arc::new(output)), logs: Vec::new(), started_at_ms }
    }

    fn failed(self, failure: TaskFailure, started_at_ms: u64) -> Finished {
        self.ran(TaskResult::failed_before_start(failure, None), started_at_ms)
    }
}

fn skipped(task: &TaskSpec, failed_upstream: &str) -> Finished {
    let report = TaskReport {
        id: task.id.clone(),
        state: TaskState::Skipped,
        duration: Duration::ZERO,
        fuel_used: 0,
        peak_memory_bytes: 0,
        cache_hit: false,
        error: Some(format!("task `{}` skipped because task `{failed_upstream}` did not complete", task.id)),
        detail: None,
    };
    Finished { report, output: None, logs: Vec::new(), started_at_ms: now_ms() }
}

/// Reads and hashes each distinct component file of the flow once.
async fn read_components(flow: &Flow) -> HashMap<PathBuf, Result<ComponentRef, String>> {
    let mut paths: Vec<PathBuf> = flow.tasks.iter().map(|task| task.component.clone()).collect();
    paths.sort();
    paths.dedup();
    tokio::task::spawn_blocking(move || {
        paths
            .into_iter()
            .map(|path| {
                let component = std::fs::read(&path)
                    .map(|bytes| ComponentRef { hash: blake3::hash(&bytes).to_hex().to_string(), bytes: bytes.into() })
                    .map_err(|error| format!("failed to read component `{}`: {error}", path.display()));
                (path, component)
            })
            .collect()
    })
    .await
    .expect("reading component files does not panic")
}

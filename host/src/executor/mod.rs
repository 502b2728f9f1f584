//! The executor runs a validated flow: it starts each task once every task
//! it reads from has an output, looks outputs up in the cache, dispatches
//! the rest with retries, records every task run, and writes the flow's
//! output files.
//!
//! Tasks whose inputs are ready run at the same time, up to the run's
//! parallelism. When a task fails, every task that reads from it, directly
//! or not, is skipped; independent branches go on. Cancelling the run, or
//! reaching the flow's timeout, interrupts running attempts and starts
//! nothing more.

mod attempt;
mod inputs;
mod outputs;
mod report;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context as _, Result};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub use report::{OutputReport, RunReport, TaskReport};

use crate::cache::{CacheKey, OutputCache};
use crate::dispatch::{ComponentRef, Dispatcher};
use crate::manifest::{Flow, InputSpec};
use crate::runtime::{LogLine, now_ms};
use crate::state::{AttemptRecord, RunRecord, RunState, RunStore, TaskRecord, TaskState};
use attempt::{Finished, TaskRun};

/// Settings of a run: cache use, parallelism and cancellation.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Read stored outputs. When false every task runs, and its output still
    /// replaces the stored one.
    pub read_cache: bool,
    /// The number of tasks that may run at the same time. `None` takes the
    /// manifest's `max_parallel`, else the number of cores.
    pub max_parallel: Option<usize>,
    /// Cancelling this token cancels the run.
    pub cancel: CancellationToken,
    /// The id of an earlier run of the same flow whose completed tasks are
    /// reused instead of run again.
    pub resume_from: Option<String>,
    /// The id of this run, when the caller chose it beforehand (a scheduler
    /// stores it before the run starts); a new UUIDv7 otherwise.
    pub run_id: Option<String>,
    /// The server deployment that starts the run, recorded with it.
    pub deployment: Option<String>,
    /// The schedule's fire time that the run is for, in milliseconds since
    /// the Unix epoch, recorded with it.
    pub scheduled_for_ms: Option<u64>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            read_cache: true,
            max_parallel: None,
            cancel: CancellationToken::new(),
            resume_from: None,
            run_id: None,
            deployment: None,
            scheduled_for_ms: None,
        }
    }
}

/// Receives progress while a run goes on, for example to print it.
pub trait RunObserver: Send + Sync {
    /// Called once when the run is recorded, before any task starts.
    fn run_started(&self, _run_id: &str) {}

    /// Called once when the run has ended, with its final state.
    fn run_ended(&self, _run_id: &str, _state: RunState) {}

    /// Called once per task when it reaches its final state, in the order
    /// tasks end, with the log lines of all its attempts.
    fn task_finished(&self, report: &TaskReport, logs: &[LogLine]);

    /// Called when an attempt failed and the task will run again, with that
    /// attempt's log lines.
    fn task_retrying(&self, _task: &str, _attempt: &AttemptRecord, _logs: &[LogLine]) {}

    /// Called for each log line as a task writes it, from the thread that
    /// runs the task. `task` is `ID`, or `ID[N]` for element N of a mapped task.
    fn task_log(&self, _task: &str, _line: &LogLine) {}
}

/// An observer that ignores progress.
pub struct NoObserver;

impl RunObserver for NoObserver {
    fn task_finished(&self, _report: &TaskReport, _logs: &[LogLine]) {}
}

/// Runs flows with a dispatcher, an output cache and a run store.
#[derive(Clone)]
pub struct Executor {
    dispatcher: Arc<dyn Dispatcher>,
    cache: Arc<dyn OutputCache>,
    runs: Arc<dyn RunStore>,
}

/// Aborts the task when dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The outputs, states and reports of the tasks of a run that have ended.
#[derive(Default)]
struct Progress {
    outputs: HashMap<String, Arc<Vec<u8>>>,
    states: HashMap<String, TaskState>,
    reports: HashMap<String, TaskReport>,
}

impl Executor {
    pub fn new(dispatcher: Arc<dyn Dispatcher>, cache: Arc<dyn OutputCache>, runs: Arc<dyn RunStore>) -> Self {
        Executor { dispatcher, cache, runs }
    }

    /// Runs `flow` to the end and returns its report. Task failures are in
    /// the report; an error means the run could not be recorded.
    pub async fn run(&self, flow: &Flow, options: &RunOptions, observer: Arc<dyn RunObserver>) -> Result<RunReport> {
        let run_id = options.run_id.clone().unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        // The span is at error level so that it, with its ids, is enabled
        // whenever any event is: the default filter is `warn`.
        let span = tracing::error_span!("flow_run", run_id = %run_id, flow = %flow.name);

        // The loop runs as a task of the runtime, on a worker thread, not on
        // the caller's thread. A task that ends then wakes the loop on the
        // same worker, without a system call to wake another thread: in a
        // chain of small tasks, that wake-up cost more than the task.
        let executor = self.clone();
        let (flow, options) = (flow.clone(), options.clone());
        let run =
            tokio::spawn(async move { executor.run_with_id(&flow, &options, observer, run_id).await }.instrument(span));
        // Dropping this future stops the run, as it would if the loop ran here.
        let mut run = AbortOnDrop(run);
        match (&mut run.0).await {
            Ok(result) => result,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(error) => Err(anyhow::anyhow!("the flow run was stopped before it ended: {error}")),
        }
    }

    async fn run_with_id(
        &self,
        flow: &Flow,
        options: &RunOptions,
        observer: Arc<dyn RunObserver>,
        run_id: String,
    ) -> Result<RunReport> {
        let clock = Instant::now();
        let mut record = RunRecord {
            run_id: run_id.clone(),
            flow: flow.name.clone(),
            manifest_path: flow.manifest_path.display().to_string(),
            manifest_hash: flow.manifest_hash.clone(),
            params: flow.values.iter().map(|(name, value)| (name.clone(), value.to_json())).collect(),
            state: RunState::Running,
            started_at_ms: now_ms(),
            ended_at_ms: None,
            resumed_from: options.resume_from.clone(),
            deployment: options.deployment.clone(),
            scheduled_for_ms: options.scheduled_for_ms,
            error: None,
        };
        let reused = match &options.resume_from {
            Some(earlier) => self.reusable_outputs(earlier)?,
            None => HashMap::new(),
        };
        self.runs.put_run(&record)?;
        tracing::info!("flow run started");
        observer.run_started(&run_id);

        // The run's own token: cancelled by the caller's token or by the
        // flow's timeout, without cancelling the caller's token itself.
        let cancel = options.cancel.child_token();
        let max_parallel = options.max_parallel.or(flow.max_parallel).unwrap_or_else(default_parallelism);
        let semaphore = Arc::new(Semaphore::new(max_parallel.max(1)));
        let components = read_components(flow).await;
        let values = Arc::new(flow.values.clone());
        let flow_deadline = flow.timeout.map(|timeout| tokio::time::Instant::now() + timeout);
        let timed_out = Arc::new(AtomicBool::new(false));
        let mut progress = Progress::default();
        let mut graph = Graph::new(flow);
        let mut running = JoinSet::new();
        // Tasks ready to run that wait for a permit, in the order they
        // became ready.
        let mut waiting: VecDeque<TaskRun> = VecDeque::new();

        loop {
            while let Some(index) = graph.ready.pop_front() {
                let task = &flow.tasks[index];
                if let Some(output) = reused.get(&task.id) {
                    let finished = attempt::reused(task, output.clone());
                    self.finish(
                        &run_id,
                        finished,
                        &mut progress,
                        &mut graph,
                        flow,
                        &cancel,
                        &timed_out,
                        observer.as_ref(),
                    );
                    continue;
                }
                if cancel.is_cancelled() {
                    let reason = attempt::stop_reason(timed_out.load(Ordering::Relaxed));
                    let message = format!("task `{}` did not start because {reason}", task.id);
                    let finished = attempt::not_run(task, TaskState::Cancelled, message);
                    self.finish(
                        &run_id,
                        finished,
                        &mut progress,
                        &mut graph,
                        flow,
                        &cancel,
                        &timed_out,
                        observer.as_ref(),
                    );
                    continue;
                }

                let task_run = TaskRun {
                    flow: flow.name.clone(),
                    run_id: run_id.clone(),
                    task: task.clone(),
                    params: task.params.iter().map(|name| (name.clone(), flow.values[name].clone())).collect(),
                    values: values.clone(),
                    upstream: task.upstream().iter().map(|id| (id.clone(), progress.outputs[id].clone())).collect(),
                    component: components[&task.component].clone(),
                    dispatcher: self.dispatcher.clone(),
                    cache: self.cache.clone(),
                    read_cache: options.read_cache,
                    cancel: cancel.clone(),
                    observer: observer.clone(),
                    runs: self.runs.clone(),
                    semaphore: semaphore.clone(),
                    timed_out: timed_out.clone(),
                    permit: None,
                };
                // A mapped task takes a permit per element; any other waits
                // here, so that tasks start in the order they became ready.
                if matches!(task.input, InputSpec::Map(_)) {
                    running.spawn(task_run.run().in_current_span());
                } else {
                    waiting.push_back(task_run);
                }
            }
            while !waiting.is_empty() {
                let Ok(permit) = semaphore.clone().try_acquire_owned() else {
                    break;
                };
                let mut task_run = waiting.pop_front().expect("the queue is not empty");
                task_run.permit = Some(permit);
                running.spawn(task_run.run().in_current_span());
            }

            let deadline = async {
                match flow_deadline {
                    Some(deadline) if !timed_out.load(Ordering::Relaxed) => tokio::time::sleep_until(deadline).await,
                    _ => std::future::pending().await,
                }
            };
            if running.is_empty() && waiting.is_empty() {
                break;
            }
            let next_permit = async {
                if waiting.is_empty() {
                    std::future::pending().await
                } else {
                    semaphore.clone().acquire_owned().await.expect("the semaphore is never closed")
                }
            };
            let joined = tokio::select! {
                joined = running.join_next(), if !running.is_empty() => joined,
                permit = next_permit => {
                    let mut task_run = waiting.pop_front().expect("a permit is awaited only for a waiting task");
                    task_run.permit = Some(permit);
                    running.spawn(task_run.run().in_current_span());
                    continue;
                }
                () = deadline => {
                    tracing::warn!(timeout = ?flow.timeout, "flow timed out; cancelling its tasks");
                    timed_out.store(true, Ordering::Relaxed);
                    cancel.cancel();
                    continue;
                }
            };
            let Some(joined) = joined else { break };
            let finished = joined.context("a task's host future panicked")?;
            self.finish(&run_id, finished, &mut progress, &mut graph, flow, &cancel, &timed_out, observer.as_ref());
        }

        let written = outputs::write_all(&flow.outputs, &progress.outputs);
        let all_completed =
            flow.tasks.iter().all(|task| progress.states.get(&task.id).is_some_and(|state| state.has_output()));
        let all_written = written.iter().all(|output| output.error.is_none());
        record.state = if timed_out.load(Ordering::Relaxed) {
            RunState::TimedOut
        } else if cancel.is_cancelled() {
            RunState::Cancelled
        } else if all_completed && all_written {
            RunState::Completed
        } else {
            RunState::Failed
        };
        record.ended_at_ms = Some(now_ms());
        self.runs.put_run(&record)?;
        tracing::info!(state = record.state.name(), "flow run ended");
        observer.run_ended(&run_id, record.state);

        let tasks = flow.tasks.iter().filter_map(|task| progress.reports.remove(&task.id)).collect();
        Ok(RunReport {
            flow: flow.name.clone(),
            run_id,
            state: record.state,
            duration: clock.elapsed(),
            tasks,
            outputs: written,
        })
    }

    /// Records a finished task, notifies the observer, keeps its output, and
    /// moves the tasks that read from it forward: ready to run when all
    /// their inputs are there, skipped (or cancelled) when one never will be.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        run_id: &str,
        finished: Finished,
        progress: &mut Progress,
        graph: &mut Graph,
        flow: &Flow,
        cancel: &CancellationToken,
        timed_out: &AtomicBool,
        observer: &dyn RunObserver,
    ) {
        let mut pending = vec![finished];
        while let Some(finished) = pending.pop() {
            let index = graph.index[&finished.report.id];
            let has_output = finished.output.is_some();
            self.record(run_id, finished, progress, observer);
            graph.finished[index] = true;

            for &downstream in &graph.downstream[index] {
                if graph.finished[downstream] || graph.blocked[downstream] {
                    continue;
                }
                if has_output {
                    graph.remaining[downstream] -= 1;
                    if graph.remaining[downstream] == 0 {
                        graph.ready.push_back(downstream);
                    }
                    continue;
                }
                graph.blocked[downstream] = true;
                let task = &flow.tasks[downstream];
                let blocker = &flow.tasks[index].id;
                let not_run = if cancel.is_cancelled() {
                    let reason = attempt::stop_reason(timed_out.load(Ordering::Relaxed));
                    let message = format!("task `{}` did not start because {reason}", task.id);
                    attempt::not_run(task, TaskState::Cancelled, message)
                } else {
                    let message = format!("task `{}` skipped because task `{blocker}` did not complete", task.id);
                    attempt::not_run(task, TaskState::Skipped, message)
                };
                pending.push(not_run);
            }
        }
    }

    /// Stores a finished task's record, notifies the observer, and keeps
    /// its output for the tasks that read from it.
    fn record(&self, run_id: &str, finished: Finished, progress: &mut Progress, observer: &dyn RunObserver) {
        let report = finished.report;
        let record = TaskRecord {
            task_id: report.id.clone(),
            state: report.state,
            attempts: finished.attempts,
            started_at_ms: finished.started_at_ms,
            ended_at_ms: now_ms(),
            fuel_used: report.fuel_used,
            peak_memory_bytes: report.peak_memory_bytes,
            cache_hit: report.cache_hit,
            error: report.error.clone(),
            output_key: finished.output_key.map(|key| key.to_hex()),
            elements: report.elements,
        };
        // An output the cache does not keep is copied with the record, so
        // that a resumed run can reuse it.
        let kept_output = finished.output.as_deref().filter(|_| finished.output_key.is_none()).map(Vec::as_slice);
        if let Err(error) = self.runs.put_task(run_id, &record, &finished.logs, kept_output) {
            tracing::error!(task = %report.id, error = %format!("{error:#}"), "failed to record the task run");
        }
        observer.task_finished(&report, &finished.logs);

        progress.states.insert(report.id.clone(), report.state);
        if let Some(output) = finished.output {
            progress.outputs.insert(report.id.clone(), output);
        }
        progress.reports.insert(report.id.clone(), report);
    }
}

impl Executor {
    /// Collects the outputs of the tasks that completed in run `run_id` and can still
    /// be read: from the cache by their recorded key, else as kept with the
    /// run. A task whose output cannot be read runs again.
    fn reusable_outputs(&self, run_id: &str) -> Result<HashMap<String, Arc<Vec<u8>>>> {
        let mut outputs = HashMap::new();
        for task in self.runs.tasks(run_id)? {
            if !task.state.has_output() {
                continue;
            }
            let key = task.output_key.as_deref().and_then(CacheKey::from_hex);
            let output = match key {
                Some(key) => self.cache.get(&key, None)?,
                None => self.runs.output(run_id, &task.task_id)?,
            };
            match output {
                Some(output) => {
                    outputs.insert(task.task_id, Arc::new(output));
                }
                None => tracing::debug!(task = %task.task_id, "no output to reuse; the task runs again"),
            }
        }
        Ok(outputs)
    }
}

/// The dependency graph of a run, by task index in the flow's order.
struct Graph {
    index: HashMap<String, usize>,
    /// The tasks that read from each task.
    downstream: Vec<Vec<usize>>,
    /// The number of each task's inputs that have no output yet.
    remaining: Vec<usize>,
    /// Tasks whose inputs are all there, in the order they became ready.
    ready: VecDeque<usize>,
    finished: Vec<bool>,
    /// Tasks that will not run because an input never will be there.
    blocked: Vec<bool>,
}

impl Graph {
    fn new(flow: &Flow) -> Self {
        let index: HashMap<String, usize> =
            flow.tasks.iter().enumerate().map(|(position, task)| (task.id.clone(), position)).collect();
        let mut downstream = vec![Vec::new(); flow.tasks.len()];
        let mut remaining = vec![0; flow.tasks.len()];
        for (position, task) in flow.tasks.iter().enumerate() {
            for upstream in task.upstream() {
                downstream[index[upstream]].push(position);
                remaining[position] += 1;
            }
        }
        let ready = (0..flow.tasks.len()).filter(|&position| remaining[position] == 0).collect();
        let count = flow.tasks.len();
        Graph { index, downstream, remaining, ready, finished: vec![false; count], blocked: vec![false; count] }
    }
}

fn default_parallelism() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| cores.get())
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

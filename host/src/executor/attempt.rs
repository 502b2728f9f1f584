//! One task of a run, from its input to its final state: cache lookup,
//! attempts with retries and backoff, and the stored output.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use super::report::TaskReport;
use super::{RunObserver, inputs};
use crate::cache::{CacheKey, OutputCache};
use crate::dispatch::{ComponentRef, Dispatcher, TaskRequest};
use crate::manifest::{ParamValue, TaskSpec};
use crate::runtime::{LogLine, TaskContext, TaskFailure, TaskResult, now_ms};
use crate::state::{AttemptRecord, TaskState};

/// The result a finished task returns to the scheduling loop.
pub(crate) struct Finished {
    pub(crate) report: TaskReport,
    pub(crate) output: Option<Arc<Vec<u8>>>,
    pub(crate) logs: Vec<LogLine>,
    pub(crate) attempts: Vec<AttemptRecord>,
    pub(crate) started_at_ms: u64,
}

/// One task of one run, with everything it needs to run on its own.
pub(crate) struct TaskRun {
    pub(crate) flow: String,
    pub(crate) run_id: String,
    pub(crate) task: TaskSpec,
    /// The parameters the task sees, sorted by name.
    pub(crate) params: Vec<(String, ParamValue)>,
    /// Every parameter value, for an input that reads a parameter.
    pub(crate) values: Arc<BTreeMap<String, ParamValue>>,
    /// The outputs of the tasks this task reads from.
    pub(crate) upstream: HashMap<String, Arc<Vec<u8>>>,
    pub(crate) component: Result<ComponentRef, String>,
    pub(crate) dispatcher: Arc<dyn Dispatcher>,
    pub(crate) cache: Arc<dyn OutputCache>,
    pub(crate) read_cache: bool,
    pub(crate) cancel: CancellationToken,
    pub(crate) observer: Arc<dyn RunObserver>,
}

impl TaskRun {
    pub(crate) async fn run(self) -> Finished {
        let started_at_ms = now_ms();
        let clock = Instant::now();

        let input = match inputs::assemble(&self.task.input, &self.values, &self.upstream).await {
            Ok(input) => input,
            Err(reason) => return self.failed_before_start(TaskFailure::Input { reason }, started_at_ms),
        };
        let component = match self.component.clone() {
            Ok(component) => component,
            Err(reason) => return self.failed_before_start(TaskFailure::InvalidComponent { reason }, started_at_ms),
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

        let mut attempts: Vec<AttemptRecord> = Vec::new();
        let mut logs: Vec<LogLine> = Vec::new();
        let mut run_time = Duration::ZERO;
        let mut attempt = 1;
        let result = loop {
            let attempt_started_ms = now_ms();
            let request = TaskRequest {
                component: component.clone(),
                context: TaskContext {
                    flow: self.flow.clone(),
                    task: self.task.id.clone(),
                    run_id: self.run_id.clone(),
                    attempt,
                    params: self.params.clone(),
                },
                input: input.clone(),
                limits: self.task.limits,
            };
            let span = tracing::info_span!("task_attempt", run_id = %self.run_id, task = %self.task.id, attempt);
            span.in_scope(|| tracing::debug!("attempt started"));
            let result = self.dispatcher.dispatch(request, self.cancel.clone()).instrument(span.clone()).await;
            run_time += result.duration;

            let mut record = AttemptRecord {
                attempt,
                state: state_of(&result.output),
                started_at_ms: attempt_started_ms,
                ended_at_ms: now_ms(),
                fuel_used: result.fuel_used,
                peak_memory_bytes: result.peak_memory_bytes,
                error: result.output.as_ref().err().map(|failure| failure.describe(&self.task.id)),
                retry_delay_ms: None,
            };

            let Err(failure) = &result.output else {
                attempts.push(record);
                break result;
            };
            let retry = failure.is_retryable() && attempt < self.task.retry.max_attempts && !self.cancel.is_cancelled();
            if !retry {
                attempts.push(record);
                break result;
            }

            let delay = self.task.retry.delay_with_jitter(attempt, fastrand::f64());
            record.retry_delay_ms = Some(delay.as_millis() as u64);
            span.in_scope(|| {
                tracing::warn!(error = %failure, delay_ms = delay.as_millis() as u64, "attempt failed; retrying");
            });
            self.observer.task_retrying(&self.task.id, &record, &result.logs);
            attempts.push(record);
            logs.extend(result.logs);

            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = self.cancel.cancelled() => {
                    let cancelled = TaskResult::failed_before_start(TaskFailure::Cancelled, None);
                    break cancelled;
                }
            }
            attempt += 1;
        };

        if let Ok(output) = &result.output {
            if self.task.cache.enabled {
                if let Err(error) = self.cache.put(&key, output) {
                    tracing::warn!(error = %format!("{error:#}"), "failed to store the output in the cache");
                }
            }
        }
        self.finished(result, attempts, logs, run_time, started_at_ms)
    }

    /// Builds the final report; `duration` is the time the attempts ran,
    /// without retry delays and compilation.
    fn finished(
        self,
        result: TaskResult,
        attempts: Vec<AttemptRecord>,
        mut logs: Vec<LogLine>,
        duration: Duration,
        started_at_ms: u64,
    ) -> Finished {
        let TaskResult { output, logs: last_logs, detail, .. } = result;
        logs.extend(last_logs);
        let state = state_of(&output);
        let (output, error) = match output {
            Ok(output) => (Some(Arc::new(output)), None),
            Err(failure) => {
                tracing::debug!(task = %self.task.id, error = %failure, "task failed");
                (None, Some(failure.describe(&self.task.id)))
            }
        };
        let report = TaskReport {
            id: self.task.id,
            state,
            attempts: attempts.len() as u32,
            duration,
            fuel_used: attempts.iter().map(|attempt| attempt.fuel_used).sum(),
            peak_memory_bytes: attempts.iter().map(|attempt| attempt.peak_memory_bytes).max().unwrap_or(0),
            cache_hit: false,
            error,
            detail,
        };
        Finished { report, output, logs, attempts, started_at_ms }
    }

    fn cached(self, output: Vec<u8>, duration: Duration, started_at_ms: u64) -> Finished {
        let report = TaskReport {
            id: self.task.id,
            state: TaskState::Cached,
            attempts: 0,
            duration,
            fuel_used: 0,
            peak_memory_bytes: 0,
            cache_hit: true,
            error: None,
            detail: None,
        };
        Finished { report, output: Some(Arc::new(output)), logs: Vec::new(), attempts: Vec::new(), started_at_ms }
    }

    fn failed_before_start(self, failure: TaskFailure, started_at_ms: u64) -> Finished {
        let result = TaskResult::failed_before_start(failure, None);
        self.finished(result, Vec::new(), Vec::new(), Duration::ZERO, started_at_ms)
    }
}

/// The final state of a task whose last attempt ended with `output`.
fn state_of(output: &Result<Vec<u8>, TaskFailure>) -> TaskState {
    match output {
        Ok(_) => TaskState::Completed,
        Err(TaskFailure::Timeout { .. }) => TaskState::TimedOut,
        Err(TaskFailure::Cancelled) => TaskState::Cancelled,
        Err(_) => TaskState::Failed,
    }
}

/// A task that did not run, because an upstream task did not complete or
/// because the run was cancelled first.
pub(crate) fn not_run(task: &TaskSpec, state: TaskState, error: String) -> Finished {
    let report = TaskReport {
        id: task.id.clone(),
        state,
        attempts: 0,
        duration: Duration::ZERO,
        fuel_used: 0,
        peak_memory_bytes: 0,
        cache_hit: false,
        error: Some(error),
        detail: None,
    };
    Finished { report, output: None, logs: Vec::new(), attempts: Vec::new(), started_at_ms: now_ms() }
}

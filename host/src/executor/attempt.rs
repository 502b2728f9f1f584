//! One task of a run, from its input to its final state: cache lookup,
//! attempts with retries and backoff, and the stored output. A mapped task
//! does the same once per element of its upstream array.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use super::report::TaskReport;
use super::{RunObserver, inputs};
use crate::cache::{CacheKey, OutputCache};
use crate::dispatch::{ComponentRef, Dispatcher, TaskRequest};
use crate::manifest::{InputSpec, ParamValue, TaskSpec};
use crate::runtime::{LiveLog, LogLine, TaskContext, TaskFailure, TaskResult, now_ms};
use crate::state::{AttemptRecord, ElementRecord, RunStore, TaskState};

/// Element records of a mapped task are written in batches of this size, so
/// that memory does not grow with the number of finished elements.
const ELEMENT_BATCH: usize = 256;

/// The result a finished task returns to the scheduling loop.
pub(crate) struct Finished {
    pub(crate) report: TaskReport,
    pub(crate) output: Option<Arc<Vec<u8>>>,
    pub(crate) logs: Vec<LogLine>,
    pub(crate) attempts: Vec<AttemptRecord>,
    pub(crate) started_at_ms: u64,
    /// The cache key of a completed task's output when the output is cached.
    pub(crate) output_key: Option<CacheKey>,
}

/// One task of one run, with everything it needs to run on its own.
pub(crate) struct TaskRun {
    pub(crate) flow: String,
    pub(crate) run_id: String,
    pub(crate) task: TaskSpec,
    /// The parameters passed to the task, sorted by name.
    pub(crate) params: Vec<(String, ParamValue)>,
    /// Every parameter value, for an input that reads a parameter.
    pub(crate) values: Arc<BTreeMap<String, ParamValue>>,
    /// The outputs of the tasks this task reads from.
    pub(crate) upstream: HashMap<String, Arc<Vec<u8>>>,
    pub(crate) component: Result<ComponentRef, String>,
    pub(crate) dispatcher: Arc<dyn Dispatcher>,
    pub(crate) cache: Arc<dyn OutputCache>,
    pub(crate) runs: Arc<dyn RunStore>,
    pub(crate) read_cache: bool,
    pub(crate) cancel: CancellationToken,
    pub(crate) observer: Arc<dyn RunObserver>,
    /// Permits for attempts that run at the same time, shared by the run.
    pub(crate) semaphore: Arc<Semaphore>,
    /// A permit of `semaphore` that the executor acquired for this task, in
    /// the order tasks became ready; a mapped task takes one per element
    /// instead.
    pub(crate) permit: Option<tokio::sync::OwnedSemaphorePermit>,
    /// Set before `cancel` is cancelled when the flow's timeout is the cause.
    pub(crate) timed_out: Arc<AtomicBool>,
}

/// The result of running one input: the last attempt's result and the
/// record of every attempt.
struct Execution {
    result: TaskResult,
    attempts: Vec<AttemptRecord>,
    logs: Vec<LogLine>,
    /// The time the attempts ran, without retry delays and compilation.
    run_time: Duration,
    cache_hit: bool,
    /// The cache key of the input, when the task's output is cached.
    key: Option<CacheKey>,
}

impl TaskRun {
    pub(crate) async fn run(mut self) -> Finished {
        let started_at_ms = now_ms();
        let permit = self.permit.take();
        let input = match inputs::assemble(&self.task.input, &self.values, &self.upstream).await {
            Ok(input) => input,
            Err(reason) => return self.failed_before_start(TaskFailure::Input { reason }, started_at_ms),
        };
        let component = match self.component.clone() {
            Ok(component) => component,
            Err(reason) => return self.failed_before_start(TaskFailure::InvalidComponent { reason }, started_at_ms),
        };
        let this = Arc::new(self);

        if let InputSpec::Map(upstream) = &this.task.input {
            let upstream = upstream.clone();
            return this.run_map(&upstream, input, component, started_at_ms).await;
        }
        let execution = {
            let _permit = match permit {
                Some(permit) => permit,
                None => this.semaphore.clone().acquire_owned().await.expect("the semaphore is never closed"),
            };
            this.execute(component, input, None).await
        };
        this.finished(execution, started_at_ms)
    }

    /// Looks `input` up in the cache, or runs attempts until one succeeds,
    /// the failure is not retryable, or the attempts run out. `element` is
    /// the element index of a mapped task.
    async fn execute(&self, component: ComponentRef, input: Arc<Vec<u8>>, element: Option<u64>) -> Execution {
        let key = CacheKey::new(&component.hash, &self.flow, &self.task.id, &self.params, &input);
        if self.task.cache.enabled && self.read_cache {
            match self.cache.get(&key, self.task.cache.ttl) {
                Ok(Some(output)) => {
                    tracing::debug!(key = %key, "output cache hit");
                    return Execution {
                        result: TaskResult::stored(output),
                        attempts: Vec::new(),
                        logs: Vec::new(),
                        run_time: Duration::ZERO,
                        cache_hit: true,
                        key: Some(key),
                    };
                }
                Ok(None) => tracing::debug!(key = %key, "output cache miss"),
                Err(error) => {
                    tracing::warn!(error = %format!("{error:#}"), "output cache read failed; running the task")
                }
            }
        }

        // An attempt that got its permit after the run was cancelled must
        // not start.
        if self.cancel.is_cancelled() {
            return Execution {
                result: TaskResult::failed_before_start(TaskFailure::Cancelled, None),
                attempts: Vec::new(),
                logs: Vec::new(),
                run_time: Duration::ZERO,
                cache_hit: false,
                key: None,
            };
        }

        let name = match element {
            Some(index) => format!("{}[{index}]", self.task.id),
            None => self.task.id.clone(),
        };
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
            // At error level for the same reason as the `flow_run` span.
            let span = tracing::error_span!("task_attempt", run_id = %self.run_id, task = %name, attempt);
            span.in_scope(|| tracing::debug!("attempt started"));
            let observer = self.observer.clone();
            let task_name = name.clone();
            let live: LiveLog = Arc::new(move |line: LogLine| observer.task_log(&task_name, &line));
            let result =
                self.dispatcher.dispatch(request, self.cancel.clone(), Some(live)).instrument(span.clone()).await;
            run_time += result.duration;

            let mut record = AttemptRecord {
                attempt,
                state: state_of(&result.output),
                started_at_ms: attempt_started_ms,
                ended_at_ms: now_ms(),
                fuel_used: result.fuel_used,
                peak_memory_bytes: result.peak_memory_bytes,
                error: result.output.as_ref().err().map(|failure| failure.describe(&name)),
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
                tracing::info!(error = %failure, delay_ms = delay.as_millis() as u64, "attempt failed; retrying");
            });
            self.observer.task_retrying(&name, &record, &result.logs);
            attempts.push(record);
            logs.extend(result.logs);

            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = self.cancel.cancelled() => {
                    break TaskResult::failed_before_start(TaskFailure::Cancelled, None);
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
        let key = self.task.cache.enabled.then_some(key);
        Execution { result, attempts, logs, run_time, cache_hit: false, key }
    }

    /// Runs the task once per element of the upstream array `input`, at most
    /// as many at a time as the run allows, and collects the outputs in order.
    async fn run_map(
        self: Arc<Self>,
        upstream: &str,
        input: Arc<Vec<u8>>,
        component: ComponentRef,
        started_at_ms: u64,
    ) -> Finished {
        let elements = match element_ranges(&input) {
            Ok(elements) => elements,
            Err(reason) => {
                let reason = format!("the output of task `{upstream}` cannot be mapped over: {reason}");
                return self.failed_before_start(TaskFailure::Input { reason }, started_at_ms);
            }
        };
        let count = elements.len();
        let mut outputs: Vec<Option<Vec<u8>>> = vec![None; count];
        let mut batch: Vec<(ElementRecord, Vec<LogLine>)> = Vec::new();
        let mut summary = MapSummary::default();
        let mut running = JoinSet::new();
        let mut next = 0;

        while (next < count && !self.cancel.is_cancelled()) || !running.is_empty() {
            // Start elements while permits are free, keeping the number of
            // waiting futures small however long the array is. Nothing new
            // starts once the run is cancelled.
            while next < count
                && !self.cancel.is_cancelled()
                && running.len() < self.semaphore.available_permits().max(1) * 2
            {
                let this = self.clone();
                let component = component.clone();
                let range = elements[next].clone();
                let element_input = Arc::new(input[range].to_vec());
                let index = next as u64;
                running.spawn(async move {
                    let _permit = this.semaphore.clone().acquire_owned().await.expect("the semaphore is never closed");
                    (index, this.execute(component, element_input, Some(index)).await)
                });
                next += 1;
            }

            let Some(joined) = running.join_next().await else { break };
            let (index, execution) = match joined {
                Ok(finished) => finished,
                Err(error) => {
                    tracing::error!(task = %self.task.id, %error, "an element's host future panicked");
                    summary.failed += 1;
                    continue;
                }
            };
            let (record, output) = summary.add(index, execution, &self.task.id);
            outputs[index as usize] = output;
            batch.push(record);
            if batch.len() >= ELEMENT_BATCH {
                self.flush_elements(&mut batch);
            }
        }
        self.flush_elements(&mut batch);
        self.finish_map(summary, outputs, count, started_at_ms)
    }

    fn flush_elements(&self, batch: &mut Vec<(ElementRecord, Vec<LogLine>)>) {
        if batch.is_empty() {
            return;
        }
        if let Err(error) = self.runs.put_elements(&self.run_id, &self.task.id, batch) {
            tracing::error!(task = %self.task.id, error = %format!("{error:#}"), "failed to record element runs");
        }
        batch.clear();
    }

    fn finish_map(
        &self,
        summary: MapSummary,
        outputs: Vec<Option<Vec<u8>>>,
        count: usize,
        started_at_ms: u64,
    ) -> Finished {
        let all_cached = count > 0 && summary.cache_hits == count;
        let (state, output, error) = if summary.failed == 0 && !self.cancel.is_cancelled() {
            let mut collected =
                Vec::with_capacity(outputs.iter().flatten().map(|output| output.len() + 1).sum::<usize>() + 2);
            collected.push(b'[');
            for (index, output) in outputs.into_iter().enumerate() {
                if index > 0 {
                    collected.push(b',');
                }
                collected.extend(output.expect("every element completed"));
            }
            collected.push(b']');
            let state = if all_cached { TaskState::Cached } else { TaskState::Completed };
            (state, Some(Arc::new(collected)), None)
        } else if self.cancel.is_cancelled() {
            let message = format!("task `{}` stopped because {}", self.task.id, self.stop_reason());
            (TaskState::Cancelled, None, Some(message))
        } else {
            let first = summary.first_error.map(|(_, error)| error).unwrap_or_default();
            let message = format!(
                "task `{}` failed for {} of {count} elements; the first: {first}",
                self.task.id, summary.failed
            );
            (TaskState::Failed, None, Some(message))
        };
        let attempts = vec![AttemptRecord {
            attempt: 1,
            state,
            started_at_ms,
            ended_at_ms: now_ms(),
            fuel_used: summary.fuel_used,
            peak_memory_bytes: summary.peak_memory_bytes,
            error: error.clone(),
            retry_delay_ms: None,
        }];
        let report = TaskReport {
            id: self.task.id.clone(),
            state,
            attempts: summary.attempts,
            elements: Some(count as u64),
            duration: summary.run_time,
            fuel_used: summary.fuel_used,
            peak_memory_bytes: summary.peak_memory_bytes,
            cache_hit: all_cached,
            error,
            detail: None,
        };
        Finished { report, output, logs: Vec::new(), attempts, started_at_ms, output_key: None }
    }

    fn finished(&self, execution: Execution, started_at_ms: u64) -> Finished {
        let Execution { result, attempts, mut logs, run_time, cache_hit, key } = execution;
        let output_key = key.filter(|_| result.output.is_ok());
        let TaskResult { output, logs: last_logs, detail, .. } = result;
        logs.extend(last_logs);
        let state = if cache_hit { TaskState::Cached } else { state_of(&output) };
        let (output, error) = match output {
            Ok(output) => (Some(Arc::new(output)), None),
            Err(TaskFailure::Cancelled) => {
                (None, Some(format!("task `{}` stopped because {}", self.task.id, self.stop_reason())))
            }
            Err(failure) => {
                tracing::debug!(task = %self.task.id, error = %failure, "task failed");
                (None, Some(failure.describe(&self.task.id)))
            }
        };
        let report = TaskReport {
            id: self.task.id.clone(),
            state,
            attempts: attempts.len() as u32,
            elements: None,
            duration: run_time,
            fuel_used: attempts.iter().map(|attempt| attempt.fuel_used).sum(),
            peak_memory_bytes: attempts.iter().map(|attempt| attempt.peak_memory_bytes).max().unwrap_or(0),
            cache_hit,
            error,
            detail,
        };
        Finished { report, output, logs, attempts, started_at_ms, output_key }
    }

    /// Returns why the run stopped, for the messages of cancelled tasks.
    fn stop_reason(&self) -> &'static str {
        stop_reason(self.timed_out.load(Ordering::Relaxed))
    }

    fn failed_before_start(&self, failure: TaskFailure, started_at_ms: u64) -> Finished {
        let execution = Execution {
            result: TaskResult::failed_before_start(failure, None),
            attempts: Vec::new(),
            logs: Vec::new(),
            run_time: Duration::ZERO,
            cache_hit: false,
            key: None,
        };
        self.finished(execution, started_at_ms)
    }
}

/// Running totals of a mapped task's elements.
#[derive(Default)]
struct MapSummary {
    failed: usize,
    cache_hits: usize,
    attempts: u32,
    fuel_used: u64,
    peak_memory_bytes: u64,
    run_time: Duration,
    /// The error of the failed element with the lowest index.
    first_error: Option<(u64, String)>,
}

impl MapSummary {
    /// Adds one finished element and returns its record and, when it
    /// completed, its output. An output that is not JSON fails the element,
    /// because the collected output is a JSON array.
    fn add(
        &mut self,
        index: u64,
        execution: Execution,
        task: &str,
    ) -> ((ElementRecord, Vec<LogLine>), Option<Vec<u8>>) {
        let Execution { result, attempts, mut logs, run_time, cache_hit, .. } = execution;
        logs.extend(result.logs);
        let mut state = if cache_hit { TaskState::Cached } else { state_of(&result.output) };
        let (output, mut error) = match result.output {
            Ok(output) => (Some(output), None),
            Err(failure) => (None, Some(failure.describe(&format!("{task}[{index}]")))),
        };
        let output = output.filter(|output| {
            let valid = serde_json::from_slice::<&serde_json::value::RawValue>(output).is_ok();
            if !valid {
                state = TaskState::Failed;
                error = Some(format!(
                    "task `{task}[{index}]` returned an output that is not JSON, which a mapped task must return"
                ));
            }
            valid
        });

        let fuel_used: u64 = attempts.iter().map(|attempt| attempt.fuel_used).sum();
        self.cache_hits += usize::from(cache_hit);
        self.attempts += attempts.len() as u32;
        self.fuel_used += fuel_used;
        self.peak_memory_bytes =
            self.peak_memory_bytes.max(attempts.iter().map(|attempt| attempt.peak_memory_bytes).max().unwrap_or(0));
        self.run_time += run_time;
        if output.is_none() {
            self.failed += 1;
            if self.first_error.as_ref().is_none_or(|(first, _)| index < *first) {
                self.first_error = error.clone().map(|error| (index, error));
            }
        }
        let record = ElementRecord {
            index,
            state,
            attempts: attempts.len() as u32,
            cache_hit,
            fuel_used,
            duration_ms: run_time.as_secs_f64() * 1000.0,
            error,
        };
        ((record, logs), output)
    }
}

/// Why a run stopped early, for messages: its flow timed out, or it was
/// cancelled.
pub(crate) fn stop_reason(timed_out: bool) -> &'static str {
    if timed_out { "the flow timed out" } else { "the run was cancelled" }
}

/// Returns the byte ranges of the elements of the JSON array `bytes`, without
/// copying them.
fn element_ranges(bytes: &[u8]) -> Result<Vec<std::ops::Range<usize>>, String> {
    let elements: Vec<&serde_json::value::RawValue> =
        serde_json::from_slice(bytes).map_err(|error| format!("it is not a JSON array ({error})"))?;
    let base = bytes.as_ptr() as usize;
    Ok(elements
        .into_iter()
        .map(|element| {
            let start = element.get().as_ptr() as usize - base;
            start..start + element.get().len()
        })
        .collect())
}

/// Returns the final state of a task whose last attempt ended with `output`.
fn state_of(output: &Result<Vec<u8>, TaskFailure>) -> TaskState {
    match output {
        Ok(_) => TaskState::Completed,
        Err(TaskFailure::Timeout { .. }) => TaskState::TimedOut,
        Err(TaskFailure::Cancelled) => TaskState::Cancelled,
        Err(_) => TaskState::Failed,
    }
}

/// Builds the result of a task that did not run, because an upstream task did not complete or
/// because the run was cancelled first.
pub(crate) fn not_run(task: &TaskSpec, state: TaskState, error: String) -> Finished {
    let report = TaskReport {
        id: task.id.clone(),
        state,
        attempts: 0,
        elements: None,
        duration: Duration::ZERO,
        fuel_used: 0,
        peak_memory_bytes: 0,
        cache_hit: false,
        error: Some(error),
        detail: None,
    };
    Finished { report, output: None, logs: Vec::new(), attempts: Vec::new(), started_at_ms: now_ms(), output_key: None }
}

#[cfg(test)]
mod tests {
    use super::element_ranges;

    #[test]
    fn element_ranges_point_into_the_array() {
        let bytes = br#"[1, {"a": [2, 3]}, "x"]"#;
        let ranges = element_ranges(bytes).unwrap();
        let elements: Vec<&[u8]> = ranges.into_iter().map(|range| &bytes[range]).collect();
        assert_eq!(elements, [&b"1"[..], br#"{"a": [2, 3]}"#, br#""x""#]);
        assert!(element_ranges(b"{}").unwrap_err().starts_with("it is not a JSON array"));
    }
}

/// Builds the result of a task whose output a resumed run takes from the run it resumes.
pub(crate) fn reused(task: &TaskSpec, output: Arc<Vec<u8>>) -> Finished {
    let report = TaskReport {
        id: task.id.clone(),
        state: TaskState::Cached,
        attempts: 0,
        elements: None,
        duration: Duration::ZERO,
        fuel_used: 0,
        peak_memory_bytes: 0,
        cache_hit: true,
        error: None,
        detail: None,
    };
    Finished {
        report,
        output: Some(output),
        logs: Vec::new(),
        attempts: Vec::new(),
        started_at_ms: now_ms(),
        output_key: None,
    }
}

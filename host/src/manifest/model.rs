//! A validated flow, ready to run: paths are absolute, parameters have their
//! values, and tasks are in an order where each comes after its inputs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::params::{ParamSpec, ParamValue};

/// A validated flow with its parameter values bound.
#[derive(Debug, Clone)]
pub struct Flow {
    pub name: String,
    pub description: Option<String>,
    /// The maximum duration of the whole run; `None` for no limit.
    pub timeout: Option<Duration>,
    /// The number of tasks that may run at the same time, if the manifest
    /// sets it.
    pub max_parallel: Option<usize>,
    /// The manifest file, absolute.
    pub manifest_path: PathBuf,
    /// The blake3 hash of the manifest file's bytes, in hex.
    pub manifest_hash: String,
    /// The declared parameters, by name.
    pub params: BTreeMap<String, ParamSpec>,
    /// The value of every parameter, after defaults and overrides.
    pub values: BTreeMap<String, ParamValue>,
    /// The tasks, each after every task it reads from.
    pub tasks: Vec<TaskSpec>,
    pub outputs: Vec<OutputSpec>,
}

impl Flow {
    /// The task with id `id`.
    pub fn task(&self, id: &str) -> Option<&TaskSpec> {
        self.tasks.iter().find(|task| task.id == id)
    }
}

/// One task of a flow.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSpec {
    pub id: String,
    /// The component file, absolute.
    pub component: PathBuf,
    pub input: InputSpec,
    /// The parameters passed to the task, sorted by name.
    pub params: Vec<String>,
    pub limits: Limits,
    pub cache: CachePolicy,
    pub retry: RetryPolicy,
}

impl TaskSpec {
    /// The ids of the tasks this task reads from, in manifest order.
    pub fn upstream(&self) -> &[String] {
        match &self.input {
            InputSpec::Task(id) | InputSpec::Map(id) => std::slice::from_ref(id),
            InputSpec::Tasks(ids) => ids,
            InputSpec::None | InputSpec::File(_) | InputSpec::Param(_) => &[],
        }
    }
}

/// The source of a task's input bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputSpec {
    /// No input: the task receives zero bytes.
    None,
    /// The contents of a file, absolute.
    File(PathBuf),
    /// The JSON encoding of a parameter's value.
    Param(String),
    /// The output of one upstream task.
    Task(String),
    /// A JSON object of upstream outputs keyed by task id.
    Tasks(Vec<String>),
    /// One run per element of the upstream output, a JSON array; the task's
    /// output is the JSON array of the element outputs, in order.
    Map(String),
}

/// The sandbox limits of one task attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Fuel units the task may consume; `None` for no limit.
    pub fuel: Option<u64>,
    /// The maximum size of the task's linear memory, in bytes.
    pub memory_bytes: u64,
    /// The maximum wall-clock duration of one attempt; `None` for no limit.
    pub timeout: Option<Duration>,
}

/// Whether and how long a task's output is reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    pub enabled: bool,
    /// How long a stored output stays valid; `None` for no expiry.
    pub ttl: Option<Duration>,
}

/// One file the flow writes from a task's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputSpec {
    pub task: String,
    /// An RFC 6901 JSON pointer into the task's output, if only part is written.
    pub pointer: Option<String>,
    /// The file to write, absolute.
    pub path: PathBuf,
}

/// When and how often a failed task is run again.
///
/// Only failures that a retry could help are retried: the task's own error
/// marked retryable, a trap and a timeout. The delay before attempt `n + 1`
/// is `min(max_delay, delay * backoff^(n - 1))`, multiplied by a factor drawn
/// uniformly from `[1 - jitter, 1 + jitter]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, at least 1; 1 means no retry.
    pub max_attempts: u32,
    /// The delay before the second attempt, before backoff and jitter.
    pub delay: Duration,
    /// The factor by which the delay grows after each attempt, at least 1.
    pub backoff: f64,
    /// The largest delay before jitter.
    pub max_delay: Duration,
    /// The fraction, from 0 to 1, by which jitter may shorten or lengthen a delay.
    pub jitter: f64,
}

impl RetryPolicy {
    /// No retry: a task runs once.
    pub const NONE: RetryPolicy = RetryPolicy {
        max_attempts: 1,
        delay: Duration::from_secs(1),
        backoff: 2.0,
        max_delay: Duration::from_secs(300),
        jitter: 0.2,
    };

    /// Computes the delay before retrying after failed attempt `attempt` (from 1),
    /// before jitter.
    pub fn base_delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(1024) as i32;
        let seconds = self.delay.as_secs_f64() * self.backoff.powi(exponent);
        let capped = seconds.min(self.max_delay.as_secs_f64());
        Duration::from_secs_f64(capped.max(0.0))
    }

    /// Computes the delay before retrying after failed attempt `attempt`, with jitter
    /// from `unit`, a number drawn uniformly from `[0, 1)`.
    pub fn delay_with_jitter(&self, attempt: u32, unit: f64) -> Duration {
        let factor = 1.0 - self.jitter + 2.0 * self.jitter * unit.clamp(0.0, 1.0);
        self.base_delay(attempt).mul_f64(factor.max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            delay: Duration::from_millis(100),
            backoff: 2.0,
            max_delay: Duration::from_millis(300),
            jitter: 0.5,
        }
    }

    #[test]
    fn base_delay_grows_and_caps() {
        let policy = policy();
        assert_eq!(policy.base_delay(1), Duration::from_millis(100));
        assert_eq!(policy.base_delay(2), Duration::from_millis(200));
        assert_eq!(policy.base_delay(3), Duration::from_millis(300));
        assert_eq!(policy.base_delay(40), Duration::from_millis(300));
    }

    #[test]
    fn jitter_spans_documented_bounds() {
        let policy = policy();
        assert_eq!(policy.delay_with_jitter(1, 0.0), Duration::from_millis(50));
        assert_eq!(policy.delay_with_jitter(1, 0.5), Duration::from_millis(100));
        assert_eq!(policy.delay_with_jitter(1, 1.0), Duration::from_millis(150));
    }
}

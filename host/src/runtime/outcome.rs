//! The outcome of one task attempt: its output or the reason it failed, and
//! what it consumed.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::manifest::display_bytes;

/// The cause of a failed task attempt. Each cause has its own message, and none of
/// them is a fault of the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskFailure {
    /// The task returned its own error.
    Task { message: String, retryable: bool },
    /// The task used all of its fuel.
    OutOfFuel { limit: u64 },
    /// The task asked for more linear memory than its limit.
    MemoryLimit { limit_bytes: u64 },
    /// The attempt ran longer than its timeout, by the wall clock.
    Timeout { limit: Duration },
    /// The run was cancelled while the attempt was running.
    Cancelled,
    /// The task panicked; `message` is the panic message from its stderr.
    Panic { message: String },
    /// The task trapped, for example on an out-of-bounds access.
    Trap { reason: String },
    /// The task called `exit` (C's `exit`, Python's `sys.exit`) instead of
    /// returning.
    Exited { status: i32 },
    /// The component file is not a loadable component.
    InvalidComponent { reason: String },
    /// The component does not fit the task world or its imports are missing.
    Instantiation { reason: String },
    /// The task's input could not be assembled.
    Input { reason: String },
}

impl TaskFailure {
    /// Whether running the task again could succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            TaskFailure::Task { retryable, .. } => *retryable,
            TaskFailure::Panic { .. } | TaskFailure::Trap { .. } | TaskFailure::Timeout { .. } => true,
            TaskFailure::OutOfFuel { .. }
            | TaskFailure::MemoryLimit { .. }
            | TaskFailure::Cancelled
            | TaskFailure::Exited { .. }
            | TaskFailure::InvalidComponent { .. }
            | TaskFailure::Instantiation { .. }
            | TaskFailure::Input { .. } => false,
        }
    }

    /// Returns the message for the user, naming the task: "task `clean` ran out of fuel".
    pub fn describe(&self, task: &str) -> String {
        format!("task `{task}` {self}")
    }
}

impl fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskFailure::Task { message, .. } if message.trim().is_empty() => {
                write!(f, "failed with an empty error message")
            }
            TaskFailure::Task { message, .. } => write!(f, "failed: {message}"),
            TaskFailure::OutOfFuel { limit } => {
                write!(f, "ran out of fuel after {limit} units; raise its `fuel` limit if the work is expected")
            }
            TaskFailure::MemoryLimit { limit_bytes } => {
                write!(f, "exceeded its memory limit of {}", display_bytes(*limit_bytes))
            }
            TaskFailure::Timeout { limit } => {
                write!(f, "timed out after {}", humantime::format_duration(*limit))
            }
            TaskFailure::Cancelled => write!(f, "was cancelled"),
            TaskFailure::Panic { message } => write!(f, "panicked: {message}"),
            TaskFailure::Trap { reason } => write!(f, "trapped: {reason}"),
            TaskFailure::Exited { status } => write!(
                f,
                "exited with status {status} instead of returning its output; return an error from the task \
                 function rather than calling exit"
            ),
            TaskFailure::InvalidComponent { reason } => write!(f, "has an invalid component: {reason}"),
            TaskFailure::Instantiation { reason } => write!(f, "could not be instantiated: {reason}"),
            TaskFailure::Input { reason } => write!(f, "could not get its input: {reason}"),
        }
    }
}

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        };
        f.write_str(name)
    }
}

/// The origin of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogStream {
    /// The `log` import of the task world.
    Log,
    Stdout,
    Stderr,
}

/// One line of a task's run log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// The attempt that wrote the line, from 1.
    pub attempt: u32,
    pub level: LogLevel,
    pub stream: LogStream,
    pub message: String,
}

impl LogLine {
    /// Names where the line came from for display: its level for a `log`
    /// line, else `stdout` or `stderr`.
    pub fn source(&self) -> String {
        match self.stream {
            LogStream::Log => self.level.to_string(),
            LogStream::Stdout => "stdout".to_string(),
            LogStream::Stderr => "stderr".to_string(),
        }
    }
}

/// The result of one task attempt.
#[derive(Debug, Clone)]
pub struct TaskResult {
    pub output: Result<Vec<u8>, TaskFailure>,
    /// Fuel consumed, zero when the component never started.
    pub fuel_used: u64,
    /// The largest linear memory the task asked for, in bytes.
    pub peak_memory_bytes: u64,
    pub logs: Vec<LogLine>,
    /// Time from the start of instantiation to the end of the call.
    pub duration: Duration,
    /// The raw error chain and wasm backtrace of a failure, for `--verbose`.
    pub detail: Option<String>,
}

impl TaskResult {
    /// Builds the result of an output reused from the cache, with nothing consumed.
    pub fn stored(output: Vec<u8>) -> Self {
        TaskResult {
            output: Ok(output),
            fuel_used: 0,
            peak_memory_bytes: 0,
            logs: Vec::new(),
            duration: Duration::ZERO,
            detail: None,
        }
    }

    /// Builds the result of a failure that happened before the component started.
    pub fn failed_before_start(failure: TaskFailure, detail: Option<String>) -> Self {
        TaskResult {
            output: Err(failure),
            fuel_used: 0,
            peak_memory_bytes: 0,
            logs: Vec::new(),
            duration: Duration::ZERO,
            detail,
        }
    }
}

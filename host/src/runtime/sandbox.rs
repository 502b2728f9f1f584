//! The per-attempt store data: the WASI context a task may reach, its memory
//! limiter, and the log it writes.
//!
//! Each attempt gets a fresh `TaskState` in a fresh store. The WASI context
//! grants stdout and stderr (captured), clocks and random numbers. No
//! directory is preopened, the environment and arguments are empty, stdin is
//! empty, and the socket address check denies every address.

use std::time::{SystemTime, UNIX_EPOCH};

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::{Level, wflow};
use std::sync::Arc;

use super::LiveLog;
use super::capture::{CapturedOutput, LineCallback};
use super::outcome::{LogLevel, LogLine, LogStream};

/// Bytes of stdout, and separately of stderr, kept per attempt.
pub(crate) const CAPTURE_BYTES: usize = 1024 * 1024;

/// Bytes of `log` messages kept per attempt, counting [`LOG_LINE_OVERHEAD`]
/// for each line so that empty lines are bounded too.
pub(crate) const LOG_BYTES: usize = 1024 * 1024;

/// The bytes a log line costs besides its message, an estimate of its record.
const LOG_LINE_OVERHEAD: usize = 64;

/// Table elements a task may grow a table to.
const MAX_TABLE_ELEMENTS: usize = 1_000_000;

/// The error a refused memory growth raises, so that the failure can be
/// distinguished from other traps.
#[derive(Debug)]
pub(crate) struct MemoryLimitExceeded {
    pub(crate) limit_bytes: u64,
    pub(crate) requested_bytes: u64,
}

impl std::fmt::Display for MemoryLimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "memory growth to {} bytes exceeds the limit of {} bytes", self.requested_bytes, self.limit_bytes)
    }
}

impl std::error::Error for MemoryLimitExceeded {}

/// The error an epoch check raises to stop an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AttemptInterrupted {
    TimedOut,
    Cancelled,
}

impl AttemptInterrupted {
    pub(crate) fn into_failure(self, limits: crate::manifest::Limits) -> super::TaskFailure {
        match self {
            AttemptInterrupted::TimedOut => super::TaskFailure::Timeout { limit: limits.timeout.unwrap_or_default() },
            AttemptInterrupted::Cancelled => super::TaskFailure::Cancelled,
        }
    }
}

impl std::fmt::Display for AttemptInterrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttemptInterrupted::TimedOut => f.write_str("the attempt timed out"),
            AttemptInterrupted::Cancelled => f.write_str("the attempt was cancelled"),
        }
    }
}

impl std::error::Error for AttemptInterrupted {}

pub(crate) struct TaskState {
    wasi: WasiCtx,
    table: ResourceTable,
    memory_limit_bytes: u64,
    /// The size of all linear memories together.
    memory_bytes: u64,
    pub(crate) peak_memory_bytes: u64,
    pub(crate) memory_limit_hit: bool,
    pub(crate) stdout: CapturedOutput,
    pub(crate) stderr: CapturedOutput,
    pub(crate) logs: Vec<LogLine>,
    log_bytes: usize,
    pub(crate) logs_dropped: u64,
    pub(crate) attempt: u32,
    live: Option<LiveLog>,
}

impl TaskState {
    pub(crate) fn new(memory_limit_bytes: u64, attempt: u32, live: Option<LiveLog>) -> Self {
        let stream_callback = |stream: LogStream, level: LogLevel| -> Option<LineCallback> {
            let live = live.clone()?;
            Some(Arc::new(move |line: &str| {
                live(LogLine { timestamp_ms: now_ms(), attempt, level, stream, message: line.to_string() });
            }))
        };
        let stdout = CapturedOutput::new(CAPTURE_BYTES, stream_callback(LogStream::Stdout, LogLevel::Info));
        let stderr = CapturedOutput::new(CAPTURE_BYTES, stream_callback(LogStream::Stderr, LogLevel::Warn));
        let mut builder = WasiCtxBuilder::new();
        builder
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }));
        TaskState {
            wasi: builder.build(),
            table: ResourceTable::new(),
            memory_limit_bytes,
            memory_bytes: 0,
            peak_memory_bytes: 0,
            memory_limit_hit: false,
            stdout,
            stderr,
            logs: Vec::new(),
            log_bytes: 0,
            logs_dropped: 0,
            attempt,
            live,
        }
    }
}

impl WasiView for TaskState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl ResourceLimiter for TaskState {
    /// Allows a growth while the linear memories of the attempt together
    /// stay within the limit: a component may have several memories.
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let total = self.memory_bytes + (desired.saturating_sub(current)) as u64;
        if total > self.memory_limit_bytes {
            self.memory_limit_hit = true;
            return Err(MemoryLimitExceeded { limit_bytes: self.memory_limit_bytes, requested_bytes: total }.into());
        }
        self.memory_bytes = total;
        self.peak_memory_bytes = self.peak_memory_bytes.max(total);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

impl wflow::task::types::Host for TaskState {}

impl wflow::task::log::Host for TaskState {
    fn log(&mut self, level: Level, message: String) {
        let cost = message.len() + LOG_LINE_OVERHEAD;
        if self.log_bytes + cost > LOG_BYTES {
            self.logs_dropped += 1;
            return;
        }
        self.log_bytes += cost;
        let level = match level {
            Level::Trace => LogLevel::Trace,
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        };
        let line = LogLine { timestamp_ms: now_ms(), attempt: self.attempt, level, stream: LogStream::Log, message };
        if let Some(live) = &self.live {
            live(line.clone());
        }
        self.logs.push(line);
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as u64)
}

//! The engine that runs one task attempt in its own sandbox.
//!
//! A [`Runtime`] owns the wasmtime engine, the linker with the imports a task
//! may use, and the compiled components. A component is compiled, or loaded
//! from the artifact folder, once per process and pre-instantiated once.
//! Each attempt then gets a fresh store with its own fuel and memory limits,
//! so nothing leaks from one attempt to the next.

mod artifacts;
mod bindings;
mod capture;
mod outcome;
mod pool;
mod sandbox;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use tokio_util::sync::CancellationToken;
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, Store, Trap, UpdateDeadline};

pub use artifacts::ArtifactSource;
pub use outcome::{LogLevel, LogLine, LogStream, TaskFailure, TaskResult};

pub(crate) use sandbox::now_ms;

use bindings::{Task, TaskPre};
use sandbox::{AttemptInterrupted, MemoryLimitExceeded, TaskState};

/// Receives each log line of an attempt as it is written, for live display.
/// Lines past the caps are not sent.
pub type LiveLog = Arc<dyn Fn(LogLine) + Send + Sync>;

/// The period of the epoch clock. A busy attempt notices a timeout or a
/// cancellation within about one period.
const EPOCH_PERIOD: Duration = Duration::from_millis(10);

/// Fuel between two yields of a running guest to the async runtime, so that
/// a busy task shares its worker thread with timers, signals and other
/// tasks: about a millisecond of guest work at most.
const FUEL_YIELD_INTERVAL: u64 = 1_000_000;

use crate::manifest::{Limits, ParamValue};

/// The run information passed to a task.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskContext {
    pub flow: String,
    pub task: String,
    pub run_id: String,
    pub attempt: u32,
    /// The parameters passed to the task, sorted by name.
    pub params: Vec<(String, ParamValue)>,
}

/// A compiled and pre-linked component, ready to instantiate.
pub struct LoadedComponent {
    pre: TaskPre<TaskState>,
    source: ArtifactSource,
    /// Slot permits an attempt of this component holds.
    permits: u32,
}

impl LoadedComponent {
    /// Whether the component was compiled now or loaded from disk.
    pub fn source(&self) -> ArtifactSource {
        self.source
    }

    /// Returns the number of pool slots that one attempt of this component
    /// takes: 1 for most, more for a component with many core instances,
    /// memories or tables.
    pub fn pool_permits(&self) -> u32 {
        self.permits
    }
}

type LoadSlot = Arc<OnceLock<Result<Arc<LoadedComponent>, TaskFailure>>>;

/// The wasmtime engine with its linker and compiled components.
pub struct Runtime {
    engine: Engine,
    linker: Linker<TaskState>,
    artifacts: artifacts::ArtifactStore,
    loaded: Mutex<HashMap<String, LoadSlot>>,
    instantiations: AtomicU64,
    /// Attempts started and not yet ended, waiting for a slot or running.
    active: AtomicUsize,
    /// With the pooling allocator, one permit per component slot. An attempt
    /// takes as many as its component needs (see `pool`), and waits for them
    /// instead of failing to instantiate.
    slots: Option<tokio::sync::Semaphore>,
}

impl Runtime {
    /// Creates a runtime that keeps compiled components in `artifact_dir`.
    pub fn new(artifact_dir: PathBuf) -> Result<Self> {
        // Fuel and epoch settings are compiled into the code, and so into the
        // engine hash that names stored artifacts.
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.consume_fuel(true);
        config.epoch_interruption(true);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool::pooling_config()));
        // The pool reserves address space for all its slots up front. Where
        // that is short (a ulimit -v, some emulators), instances are
        // allocated on demand instead.
        let (engine, slots) = match Engine::new(&config) {
            Ok(engine) => (engine, Some(tokio::sync::Semaphore::new(pool::POOL_INSTANCES as usize))),
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "the pooling allocator is unavailable; allocating each instance on demand");
                config.allocation_strategy(InstanceAllocationStrategy::OnDemand);
                let engine = Engine::new(&config)
                    .map_err(anyhow::Error::from)
                    .context("failed to create the wasmtime engine")?;
                (engine, None)
            }
        };
        start_epoch_clock(&engine);

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(anyhow::Error::from)
            .context("failed to link WASI")?;
        Task::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
            .map_err(anyhow::Error::from)
            .context("failed to link the task world")?;

        let artifacts = artifacts::ArtifactStore::new(artifact_dir, &engine);
        Ok(Runtime {
            engine,
            linker,
            artifacts,
            loaded: Mutex::default(),
            instantiations: AtomicU64::new(0),
            active: AtomicUsize::new(0),
            slots,
        })
    }

    /// How many task instances this runtime has created.
    pub fn instantiation_count(&self) -> u64 {
        self.instantiations.load(Ordering::Relaxed)
    }

    /// Returns the number of attempts that have started and not ended yet,
    /// counting those that wait for a free slot.
    pub fn active_attempts(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    /// Returns the component with content hash `hash` when this runtime has
    /// already compiled or loaded it.
    pub fn loaded(&self, hash: &str) -> Option<Arc<LoadedComponent>> {
        let loaded = self.loaded.lock().expect("component map lock is never poisoned");
        loaded.get(hash).and_then(|slot| slot.get()).and_then(|result| result.as_ref().ok()).cloned()
    }

    /// Compiles or loads the component with content hash `hash`, once per
    /// process: concurrent callers for the same hash wait for the first.
    pub fn load(&self, hash: &str, bytes: &[u8]) -> Result<Arc<LoadedComponent>, TaskFailure> {
        let slot = {
            let mut loaded = self.loaded.lock().expect("component map lock is never poisoned");
            loaded.entry(hash.to_string()).or_default().clone()
        };
        slot.get_or_init(|| self.compile(hash, bytes).map(Arc::new)).clone()
    }

    fn compile(&self, hash: &str, bytes: &[u8]) -> Result<LoadedComponent, TaskFailure> {
        if let Some(reason) = component_header_problem(bytes) {
            return Err(TaskFailure::InvalidComponent { reason });
        }
        let (component, source) = self
            .artifacts
            .load(&self.engine, bytes, hash)
            .map_err(|error| TaskFailure::InvalidComponent { reason: format!("{error:#}") })?;
        let needs = pool::PoolNeeds::of(&component, bytes);
        if self.slots.is_some() {
            needs.check().map_err(|reason| TaskFailure::Instantiation { reason })?;
        }
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|error| TaskFailure::Instantiation { reason: format!("{error:#}") })?;
        let pre = TaskPre::new(instance_pre).map_err(|error| TaskFailure::Instantiation {
            reason: format!("the component does not export the wflow task world: {error:#}"),
        })?;
        Ok(LoadedComponent { pre, source, permits: needs.permits() })
    }

    /// Runs one attempt of a task in a fresh store, blocking the calling
    /// thread until it ends. Call it from a blocking thread of a tokio
    /// runtime (`spawn_blocking`) or from a thread outside any runtime, never
    /// from an async task.
    ///
    /// The attempt ends early with [`TaskFailure::Timeout`] once
    /// `limits.timeout` has passed, and with [`TaskFailure::Cancelled`] once
    /// `cancel` is cancelled, whether the guest computes or waits in a host
    /// call.
    pub fn run(
        &self,
        component: &LoadedComponent,
        context: &TaskContext,
        input: &[u8],
        limits: Limits,
        cancel: &CancellationToken,
        live: Option<LiveLog>,
    ) -> TaskResult {
        block_on(self.run_async(component, context, input, limits, cancel, live))
    }

    /// Runs one attempt of a task in a fresh store, as [`Runtime::run`]
    /// does, on the calling async task. A busy guest yields to the async
    /// runtime about every millisecond of work (and at every epoch tick).
    /// A tokio runtime polls its timers and signals only every
    /// `event_interval` polls (61 by default). So a host that runs busy
    /// tasks next to latency-sensitive work should build its runtime with a
    /// smaller interval, as `wflow-host run` does.
    pub async fn run_async(
        &self,
        component: &LoadedComponent,
        context: &TaskContext,
        input: &[u8],
        limits: Limits,
        cancel: &CancellationToken,
        live: Option<LiveLog>,
    ) -> TaskResult {
        // Counts this attempt until it returns or its future is dropped.
        self.active.fetch_add(1, Ordering::Relaxed);
        let _active = ActiveAttempt(&self.active);
        let _slot = match &self.slots {
            Some(slots) => {
                Some(slots.acquire_many(component.permits).await.expect("the slot semaphore is never closed"))
            }
            None => None,
        };
        let started = Instant::now();
        let deadline = limits.timeout.map(|timeout| started + timeout);
        let mut store = Store::new(&self.engine, TaskState::new(limits.memory_bytes, context.attempt, live));
        store.limiter(|state| state);
        // Bytes copied between host and guest are bounded by the memory limit
        // instead of wasmtime's fixed default of 128 MiB.
        store.set_hostcall_fuel(usize::try_from(limits.memory_bytes).unwrap_or(usize::MAX));
        let fuel = limits.fuel.unwrap_or(u64::MAX);
        store.set_fuel(fuel).expect("fuel is enabled in the engine config");
        store.fuel_async_yield_interval(Some(FUEL_YIELD_INTERVAL)).expect("fuel is enabled in the engine config");

        // At every epoch tick, a running guest checks the deadline and the
        // cancellation, then yields so that the select below runs too.
        let watched = cancel.clone();
        store.epoch_deadline_callback(move |_| {
            if watched.is_cancelled() {
                return Err(AttemptInterrupted::Cancelled.into());
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return Err(AttemptInterrupted::TimedOut.into());
            }
            Ok(UpdateDeadline::Yield(1))
        });
        store.set_epoch_deadline(1);

        self.instantiations.fetch_add(1, Ordering::Relaxed);
        let wit_context = to_wit_context(context);
        let call = async {
            let task = component.pre.instantiate_async(&mut store).await.map_err(CallError::Instantiate)?;
            task.call_run(&mut store, &wit_context, input).await.map_err(CallError::Call)
        };
        let timeout = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
                None => std::future::pending().await,
            }
        };
        let call = tokio::select! {
            biased;
            () = cancel.cancelled() => Err(CallError::Interrupted(AttemptInterrupted::Cancelled)),
            () = timeout => Err(CallError::Interrupted(AttemptInterrupted::TimedOut)),
            result = call => result,
        };
        let duration = started.elapsed();

        let fuel_used = fuel - store.get_fuel().unwrap_or(0);
        let (output, detail) = match call {
            Ok(Ok(output)) => (Ok(output), None),
            Ok(Err(error)) => (Err(TaskFailure::Task { message: error.message, retryable: error.retryable }), None),
            Err(error) => classify(error, store.data(), limits),
        };

        let state = store.into_data();
        let logs = collect_logs(&state);
        TaskResult { output, fuel_used, peak_memory_bytes: state.peak_memory_bytes, logs, duration, detail }
    }
}

/// Decrements the count of active attempts when dropped.
struct ActiveAttempt<'a>(&'a AtomicUsize);

impl Drop for ActiveAttempt<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

enum CallError {
    Instantiate(wasmtime::Error),
    Call(wasmtime::Error),
    /// The attempt was stopped while the guest waited in a host call.
    Interrupted(AttemptInterrupted),
}

/// Runs `future` to completion on the current tokio runtime, or on a shared
/// one when the calling thread belongs to none. Panics when called from an
/// async task, which must not block: use `spawn_blocking` there.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    static FALLBACK: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle.block_on(future),
        Err(_) => FALLBACK
            .get_or_init(|| {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("wflow-runtime")
                    .enable_all()
                    .build()
                    .expect("failed to start the fallback tokio runtime")
            })
            .block_on(future),
    }
}

/// Starts a thread that advances the engine's epoch every [`EPOCH_PERIOD`]
/// for as long as the engine exists.
fn start_epoch_clock(engine: &Engine) {
    let engine = engine.weak();
    let spawned = std::thread::Builder::new().name("wflow-epoch".to_string()).spawn(move || {
        loop {
            std::thread::sleep(EPOCH_PERIOD);
            match engine.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => break,
            }
        }
    });
    if let Err(error) = spawned {
        // Without the clock, timeouts and cancellation still end attempts that
        // wait in host calls, but not busy ones.
        tracing::error!(%error, "failed to start the epoch clock thread");
    }
}

/// Maps a wasmtime error to the failure the user reads, keeping the raw
/// error chain and backtrace as detail.
fn classify(error: CallError, state: &TaskState, limits: Limits) -> (Result<Vec<u8>, TaskFailure>, Option<String>) {
    let (error, instantiating) = match error {
        CallError::Instantiate(error) => (error, true),
        CallError::Call(error) => (error, false),
        CallError::Interrupted(interrupted) => return (Err(interrupted.into_failure(limits)), None),
    };
    let detail = Some(format!("{error:?}"));

    if let Some(interrupted) = error.downcast_ref::<AttemptInterrupted>() {
        return (Err(interrupted.into_failure(limits)), detail);
    }
    if state.memory_limit_hit || error.downcast_ref::<MemoryLimitExceeded>().is_some() {
        return (Err(TaskFailure::MemoryLimit { limit_bytes: limits.memory_bytes }), detail);
    }
    if let Some(Trap::OutOfFuel) = error.downcast_ref::<Trap>() {
        let limit = limits.fuel.unwrap_or(u64::MAX);
        return (Err(TaskFailure::OutOfFuel { limit }), detail);
    }
    if let Some(exit) = error.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return (Err(TaskFailure::Exited { status: exit.0 }), detail);
    }
    if instantiating {
        return (Err(TaskFailure::Instantiation { reason: format!("{error:#}") }), detail);
    }
    if let Some(message) = panic_message(&state.stderr.contents()) {
        return (Err(TaskFailure::Panic { message }), detail);
    }
    let reason = match error.downcast_ref::<Trap>() {
        Some(trap) => trap.to_string(),
        None => format!("{error:#}"),
    };
    (Err(TaskFailure::Trap { reason }), detail)
}

/// Finds the message of a Rust panic in captured stderr. The standard
/// library prints "thread '...' panicked at FILE:LINE:COLUMN:" and then the
/// message on the following lines.
fn panic_message(stderr: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stderr);
    let start = text.find("panicked at ")?;
    let after = &text[start..];
    let (location_line, rest) = after.split_once('\n')?;
    let location = location_line.trim_start_matches("panicked at ").trim_end_matches(':');
    let message: Vec<&str> = rest.lines().take_while(|line| !line.starts_with("note: ")).collect();
    let message = message.join("\n").trim().to_string();
    Some(format!("{message} (at {location})"))
}

/// Builds the attempt's log: `log` lines first, then captured output as lines,
/// then a marker for anything dropped past the caps.
fn collect_logs(state: &TaskState) -> Vec<LogLine> {
    let mut logs = state.logs.clone();
    let now = sandbox::now_ms();
    for (stream, capture, level) in
        [(LogStream::Stdout, &state.stdout, LogLevel::Info), (LogStream::Stderr, &state.stderr, LogLevel::Warn)]
    {
        let (bytes, dropped) = capture.take();
        for line in String::from_utf8_lossy(&bytes).lines() {
            logs.push(LogLine { timestamp_ms: now, attempt: state.attempt, level, stream, message: line.to_string() });
        }
        if dropped > 0 {
            let message = format!("[{dropped} more bytes dropped: the cap is {} bytes]", sandbox::CAPTURE_BYTES);
            logs.push(LogLine { timestamp_ms: now, attempt: state.attempt, level: LogLevel::Warn, stream, message });
        }
    }
    if state.logs_dropped > 0 {
        let message =
            format!("[{} more log lines dropped: the cap is {} bytes]", state.logs_dropped, sandbox::LOG_BYTES);
        logs.push(LogLine {
            timestamp_ms: now,
            attempt: state.attempt,
            level: LogLevel::Warn,
            stream: LogStream::Log,
            message,
        });
    }
    logs
}

/// Explains why `bytes` cannot be a component, or returns `None` when the
/// header looks like one. wasmtime's own message for a core module is terse.
pub(crate) fn component_header_problem(bytes: &[u8]) -> Option<String> {
    const MAGIC: &[u8] = b"\0asm";
    const MODULE_VERSION: [u8; 4] = [1, 0, 0, 0];
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Some("the file is not WebAssembly (no `\\0asm` header)".to_string());
    }
    if bytes[4..8] == MODULE_VERSION {
        return Some(
            "the file is a core WebAssembly module, not a component; build it for the \
             `wasm32-wasip2` target or wrap it with `wasm-tools component new`"
                .to_string(),
        );
    }
    None
}

fn to_wit_context(context: &TaskContext) -> bindings::Context {
    let params = context
        .params
        .iter()
        .map(|(name, value)| bindings::Param {
            name: name.clone(),
            value: match value {
                ParamValue::String(text) => bindings::ParamValue::Text(text.clone()),
                ParamValue::Path(path) => bindings::ParamValue::Text(path.display().to_string()),
                ParamValue::Integer(number) => bindings::ParamValue::Integer(*number),
                ParamValue::Float(number) => bindings::ParamValue::Float(*number),
                ParamValue::Boolean(flag) => bindings::ParamValue::Boolean(*flag),
            },
        })
        .collect();
    bindings::Context {
        flow: context.flow.clone(),
        task: context.task.clone(),
        run_id: context.run_id.clone(),
        attempt: context.attempt,
        params,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_message_is_read_from_stderr() {
        let stderr = b"\nthread '<unnamed>' panicked at src/lib.rs:50:20:\nboom\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(panic_message(stderr), Some("boom (at src/lib.rs:50:20)".to_string()));
        assert_eq!(panic_message(b"plain output\n"), None);
    }

    #[test]
    fn header_check_tells_module_from_component() {
        assert!(component_header_problem(b"\0asm\x01\0\0\0").unwrap().contains("core WebAssembly module"));
        assert!(component_header_problem(b"\0asm\x0d\0\x01\0").is_none());
        assert!(component_header_problem(b"hello").unwrap().contains("not WebAssembly"));
    }
}

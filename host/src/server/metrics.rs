//! The server's Prometheus metrics, in the OpenMetrics text format that
//! `GET /metrics` returns.
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `wflow_runs_total` | counter | `flow`, `state`: runs that ended |
//! | `wflow_runs_active` | gauge | runs started and not ended |
//! | `wflow_task_duration_seconds` | histogram | `flow`, `state`: tasks that completed or failed, cache hits included |
//! | `wflow_cache_lookups_total` | counter | `flow`, `result` (`hit` or `miss`): tasks with caching on |
//! | `wflow_attempts_active` | gauge | task attempts running or waiting for a pool slot |
//! | `wflow_fires_queued` | gauge | fire times waiting behind a running run (`overlap = "queue"`) |
//! | `wflow_scheduler_lag_seconds` | histogram | time from a fire time to the start of its handling |

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::executor::TaskReport;
use crate::state::{RunState, TaskState};

/// The content type of the OpenMetrics text format.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    flow: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    flow: String,
    result: String,
}

/// The metrics of one server.
pub struct Metrics {
    registry: Registry,
    runs: Family<StateLabels, Counter>,
    task_seconds: Family<StateLabels, Histogram, fn() -> Histogram>,
    cache_lookups: Family<CacheLabels, Counter>,
    scheduler_lag: Histogram,
    runs_active: Gauge,
    attempts_active: Gauge,
    fires_queued: Gauge,
}

/// Task durations from 100 µs to about 30 hours (0.0001 × 4^15 s).
fn task_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 4.0, 16))
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("wflow");

        let runs = Family::<StateLabels, Counter>::default();
        registry.register("runs", "Flow runs that ended, by flow and state", runs.clone());
        let task_seconds = Family::<StateLabels, Histogram, fn() -> Histogram>::new_with_constructor(task_histogram);
        registry.register(
            "task_duration_seconds",
            "Duration of tasks that ended, by flow and task state",
            task_seconds.clone(),
        );
        let cache_lookups = Family::<CacheLabels, Counter>::default();
        registry.register(
            "cache_lookups",
            "Output cache lookups of tasks with caching on, by flow and result",
            cache_lookups.clone(),
        );

        // From 1 ms to about 17 minutes.
        let scheduler_lag = Histogram::new(exponential_buckets(0.001, 4.0, 11));
        registry.register(
            "scheduler_lag_seconds",
            "Time from a fire time to the start of its handling",
            scheduler_lag.clone(),
        );

        let runs_active = Gauge::default();
        registry.register("runs_active", "Runs started and not ended", runs_active.clone());
        let attempts_active = Gauge::default();
        registry.register(
            "attempts_active",
            "Task attempts running or waiting for a pool slot",
            attempts_active.clone(),
        );
        let fires_queued = Gauge::default();
        registry.register("fires_queued", "Fire times waiting behind a running run", fires_queued.clone());

        Metrics {
            registry,
            runs,
            task_seconds,
            cache_lookups,
            scheduler_lag,
            runs_active,
            attempts_active,
            fires_queued,
        }
    }

    /// Counts a run of `flow` that ended in `state`.
    pub fn run_ended(&self, flow: &str, state: RunState) {
        self.runs.get_or_create(&StateLabels { flow: flow.to_string(), state: state.name().to_string() }).inc();
    }

    /// Records a task of `flow` that ended. `cached` is true when the task
    /// had caching on, so that its lookup counts as a hit or a miss.
    pub fn task_finished(&self, flow: &str, report: &TaskReport, cached: bool) {
        // A skipped or cancelled task never looked up its output or ran.
        if matches!(report.state, TaskState::Skipped | TaskState::Cancelled) {
            return;
        }
        let labels = StateLabels { flow: flow.to_string(), state: report.state.name().to_string() };
        self.task_seconds.get_or_create(&labels).observe(report.duration.as_secs_f64());
        if cached {
            let result = if report.cache_hit { "hit" } else { "miss" };
            self.cache_lookups.get_or_create(&CacheLabels { flow: flow.to_string(), result: result.to_string() }).inc();
        }
    }

    /// Records how late a fire time was handled.
    pub fn fire_handled(&self, lag_seconds: f64) {
        self.scheduler_lag.observe(lag_seconds.max(0.0));
    }

    /// Encodes every metric, with the gauges set to the given values.
    pub fn encode(&self, runs_active: usize, attempts_active: usize, fires_queued: usize) -> String {
        self.runs_active.set(i64::try_from(runs_active).unwrap_or(i64::MAX));
        self.attempts_active.set(i64::try_from(attempts_active).unwrap_or(i64::MAX));
        self.fires_queued.set(i64::try_from(fires_queued).unwrap_or(i64::MAX));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("encoding metrics into a String does not fail");
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

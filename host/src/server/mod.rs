//! The long-lived server behind `wflow-host serve`: it loads deployments,
//! fires their schedules, and runs their flows on the embedded host.
//!
//! The scheduler ([`scheduler::Scheduler`]) decides which fire times run
//! and stores that before any run starts. The server applies each
//! deployment's overlap policy to those fires, starts the runs, and
//! settles each fire in the scheduler once its run is recorded, so that a restart neither
//! repeats nor loses it.

mod alerting;
pub mod api;
pub mod clock;
pub mod deployment;
pub mod metrics;
pub mod scheduler;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Result;
use jiff::Timestamp;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use wflow_alerts::{Notifier, Secrets};

use crate::Host;
use crate::executor::{RunObserver, RunOptions, TaskReport};
use crate::manifest::ParamOverride;
use crate::runtime::LogLine;
use crate::state::{AttemptRecord, RedbScheduleStore, RunRecord, RunState, RunStore};
use alerting::RunAlerts;
use clock::Clock;
use deployment::{Deployment, Overlap, load_deployments};
use scheduler::{Fire, Scheduler};

/// How long the server waits after a failed scheduler step (the state
/// database could not be written) before it tries again.
const RETRY_AFTER_ERROR: Duration = Duration::from_secs(5);

/// Returns an instant in milliseconds since the Unix epoch, 0 for one
/// before it.
fn timestamp_ms(time: Timestamp) -> u64 {
    u64::try_from(time.as_millisecond()).unwrap_or(0)
}

/// How long a stopping server waits for alert deliveries in flight.
const DELIVERY_DRAIN: Duration = Duration::from_secs(30);

/// The maximum number of fires a deployment with `overlap = "queue"` keeps waiting;
/// later ones are skipped and logged.
const MAX_QUEUED_FIRES: usize = 100;

/// A scheduling server over one host and one deployments folder or file.
pub struct Server {
    host: Arc<Host>,
    deployments_path: PathBuf,
    clock: Arc<dyn Clock>,
    inner: Mutex<Inner>,
    reload_requested: Notify,
    shutdown: CancellationToken,
    /// Wakes [`Server::wait_idle`] when a run ends.
    run_ended: Notify,
    /// The secrets that alert channels refer to, read again from their
    /// file at each reload.
    secrets: Mutex<Arc<Secrets>>,
    /// Whether the last read of the secrets file failed.
    secrets_unreadable: AtomicBool,
    /// The API's base URL, for links in alerts, once the API listens.
    base_url: Mutex<Option<String>>,
    metrics: metrics::Metrics,
    /// Alert deliveries in flight, which the server waits for when it stops.
    deliveries: tokio_util::task::TaskTracker,
}

struct Inner {
    deployments: BTreeMap<String, Arc<Deployment>>,
    scheduler: Scheduler,
    /// Runs started and not ended, by deployment.
    active: HashMap<String, usize>,
    /// Fires waiting for the deployment's running run, by deployment.
    queued: HashMap<String, VecDeque<Fire>>,
    /// The cancellation token of each running run, by run id.
    running: HashMap<String, CancellationToken>,
    /// The alert notifier of each deployment with `[notify]` settings.
    notifiers: HashMap<String, Arc<Notifier>>,
}

impl Server {
    /// Loads the deployments at `deployments_path` (a folder of TOML files
    /// or one file) and the stored schedule state. Problems in single
    /// deployments are logged and those deployments left out. Alert
    /// channels resolve their `{ secret = "..." }` references in `secrets`;
    /// when those came from a file, each reload reads the file again.
    pub fn new(
        host: Arc<Host>,
        deployments_path: &Path,
        clock: Arc<dyn Clock>,
        secrets: Arc<Secrets>,
    ) -> Result<Arc<Server>> {
        let store = Arc::new(RedbScheduleStore::new(host.state().database()));
        let server = Arc::new(Server {
            host,
            deployments_path: deployments_path.to_path_buf(),
            clock,
            inner: Mutex::new(Inner {
                deployments: BTreeMap::new(),
                scheduler: Scheduler::new(store),
                active: HashMap::new(),
                queued: HashMap::new(),
                running: HashMap::new(),
                notifiers: HashMap::new(),
            }),
            reload_requested: Notify::new(),
            shutdown: CancellationToken::new(),
            run_ended: Notify::new(),
            secrets: Mutex::new(secrets),
            secrets_unreadable: AtomicBool::new(false),
            base_url: Mutex::new(None),
            metrics: metrics::Metrics::new(),
            deliveries: tokio_util::task::TaskTracker::new(),
        });
        server.reload()?;
        server.alert_crashed_runs();
        Ok(server)
    }

    /// Sends the failure alerts of the deployment runs that the last
    /// process left behind: the state directory marked them as crashed when
    /// it opened.
    fn alert_crashed_runs(self: &Arc<Self>) {
        let runs = self.host.runs();
        for run_id in self.host.state().crashed_runs() {
            let Ok(Some(run)) = runs.run(run_id) else {
                continue;
            };
            let Some(name) = &run.deployment else {
                continue;
            };
            let (deployment, notifier) = {
                let inner = self.lock();
                (inner.deployments.get(name).cloned(), inner.notifiers.get(name).cloned())
            };
            let (Some(deployment), Some(notifier)) = (deployment, notifier) else {
                continue;
            };
            let started_at = Timestamp::from_millisecond(i64::try_from(run.started_at_ms).unwrap_or(0))
                .unwrap_or(Timestamp::UNIX_EPOCH);
            let slot = run.scheduled_for_ms.and_then(|ms| Timestamp::from_millisecond(i64::try_from(ms).ok()?).ok());
            let alerts = RunAlerts::new(self.clone(), notifier, &deployment, run.flow.clone(), slot);
            alerts.run_ended(run_id, started_at, RunState::Crashed);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads the deployments again and logs what changed. A deployment that
    /// became invalid is logged and left out until it is fixed.
    pub fn reload(&self) -> Result<Vec<String>> {
        let (loaded, problems) = load_deployments(&self.deployments_path);
        for problem in &problems {
            tracing::error!(problem = %problem, "a deployment is invalid and does not run");
        }
        let runs = self.host.runs();
        let run_exists = |run_id: &str| matches!(runs.run(run_id), Ok(Some(_)));
        let secrets = self.reload_secrets();
        let mut inner = self.lock();
        let mut changes = Vec::new();
        for deployment in &loaded {
            match inner.deployments.get(&deployment.name) {
                None => changes.push(format!("added deployment `{}`", deployment.name)),
                Some(old) if **old != *deployment => changes.push(format!("changed deployment `{}`", deployment.name)),
                Some(_) => {}
            }
        }
        for name in inner.deployments.keys() {
            if !loaded.iter().any(|deployment| &deployment.name == name) {
                changes.push(format!("removed deployment `{name}`"));
            }
        }
        changes.extend(inner.scheduler.update(&loaded, self.clock.now(), &run_exists)?);
        let mut notifiers = HashMap::new();
        for deployment in &loaded {
            let Some(config) = &deployment.notify else {
                continue;
            };
            match Notifier::from_config(config, secrets.clone()) {
                Ok(notifier) => {
                    for problem in notifier.unresolved_secrets() {
                        tracing::warn!(deployment = %deployment.name, "{problem}. Alerts on this channel fail until the secret is set");
                    }
                    notifiers.insert(deployment.name.clone(), Arc::new(notifier));
                }
                Err(error) => {
                    tracing::error!(deployment = %deployment.name, %error, "the alert settings are invalid; no alerts are sent")
                }
            }
        }
        inner.notifiers = notifiers;
        // Fires queued for a removed deployment are dropped; the scheduler
        // removed their stored record with the deployment.
        inner.queued.retain(|name, _| loaded.iter().any(|deployment| &deployment.name == name));
        inner.deployments =
            loaded.into_iter().map(|deployment| (deployment.name.clone(), Arc::new(deployment))).collect();
        drop(inner);
        for change in &changes {
            tracing::info!(path = %self.deployments_path.display(), "{change}");
        }
        Ok(changes)
    }

    /// Reads the secrets file again, when the server's secrets came from
    /// one, and returns the secrets that alerts use from now on. A file
    /// that cannot be read leaves the secrets read before in place.
    fn reload_secrets(&self) -> Arc<Secrets> {
        let mut secrets = self.secrets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(path) = secrets.path() else {
            return secrets.clone();
        };
        match Secrets::load(path) {
            Ok(loaded) => {
                let recovered = self.secrets_unreadable.swap(false, Ordering::Relaxed);
                if loaded != **secrets {
                    tracing::info!(path = %path.display(), "read the changed secrets file");
                    *secrets = Arc::new(loaded);
                } else if recovered {
                    tracing::info!(path = %path.display(), "read the secrets file again; its secrets are unchanged");
                }
            }
            Err(error) => {
                self.secrets_unreadable.store(true, Ordering::Relaxed);
                tracing::error!(%error, "alerts keep using the secrets read before; fix the secrets file, and the server reads it again")
            }
        }
        secrets.clone()
    }

    /// Asks the running [`Server::serve`] loop to reload the deployments.
    pub fn request_reload(&self) {
        self.reload_requested.notify_one();
    }

    /// Stops the serve loop and cancels the running runs.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
        for token in self.lock().running.values() {
            token.cancel();
        }
    }

    /// Sets the API's base URL, such as `http://127.0.0.1:7420`, which alerts
    /// link runs to.
    pub fn set_base_url(&self, base_url: &str) {
        *self.base_url.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(base_url.to_string());
    }

    fn base_url(&self) -> Option<String> {
        self.base_url.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Returns the metrics in the OpenMetrics text format.
    pub fn metrics_text(&self) -> String {
        let (runs_active, fires_queued) = {
            let inner = self.lock();
            (inner.active.values().sum(), inner.queued.values().map(VecDeque::len).sum())
        };
        self.metrics.encode(runs_active, self.host.runtime().active_attempts(), fires_queued)
    }

    /// Returns the host that runs the deployments' flows.
    pub fn host(&self) -> &Arc<Host> {
        &self.host
    }

    /// Waits until [`Server::shutdown`] is called.
    pub async fn stopping(&self) {
        self.shutdown.cancelled().await;
    }

    /// Returns the deployments, sorted by name.
    pub fn deployments(&self) -> Vec<Arc<Deployment>> {
        self.lock().deployments.values().cloned().collect()
    }

    /// Returns the next `count` fire times of `deployment`.
    pub fn upcoming(&self, deployment: &str, count: usize) -> Vec<jiff::Zoned> {
        self.lock().scheduler.upcoming(deployment, count)
    }

    /// Starts a run of deployment `name` now, with `overrides` replacing its
    /// parameter values, whatever its schedule and overlap policy. Returns
    /// the run id once the run is recorded, so that it can be looked up.
    pub async fn trigger(self: &Arc<Self>, name: &str, overrides: &[ParamOverride]) -> Result<String, TriggerError> {
        let deployment = self
            .lock()
            .deployments
            .get(name)
            .cloned()
            .ok_or_else(|| TriggerError::UnknownDeployment { name: name.to_string() })?;
        let mut params: Vec<ParamOverride> = deployment
            .params
            .iter()
            .filter(|param| !overrides.iter().any(|new| new.name == param.name))
            .cloned()
            .collect();
        params.extend(overrides.iter().cloned());
        let deployment = Arc::new(Deployment { params, ..(*deployment).clone() });
        deployment.load_flow().map_err(|error| TriggerError::InvalidParams { message: error.to_string() })?;
        let (recorded, is_recorded) = tokio::sync::oneshot::channel();
        let run_id = self.start(deployment, None, Some(recorded));
        // An error means the run ended before it was recorded, which the
        // run's own record or log explains.
        let _ = is_recorded.await;
        Ok(run_id)
    }

    /// Cancels run `run_id` if this server is running it.
    pub fn cancel(&self, run_id: &str) -> bool {
        match self.lock().running.get(run_id) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    /// Returns the number of runs started and not ended.
    pub fn active_runs(&self) -> usize {
        self.lock().active.values().sum()
    }

    /// Returns the number of runs of deployment `name` started and not ended.
    pub fn active_runs_of(&self, name: &str) -> usize {
        self.lock().active.get(name).copied().unwrap_or(0)
    }

    /// Waits until no run is going.
    pub async fn wait_idle(&self) {
        loop {
            let ended = self.run_ended.notified();
            if self.active_runs() == 0 {
                return;
            }
            ended.await;
        }
    }

    /// Fires schedules until [`Server::shutdown`], reloading deployments
    /// when asked. Waits for the runs it started before it returns.
    pub async fn serve(self: &Arc<Self>) {
        loop {
            let now = self.clock.now();
            let (fires, failure) = self.lock().scheduler.due(now);
            for fire in fires {
                self.launch(fire);
            }
            let wake = match failure {
                None => self.lock().scheduler.next_wake(),
                Some(error) => {
                    tracing::error!(error = %format!("{error:#}"), "failed to store the schedule state; trying again");
                    now.checked_add(jiff::SignedDuration::try_from(RETRY_AFTER_ERROR).unwrap_or_default()).ok()
                }
            };
            let sleep = async {
                match wake {
                    Some(wake) => self.clock.sleep_until(wake).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = self.shutdown.cancelled() => break,
                () = self.reload_requested.notified() => {
                    if let Err(error) = self.reload() {
                        tracing::error!(error = %format!("{error:#}"), "failed to reload the deployments");
                    }
                }
                () = sleep => {}
            }
        }
        self.wait_idle().await;
        self.deliveries.close();
        if tokio::time::timeout(DELIVERY_DRAIN, self.deliveries.wait()).await.is_err() {
            tracing::warn!(
                pending = self.deliveries.len(),
                "stopped without waiting longer for alert deliveries; their outcomes are not recorded"
            );
        }
    }

    /// Applies the deployment's overlap policy to `fire`: starts its run, or
    /// queues or skips it while an earlier run of the deployment is going.
    fn launch(self: &Arc<Self>, fire: Fire) {
        let lag = self.clock.now().duration_since(fire.slot);
        self.metrics.fire_handled(lag.as_secs_f64());
        let mut inner = self.lock();
        let Some(deployment) = inner.deployments.get(&fire.deployment).cloned() else {
            return;
        };
        let overlap = deployment.schedule.as_ref().map_or(Overlap::Allow, |settings| settings.overlap);
        let busy = inner.active.get(&fire.deployment).copied().unwrap_or(0) > 0;
        match (busy, overlap) {
            (true, Overlap::Skip) => {
                tracing::warn!(deployment = %fire.deployment, slot = %fire.slot, "skipped a fire time: the previous run is still going");
                if let Err(error) = inner.scheduler.settle(&fire.deployment, &fire.run_id) {
                    tracing::error!(error = %format!("{error:#}"), "failed to store a skipped fire time");
                }
            }
            (true, Overlap::Queue) => {
                let queue = inner.queued.entry(fire.deployment.clone()).or_default();
                if queue.len() >= MAX_QUEUED_FIRES {
                    tracing::warn!(deployment = %fire.deployment, slot = %fire.slot, limit = MAX_QUEUED_FIRES, "skipped a fire time: the queue is full");
                    if let Err(error) = inner.scheduler.settle(&fire.deployment, &fire.run_id) {
                        tracing::error!(error = %format!("{error:#}"), "failed to store a skipped fire time");
                    }
                } else {
                    tracing::info!(deployment = %fire.deployment, slot = %fire.slot, "queued a fire time behind the running run");
                    queue.push_back(fire);
                }
            }
            _ => {
                drop(inner);
                self.start(deployment, Some(fire), None);
            }
        }
    }

    /// Starts a run of `deployment` on the host, for a fire time or on
    /// request. Returns the run id; `recorded` is signalled once the run is
    /// recorded.
    fn start(
        self: &Arc<Self>,
        deployment: Arc<Deployment>,
        fire: Option<Fire>,
        recorded: Option<tokio::sync::oneshot::Sender<()>>,
    ) -> String {
        let run_id = fire.as_ref().map_or_else(|| uuid::Uuid::now_v7().to_string(), |fire| fire.run_id.clone());
        let cancel = CancellationToken::new();
        let notifier = {
            let mut inner = self.lock();
            *inner.active.entry(deployment.name.clone()).or_insert(0) += 1;
            inner.running.insert(run_id.clone(), cancel.clone());
            inner.notifiers.get(&deployment.name).cloned()
        };
        let server = self.clone();
        let id = run_id.clone();
        let slot = fire.as_ref().map(|fire| fire.slot);
        tokio::spawn(async move {
            match deployment.load_flow() {
                Ok(flow) => {
                    let alerts = notifier
                        .map(|notifier| RunAlerts::new(server.clone(), notifier, &deployment, flow.name.clone(), slot));
                    let cached_tasks =
                        flow.tasks.iter().filter(|task| task.cache.enabled).map(|task| task.id.clone()).collect();
                    let observer = Arc::new(DeploymentRun {
                        server: server.clone(),
                        deployment: deployment.name.clone(),
                        flow: flow.name.clone(),
                        cached_tasks,
                        run_id: id.clone(),
                        started_at: Mutex::new(server.clock.now()),
                        alerts,
                        recorded: Mutex::new(recorded),
                    });
                    let options = RunOptions {
                        run_id: Some(id.clone()),
                        deployment: Some(deployment.name.clone()),
                        scheduled_for_ms: slot.map(timestamp_ms),
                        cancel,
                        ..RunOptions::default()
                    };
                    tracing::info!(deployment = %deployment.name, run_id = %id, "starting a run");
                    if let Err(error) = server.host.run(&flow, &options, observer).await {
                        tracing::error!(deployment = %deployment.name, run_id = %id, error = %format!("{error:#}"), "the run could not be recorded");
                    }
                }
                Err(error) => {
                    tracing::error!(deployment = %deployment.name, run_id = %id, error = %error, "the deployment's flow does not load; the run failed before it started");
                    server.record_failed_start(&deployment, &id, &error.to_string(), notifier, slot, recorded);
                    if let Err(error) = server.lock().scheduler.settle(&deployment.name, &id) {
                        tracing::error!(error = %format!("{error:#}"), "failed to store a fire time that did not start");
                    }
                }
            }
            server.finish(&deployment.name, &id);
        });
        run_id
    }

    /// Records a run whose flow did not load as failed, with the error, and
    /// sends its failure alert, so that the run shows in the API and
    /// someone hears of it.
    fn record_failed_start(
        self: &Arc<Self>,
        deployment: &Deployment,
        run_id: &str,
        error: &str,
        notifier: Option<Arc<Notifier>>,
        slot: Option<Timestamp>,
        recorded: Option<tokio::sync::oneshot::Sender<()>>,
    ) {
        let now = self.clock.now();
        let now_ms = timestamp_ms(now);
        let record = RunRecord {
            run_id: run_id.to_string(),
            flow: deployment.flow.file_stem().map_or_else(String::new, |stem| stem.to_string_lossy().into_owned()),
            manifest_path: deployment.flow.display().to_string(),
            params: deployment
                .params
                .iter()
                .map(|param| (param.name.clone(), serde_json::Value::String(param.value.clone())))
                .collect(),
            state: RunState::Failed,
            started_at_ms: now_ms,
            ended_at_ms: Some(now_ms),
            manifest_hash: String::new(),
            resumed_from: None,
            deployment: Some(deployment.name.clone()),
            scheduled_for_ms: slot.map(timestamp_ms),
            error: Some(format!("the flow did not load: {error}")),
        };
        if let Err(error) = self.host.runs().put_run(&record) {
            tracing::error!(run_id, error = %format!("{error:#}"), "failed to record a run that did not start");
        }
        if let Some(recorded) = recorded {
            let _ = recorded.send(());
        }
        self.metrics.run_ended(&record.flow, RunState::Failed);
        if let Some(notifier) = notifier {
            let alerts = RunAlerts::new(self.clone(), notifier, deployment, record.flow.clone(), slot);
            alerts.start_failed(run_id, now, record.error.as_deref().unwrap_or(error));
        }
    }

    /// Counts a run as ended and starts the next queued fire, if any.
    fn finish(self: &Arc<Self>, deployment: &str, run_id: &str) {
        let next = {
            let mut inner = self.lock();
            inner.running.remove(run_id);
            if let Some(count) = inner.active.get_mut(deployment) {
                *count = count.saturating_sub(1);
            }
            // While shutting down, queued fires stay stored and start after
            // the restart instead.
            let next = if self.shutdown.is_cancelled() {
                None
            } else {
                inner.queued.get_mut(deployment).and_then(VecDeque::pop_front)
            };
            next.and_then(|fire| inner.deployments.get(deployment).cloned().map(|deployment| (deployment, fire)))
        };
        if let Some((deployment, fire)) = next {
            self.start(deployment, Some(fire), None);
        }
        self.run_ended.notify_waiters();
    }
}

/// The reason a run could not be started on request.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("no deployment is named `{name}`; GET /api/v1/deployments lists them")]
    UnknownDeployment { name: String },
    #[error("{message}")]
    InvalidParams { message: String },
}

/// Follows a run that the server started: settles its fire once the run
/// is recorded, and sends its alerts.
struct DeploymentRun {
    server: Arc<Server>,
    deployment: String,
    flow: String,
    /// The tasks with caching on, whose ends count as cache hits or misses.
    cached_tasks: HashSet<String>,
    run_id: String,
    started_at: Mutex<Timestamp>,
    alerts: Option<RunAlerts>,
    /// Signalled once the run is recorded, for a caller that waits for it.
    recorded: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

impl DeploymentRun {
    fn started_at(&self) -> Timestamp {
        *self.started_at.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl RunObserver for DeploymentRun {
    fn run_started(&self, run_id: &str) {
        if let Err(error) = self.server.lock().scheduler.settle(&self.deployment, run_id) {
            tracing::error!(error = %format!("{error:#}"), run_id, "failed to store that a scheduled run started");
        }
        let now = self.server.clock.now();
        *self.started_at.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = now;
        if let Some(alerts) = &self.alerts {
            alerts.run_started(run_id, now);
        }
        if let Some(recorded) = self.recorded.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take() {
            let _ = recorded.send(());
        }
    }

    fn run_ended(&self, run_id: &str, state: RunState) {
        tracing::info!(deployment = %self.deployment, run_id, state = state.name(), "run ended");
        self.server.metrics.run_ended(&self.flow, state);
        if let Some(alerts) = &self.alerts {
            alerts.run_ended(run_id, self.started_at(), state);
        }
    }

    fn task_finished(&self, report: &TaskReport, _logs: &[LogLine]) {
        self.server.metrics.task_finished(&self.flow, report, self.cached_tasks.contains(&report.id));
    }

    fn task_retrying(&self, task: &str, attempt: &AttemptRecord, _logs: &[LogLine]) {
        if let Some(alerts) = &self.alerts {
            alerts.task_retrying(&self.run_id, self.started_at(), task, attempt);
        }
    }
}

//! Alerts about a deployment's runs: sent when a run fails, and when the
//! deployment's `[notify.on]` selects them, when it succeeds, retries a
//! task, starts late or runs long.
//!
//! Each alert is delivered on its own async task, so a slow or failing
//! channel never holds up or fails the run. The outcome of every delivery
//! is recorded with the run (`RedbAlertLog`), and the API shows it.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use tokio_util::sync::CancellationToken;
use wflow_alerts::{Alert, Event, FailedTask, Notifier, NotifyOn};

use super::Server;
use super::deployment::Deployment;
use crate::state::{AlertRecord, AttemptRecord, RedbAlertLog, RunState, RunStore, TaskState};

/// Sends the alerts of one run.
pub(super) struct RunAlerts {
    pub(super) server: Arc<Server>,
    pub(super) notifier: Arc<Notifier>,
    pub(super) on: NotifyOn,
    pub(super) deployment: String,
    pub(super) flow: String,
    /// The fire time the run is for; `None` for a run started on request.
    pub(super) slot: Option<Timestamp>,
    /// Cancelled when the run ends, which also stops the long-running timer.
    pub(super) ended: CancellationToken,
}

impl RunAlerts {
    /// Prepares the alerts of a run of `flow` by `deployment`, for the fire
    /// time `slot` or, when `None`, on request.
    pub(super) fn new(
        server: Arc<Server>,
        notifier: Arc<Notifier>,
        deployment: &Deployment,
        flow: String,
        slot: Option<Timestamp>,
    ) -> Self {
        RunAlerts {
            server,
            notifier,
            on: deployment.notify.as_ref().map(|notify| notify.on.clone()).unwrap_or_default(),
            deployment: deployment.name.clone(),
            flow,
            slot,
            ended: CancellationToken::new(),
        }
    }

    /// Sends a late alert if the run started more than `late_after` after its
    /// fire time, and arms the long-running alert.
    pub(super) fn run_started(&self, run_id: &str, started_at: Timestamp) {
        if let (Some(late_after), Some(slot)) = (self.on.late_after, self.slot) {
            let lateness = started_at.duration_since(slot);
            if lateness > SignedDuration::try_from(late_after).unwrap_or(SignedDuration::MAX) {
                let mut alert = self.alert(Event::Late, run_id, RunState::Running, started_at);
                alert.duration_ms = Some(0);
                self.send(alert);
            }
        }
        if let Some(longer_than) = self.on.longer_than {
            // A deadline past the end of time never comes.
            let Some(deadline) =
                SignedDuration::try_from(longer_than).ok().and_then(|span| started_at.checked_add(span).ok())
            else {
                return;
            };
            let ended = self.ended.clone();
            let alert = self.alert(Event::LongRunning, run_id, RunState::Running, started_at);
            let sender = self.sender();
            let clock = self.server.clock.clone();
            tokio::spawn(async move {
                let reached = async {
                    while clock.now() < deadline {
                        clock.sleep_until(deadline).await;
                    }
                };
                tokio::select! {
                    () = ended.cancelled() => {}
                    () = reached => {
                        let mut alert = alert;
                        alert.duration_ms = Some(u64::try_from(longer_than.as_millis()).unwrap_or(u64::MAX));
                        sender.send(alert);
                    }
                }
            });
        }
    }

    /// Sends a retry alert for a failed attempt of `task`, when asked for.
    pub(super) fn task_retrying(&self, run_id: &str, started_at: Timestamp, task: &str, attempt: &AttemptRecord) {
        if !self.on.wants(Event::Retrying) {
            return;
        }
        let mut alert = self.alert(Event::Retrying, run_id, RunState::Running, started_at);
        let error = attempt.error.clone().unwrap_or_else(|| "failed without a message".to_string());
        alert
            .failed_tasks
            .push(FailedTask { task: task.to_string(), error: format!("attempt {}: {error}", attempt.attempt) });
        self.send(alert);
    }

    /// Sends the alert for the run's end, if its state and the settings call
    /// for one: a failure (`failed` or `timed_out`), or a success when asked
    /// for. A cancelled run gets none, since someone cancelled it.
    pub(super) fn run_ended(&self, run_id: &str, started_at: Timestamp, state: RunState) {
        self.ended.cancel();
        let event = match state {
            RunState::Completed => Event::Succeeded,
            RunState::Failed | RunState::TimedOut | RunState::Crashed => Event::Failed,
            RunState::Cancelled | RunState::Running => return,
        };
        if !self.on.wants(event) {
            return;
        }
        let mut alert = self.alert(event, run_id, state, started_at);
        let ended_at = self.server.clock.now();
        alert.ended_at = Some(ended_at);
        alert.duration_ms = u64::try_from(ended_at.duration_since(started_at).as_millis()).ok();
        if event == Event::Failed {
            match self.server.host.runs().tasks(run_id) {
                Ok(tasks) => {
                    alert.failed_tasks = tasks
                        .into_iter()
                        .filter(|task| matches!(task.state, TaskState::Failed))
                        .map(|task| FailedTask {
                            task: task.task_id,
                            error: task.error.unwrap_or_else(|| "failed without a message".to_string()),
                        })
                        .collect();
                }
                Err(error) => {
                    tracing::warn!(run_id, error = %format!("{error:#}"), "failed to read the failed tasks for an alert")
                }
            }
        }
        self.send(alert);
    }

    /// Sends the failure alert of a run that failed before its flow loaded.
    pub(super) fn start_failed(&self, run_id: &str, at: Timestamp, error: &str) {
        self.ended.cancel();
        if !self.on.wants(Event::Failed) {
            return;
        }
        let mut alert = self.alert(Event::Failed, run_id, RunState::Failed, at);
        alert.ended_at = Some(at);
        alert.duration_ms = Some(0);
        alert.failed_tasks.push(FailedTask { task: "(flow manifest)".to_string(), error: error.to_string() });
        self.send(alert);
    }

    fn alert(&self, event: Event, run_id: &str, state: RunState, started_at: Timestamp) -> Alert {
        let mut alert = Alert::new(event, &self.deployment, &self.flow, run_id, state.name(), started_at);
        alert.scheduled_for = self.slot;
        alert.link = self.server.base_url().map(|base| format!("{base}/api/v1/runs/{run_id}"));
        alert
    }

    fn sender(&self) -> AlertSender {
        AlertSender {
            notifier: self.notifier.clone(),
            log: RedbAlertLog::new(self.server.host.state().database()),
            tracker: self.server.deliveries.clone(),
        }
    }

    fn send(&self, alert: Alert) {
        self.sender().send(alert);
    }
}

/// Delivers alerts and records the outcomes.
struct AlertSender {
    notifier: Arc<Notifier>,
    log: RedbAlertLog,
    tracker: tokio_util::task::TaskTracker,
}

impl AlertSender {
    /// Delivers `alert` on its own task, then records each channel's outcome
    /// with the run. The notifier logs each failed delivery.
    fn send(self, alert: Alert) {
        let tracker = self.tracker.clone();
        tracker.spawn(async move {
            let deliveries = self.notifier.deliver(&alert).await;
            let record = AlertRecord {
                event: alert.event.as_str().to_string(),
                sent_at_ms: u64::try_from(Timestamp::now().as_millisecond()).unwrap_or(0),
                deliveries: serde_json::to_value(&deliveries).unwrap_or_default(),
            };
            if let Err(error) = self.log.record(&alert.run_id, &record) {
                tracing::warn!(run_id = %alert.run_id, error = %format!("{error:#}"), "failed to record the outcome of an alert");
            }
        });
    }
}

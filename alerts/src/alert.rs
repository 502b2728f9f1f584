//! The alert payload and its one-line summary.

use std::fmt;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Serialize, Serializer};

/// Maximum number of characters of one task error in [`Alert::message`].
/// [`Alert::failed_tasks`] keeps the whole error.
pub const MESSAGE_ERROR_CHARS: usize = 300;

/// Kind of run event that an alert reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// The run ended in failure.
    Failed,
    /// The run ended successfully.
    Succeeded,
    /// The run failed and will be retried.
    Retrying,
    /// The run started later than its scheduled time by more than the
    /// configured threshold.
    Late,
    /// The run has been running for longer than the configured threshold.
    LongRunning,
}

impl Event {
    /// Returns the name used in the payload and in `WFLOW_ALERT_EVENT`, such
    /// as `long_running`.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Failed => "failed",
            Event::Succeeded => "succeeded",
            Event::Retrying => "retrying",
            Event::Late => "late",
            Event::LongRunning => "long_running",
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A task of the run that failed, with its whole error text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FailedTask {
    /// Task name in the flow.
    pub task: String,
    /// Error text of the task's last attempt.
    pub error: String,
}

/// An alert about one flow run, sent to every channel of a notifier.
///
/// Its JSON form, which webhooks and commands receive, has every field
/// below plus `message`, the summary from [`Alert::message`]. Optional
/// fields are `null` when absent. Times are RFC 3339 timestamps in UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// Kind of event.
    pub event: Event,
    /// Deployment that started the run.
    pub deployment: String,
    /// Flow name.
    pub flow: String,
    /// Run id, as the server's API and `wflow-host runs` show it.
    pub run_id: String,
    /// Run state as text, such as `failed` or `running`.
    pub state: String,
    /// Time the schedule planned the run for, absent for runs started by
    /// hand.
    pub scheduled_for: Option<Timestamp>,
    /// Time the run started.
    pub started_at: Timestamp,
    /// Time the run ended, absent while it runs.
    pub ended_at: Option<Timestamp>,
    /// Run time in milliseconds: until the end, or until the alert for a
    /// run that has not ended.
    pub duration_ms: Option<u64>,
    /// Tasks that failed, in the order the run recorded them.
    pub failed_tasks: Vec<FailedTask>,
    /// URL of the run in the server's API.
    pub link: Option<String>,
}

impl Alert {
    /// Creates an alert with no optional fields set and no failed tasks.
    pub fn new(
        event: Event,
        deployment: impl Into<String>,
        flow: impl Into<String>,
        run_id: impl Into<String>,
        state: impl Into<String>,
        started_at: Timestamp,
    ) -> Self {
        Alert {
            event,
            deployment: deployment.into(),
            flow: flow.into(),
            run_id: run_id.into(),
            state: state.into(),
            scheduled_for: None,
            started_at,
            ended_at: None,
            duration_ms: None,
            failed_tasks: Vec::new(),
            link: None,
        }
    }

    /// Builds the one-line human summary of the alert, such as
    /// ``flow `flights` (deployment `nightly`) failed: 2 tasks failed; first: task `clean` failed: …``.
    ///
    /// Line breaks and other control characters in task errors become
    /// spaces, and each task error is cut to [`MESSAGE_ERROR_CHARS`]
    /// characters.
    pub fn message(&self) -> String {
        let subject = format!("flow `{}` (deployment `{}`)", self.flow, self.deployment);
        match self.event {
            Event::Failed => format!("{subject} failed: {}", self.failure_summary()),
            Event::Retrying => {
                format!("{subject}: a task attempt failed and will be retried: {}", self.failure_summary())
            }
            Event::Succeeded => match self.duration_ms {
                Some(ms) => format!("{subject} succeeded in {}", format_millis(ms)),
                None => format!("{subject} succeeded"),
            },
            Event::Late => match self.scheduled_for {
                Some(scheduled) => {
                    let lateness = self.started_at.duration_since(scheduled);
                    let lateness_ms = u64::try_from(lateness.as_millis()).unwrap_or(0);
                    format!(
                        "{subject} is late: scheduled for {scheduled}, started at {} ({} late)",
                        self.started_at,
                        format_millis(lateness_ms)
                    )
                }
                None => format!("{subject} is late: started at {}", self.started_at),
            },
            Event::LongRunning => match self.duration_ms {
                Some(ms) => {
                    format!("{subject} has been running for {} since {}", format_millis(ms), self.started_at)
                }
                None => format!("{subject} has been running for a long time since {}", self.started_at),
            },
        }
    }

    fn failure_summary(&self) -> String {
        match self.failed_tasks.as_slice() {
            [] => format!("run ended in state `{}`", self.state),
            [only] => describe_task(only),
            [first, ..] => {
                format!("{} tasks failed; first: {}", self.failed_tasks.len(), describe_task(first))
            }
        }
    }
}

/// Describes a failed task. An error that already names the task, as the
/// host's messages do ("task `clean` failed: ..."), is used as it is.
fn describe_task(task: &FailedTask) -> String {
    let error = truncate_chars(&single_line(&task.error), MESSAGE_ERROR_CHARS);
    if error.starts_with(&format!("task `{}` ", task.task)) {
        error
    } else {
        format!("task `{}` failed: {error}", task.task)
    }
}

/// Replaces each control character, with the whitespace around it, by one
/// space, and trims the ends.
pub(crate) fn single_line(text: &str) -> String {
    let mut line = String::with_capacity(text.len());
    let mut after_break = false;
    for c in text.trim().chars() {
        if c.is_control() {
            after_break = true;
            continue;
        }
        if after_break {
            if c.is_whitespace() {
                continue;
            }
            line.truncate(line.trim_end().len());
            line.push(' ');
            after_break = false;
        }
        line.push(c);
    }
    line
}

/// Cuts `text` to at most `max` characters, the last of which is `…` when
/// it was cut.
pub(crate) fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Formats milliseconds as `850ms` below one second, else in whole seconds
/// such as `1h 2m 5s`.
fn format_millis(ms: u64) -> String {
    let duration = if ms < 1000 { Duration::from_millis(ms) } else { Duration::from_secs(ms / 1000) };
    humantime::format_duration(duration).to_string()
}

/// The JSON form of an alert, which adds `message`.
#[derive(Serialize)]
struct Payload<'a> {
    event: Event,
    message: String,
    deployment: &'a str,
    flow: &'a str,
    run_id: &'a str,
    state: &'a str,
    scheduled_for: Option<Timestamp>,
    started_at: Timestamp,
    ended_at: Option<Timestamp>,
    duration_ms: Option<u64>,
    failed_tasks: &'a [FailedTask],
    link: Option<&'a str>,
}

impl Serialize for Alert {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Payload {
            event: self.event,
            message: self.message(),
            deployment: &self.deployment,
            flow: &self.flow,
            run_id: &self.run_id,
            state: &self.state,
            scheduled_for: self.scheduled_for,
            started_at: self.started_at,
            ended_at: self.ended_at,
            duration_ms: self.duration_ms,
            failed_tasks: &self.failed_tasks,
            link: self.link.as_deref(),
        }
        .serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed_alert(tasks: &[(&str, &str)]) -> Alert {
        let mut alert =
            Alert::new(Event::Failed, "nightly", "flights", "run-1", "failed", "2026-05-01T02:00:03Z".parse().unwrap());
        alert.failed_tasks =
            tasks.iter().map(|(task, error)| FailedTask { task: task.to_string(), error: error.to_string() }).collect();
        alert
    }

    #[test]
    fn message_two_failed_tasks() {
        let alert = failed_alert(&[("clean", "trapped: out of bounds"), ("load", "timed out")]);
        assert_eq!(
            alert.message(),
            "flow `flights` (deployment `nightly`) failed: 2 tasks failed; first: task `clean` failed: \
             trapped: out of bounds"
        );
    }

    #[test]
    fn message_one_failed_task() {
        let alert = failed_alert(&[("clean", "bad row 7")]);
        assert_eq!(alert.message(), "flow `flights` (deployment `nightly`) failed: task `clean` failed: bad row 7");
    }

    #[test]
    fn message_failed_without_tasks() {
        let alert = failed_alert(&[]);
        assert_eq!(alert.message(), "flow `flights` (deployment `nightly`) failed: run ended in state `failed`");
    }

    #[test]
    fn message_truncates_long_error() {
        let error = "x".repeat(1000);
        let alert = failed_alert(&[("clean", &error)]);
        let message = alert.message();
        let message_error = message.split("failed: ").last().unwrap();
        assert_eq!(message_error.chars().count(), MESSAGE_ERROR_CHARS);
        assert!(message_error.ends_with('…'));
        assert_eq!(alert.failed_tasks[0].error.len(), 1000);
    }

    #[test]
    fn message_is_one_line() {
        let alert = failed_alert(&[("clean", "line one\n  line two\r\n\tline three\n")]);
        assert_eq!(
            alert.message(),
            "flow `flights` (deployment `nightly`) failed: task `clean` failed: line one line two line three"
        );
    }

    #[test]
    fn message_succeeded_with_duration() {
        let mut alert = failed_alert(&[]);
        alert.event = Event::Succeeded;
        alert.duration_ms = Some(3_725_400);
        assert_eq!(alert.message(), "flow `flights` (deployment `nightly`) succeeded in 1h 2m 5s");
        alert.duration_ms = Some(850);
        assert_eq!(alert.message(), "flow `flights` (deployment `nightly`) succeeded in 850ms");
    }

    #[test]
    fn message_late_with_schedule() {
        let mut alert = failed_alert(&[]);
        alert.event = Event::Late;
        alert.scheduled_for = Some("2026-05-01T01:45:00Z".parse().unwrap());
        assert_eq!(
            alert.message(),
            "flow `flights` (deployment `nightly`) is late: scheduled for 2026-05-01T01:45:00Z, \
             started at 2026-05-01T02:00:03Z (15m 3s late)"
        );
    }

    #[test]
    fn message_long_running() {
        let mut alert = failed_alert(&[]);
        alert.event = Event::LongRunning;
        alert.duration_ms = Some(7_200_000);
        assert_eq!(
            alert.message(),
            "flow `flights` (deployment `nightly`) has been running for 2h since 2026-05-01T02:00:03Z"
        );
    }

    #[test]
    fn message_uses_task_error_that_names_the_task() {
        let alert = failed_alert(&[("clean", "task `clean` failed: bad row")]);
        assert_eq!(alert.message(), "flow `flights` (deployment `nightly`) failed: task `clean` failed: bad row");
    }

    #[test]
    fn message_retrying() {
        let mut alert = failed_alert(&[("fetch", "connection reset")]);
        alert.event = Event::Retrying;
        assert_eq!(
            alert.message(),
            "flow `flights` (deployment `nightly`): a task attempt failed and will be retried: task `fetch` failed: \
             connection reset"
        );
    }

    #[test]
    fn truncate_keeps_short_text() {
        assert_eq!(truncate_chars("héllo", 5), "héllo");
        assert_eq!(truncate_chars("héllo!", 5), "héll…");
    }
}

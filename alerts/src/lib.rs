//! Delivery of flow run alerts to webhooks, Slack and local commands, with
//! retries, and with secrets kept out of configuration files, errors and
//! logs.
//!
//! A server builds an [`Alert`] when a run fails or another selected event
//! happens, checks [`NotifyOn::wants`], and passes the alert to
//! [`Notifier::deliver`], which sends it to every channel concurrently and
//! returns one [`Delivery`] record per channel.
//!
//! # Configuration
//!
//! A deployment file embeds a `[notify]` table, read as [`NotifyConfig`]:
//!
//! ```
//! # use wflow_alerts::{ChannelConfig, NotifyConfig};
//! # #[derive(serde::Deserialize)]
//! # struct Deployment { notify: NotifyConfig }
//! # let deployment: Deployment = toml::from_str(r#"
//! [notify.on]
//! failure = true         # default true
//! success = false        # default false
//! retry = false          # default false: runs that fail and will be retried
//! late_after = "10m"     # default off: runs that start this late
//! longer_than = "2h"     # default off: runs still running after this long
//!
//! [notify.retry]
//! attempts = 3           # per channel, including the first
//! backoff = "1s"         # doubles on each retry, with jitter
//! max_backoff = "30s"
//!
//! [[notify.channels]]
//! type = "webhook"
//! name = "ops"
//! url = { env = "OPS_WEBHOOK_URL" }
//! headers = { Authorization = { secret = "ops_token" } }
//! timeout = "10s"
//!
//! [[notify.channels]]
//! type = "slack"
//! url = { secret = "slack_webhook" }
//!
//! [[notify.channels]]
//! type = "command"
//! name = "pager"
//! program = "/usr/local/bin/page-oncall"
//! args = ["--team", "data"]
//! timeout = "30s"
//! env = { PAGER_TOKEN = { secret = "pager_token" } }
//! # "#)?;
//! # assert_eq!(deployment.notify.channels.len(), 3);
//! # assert!(matches!(deployment.notify.channels[2], ChannelConfig::Command(_)));
//! # Ok::<(), toml::de::Error>(())
//! ```
//!
//! Every table and key is optional except `type` and `url` or `program` in
//! a channel. Durations are written as in `humantime::parse_duration`, such
//! as `500ms`, `10s`, `2m` or `1h 30m`, and are at most 100 years. Channel
//! types:
//!
//! - `webhook` POSTs the alert JSON below with `Content-Type:
//!   application/json` and the configured `headers`. See [`WebhookConfig`].
//! - `slack` POSTs a Slack incoming-webhook message: `text` contains the
//!   alert's message and `blocks` adds the failed tasks and the run link.
//!   See [`SlackConfig`].
//! - `command` runs a program without a shell, with the alert JSON on stdin
//!   and `WFLOW_ALERT_EVENT`, `WFLOW_ALERT_FLOW`, `WFLOW_ALERT_RUN_ID` and
//!   `WFLOW_ALERT_STATE` in its environment. Exit status 0 is success. See
//!   [`CommandConfig`].
//!
//! An attempt that fails with a connection error, a timeout, HTTP 408, 429
//! or 5xx, or a non-zero exit is retried. Other HTTP statuses, and programs
//! that cannot be started, are not.
//!
//! # Secrets
//!
//! URLs, header values and command variables are [`SecretRef`]s, written
//! as `{ env = "VARIABLE" }` for an environment variable of the server, or
//! `{ secret = "name" }` for an entry of the secrets file that
//! [`Secrets::load`] reads. A plain string is rejected, and so is a secrets
//! file that group or others can access. References are resolved at each
//! delivery. [`Secret`] values print as `[redacted]`, reqwest errors are
//! stripped of their URL, and resolved values are replaced by `[redacted]`
//! in every error that [`Delivery`] records or the crate logs.
//!
//! # Payload
//!
//! Webhooks and commands receive the [`Alert`] as JSON. Optional fields are
//! `null` when absent, and times are RFC 3339 in UTC:
//!
//! ```
//! # use wflow_alerts::{Alert, Event, FailedTask};
//! # let mut alert = Alert::new(
//! #     Event::Failed, "nightly", "flights", "0196a3f2-7b1c-7c3e-9d2a-5f4e3b2a1c0d", "failed",
//! #     "2026-05-01T02:00:03Z".parse()?,
//! # );
//! # alert.scheduled_for = Some("2026-05-01T02:00:00Z".parse()?);
//! # alert.ended_at = Some("2026-05-01T02:03:10Z".parse()?);
//! # alert.duration_ms = Some(187_000);
//! # alert.failed_tasks = vec![
//! #     FailedTask { task: "clean".into(), error: "trapped: integer divide by zero".into() },
//! #     FailedTask { task: "load".into(), error: "could not get its input: `clean` failed".into() },
//! # ];
//! # alert.link = Some("http://127.0.0.1:8080/api/runs/0196a3f2-7b1c-7c3e-9d2a-5f4e3b2a1c0d".into());
//! # let expected = serde_json::json!(
//! {
//!   "event": "failed",
//!   "message": "flow `flights` (deployment `nightly`) failed: 2 tasks failed; first: task `clean` failed: trapped: integer divide by zero",
//!   "deployment": "nightly",
//!   "flow": "flights",
//!   "run_id": "0196a3f2-7b1c-7c3e-9d2a-5f4e3b2a1c0d",
//!   "state": "failed",
//!   "scheduled_for": "2026-05-01T02:00:00Z",
//!   "started_at": "2026-05-01T02:00:03Z",
//!   "ended_at": "2026-05-01T02:03:10Z",
//!   "duration_ms": 187000,
//!   "failed_tasks": [
//!     { "task": "clean", "error": "trapped: integer divide by zero" },
//!     { "task": "load", "error": "could not get its input: `clean` failed" }
//!   ],
//!   "link": "http://127.0.0.1:8080/api/runs/0196a3f2-7b1c-7c3e-9d2a-5f4e3b2a1c0d"
//! }
//! # );
//! # assert_eq!(serde_json::to_value(&alert)?, expected);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `event` is one of `failed`, `succeeded`, `retrying`, `late` and
//! `long_running`. `message` is built by [`Alert::message`], with each task
//! error cut to 300 characters; `failed_tasks` keeps the errors whole.
//!
//! # Delivering
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use wflow_alerts::{Alert, Event, Notifier, NotifyConfig, Secrets};
//! # async fn example(config: NotifyConfig, alert: Alert) -> Result<(), Box<dyn std::error::Error>> {
//! let secrets = Arc::new(Secrets::load("/etc/wflow/secrets.toml")?);
//! let notifier = Notifier::from_config(&config, secrets)?;
//! if config.on.wants(alert.event) {
//!     for delivery in notifier.deliver(&alert).await {
//!         println!("{delivery}");
//!     }
//! }
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod alert;
mod channel;
mod config;
mod deliver;
mod duration;
mod notify_on;
mod retry;
mod secret;

pub use alert::{Alert, Event, FailedTask, MESSAGE_ERROR_CHARS};
pub use channel::{
    ChannelConfig, ChannelKind, CommandConfig, DEFAULT_COMMAND_TIMEOUT, DEFAULT_HTTP_TIMEOUT, STDERR_TAIL_BYTES,
    SlackConfig, WebhookConfig,
};
pub use config::{ConfigError, NotifyConfig};
pub use deliver::{Delivery, Notifier};
pub use notify_on::NotifyOn;
pub use retry::RetryPolicy;
pub use secret::{Secret, SecretError, SecretRef, Secrets, SecretsFileError};

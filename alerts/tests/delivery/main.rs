//! Delivery over real HTTP on 127.0.0.1 and real processes.

mod command;
mod config;
mod receiver;
mod slack;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use wflow_alerts::{Alert, ChannelConfig, Event, FailedTask, Notifier, RetryPolicy, Secrets};

/// Returns a retry policy with millisecond waits, so that retries do not slow the
/// tests down.
fn fast_retry(attempts: u32) -> RetryPolicy {
    RetryPolicy { attempts, backoff: Duration::from_millis(1), max_backoff: Duration::from_millis(5) }
}

/// Parses channels written as `[[channels]]` tables.
fn channels(toml_text: &str) -> Vec<ChannelConfig> {
    #[derive(serde::Deserialize)]
    struct List {
        channels: Vec<ChannelConfig>,
    }
    toml::from_str::<List>(toml_text).expect("channel TOML is valid").channels
}

fn notifier(toml_text: &str, secrets: Secrets, attempts: u32) -> Notifier {
    Notifier::new(channels(toml_text), Arc::new(secrets)).unwrap().with_retry(fast_retry(attempts)).unwrap()
}

fn failed_alert() -> Alert {
    let mut alert = Alert::new(
        Event::Failed,
        "nightly",
        "flights",
        "0196a3f2-7b1c-7c3e-9d2a-5f4e3b2a1c0d",
        "failed",
        "2026-05-01T02:00:03Z".parse().unwrap(),
    );
    alert.scheduled_for = Some("2026-05-01T02:00:00Z".parse().unwrap());
    alert.ended_at = Some("2026-05-01T02:03:10Z".parse().unwrap());
    alert.duration_ms = Some(187_000);
    alert.failed_tasks = vec![
        FailedTask { task: "clean".into(), error: "trapped: integer divide by zero".into() },
        FailedTask { task: "load".into(), error: "could not get its input: `clean` failed".into() },
    ];
    alert.link = Some("http://127.0.0.1:8080/api/runs/0196a3f2-7b1c-7c3e-9d2a-5f4e3b2a1c0d".into());
    alert
}

//! Retries with backoff and jitter, task and flow timeouts, and cancellation.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wflow_host::executor::{NoObserver, RunOptions};
use wflow_host::state::{RunState, RunStore, TaskState};

use crate::support::{self, Sandbox};

/// Writes a flow with one fixture task per `(id, mode, settings)`, where
/// `settings` are extra TOML lines for the task, and `flow_settings` extra
/// lines for the `[flow]` table.
fn fixture_flow(sandbox: &Sandbox, flow_settings: &str, tasks: &[(&str, &str, &str)]) -> PathBuf {
    let component = support::component("wflow_fixture_faults").display().to_string();
    let mut text = format!("[flow]\nname = \"reliability\"\n{flow_settings}\n");
    for (id, mode, _) in tasks {
        text.push_str(&format!("\n[params.{id}_mode]\ntype = \"string\"\ndefault = \"{mode}\"\n"));
    }
    for (id, _, settings) in tasks {
        text.push_str(&format!(
            "\n[[tasks]]\nid = \"{id}\"\ncomponent = \"{component}\"\ninput = {{ param = \"{id}_mode\" }}\n{settings}\n"
        ));
    }
    sandbox.write("reliability.toml", &text)
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_then_success() {
    let sandbox = Sandbox::new();
    let retry = "retry = { attempts = 3, delay = \"10ms\", jitter = 0.0 }";
    let flow = support::load(&fixture_flow(&sandbox, "", &[("flaky", "flaky", retry)]), &[]);
    let host = sandbox.host();

    let report = support::run(&host, &flow).await;

    let task = report.task("flaky").unwrap();
    assert_eq!(report.state, RunState::Completed, "{report:#?}");
    assert_eq!(task.state, TaskState::Completed);
    assert_eq!(task.attempts, 3);
    let record = host.runs().tasks(&report.run_id).unwrap().remove(0);
    let states: Vec<TaskState> = record.attempts.iter().map(|attempt| attempt.state).collect();
    assert_eq!(states, [TaskState::Failed, TaskState::Failed, TaskState::Completed]);
    let delays: Vec<Option<u64>> = record.attempts.iter().map(|attempt| attempt.retry_delay_ms).collect();
    assert_eq!(delays, [Some(10), Some(20), None], "backoff doubles the delay by default");
    assert_eq!(record.attempts[0].error.as_deref(), Some("task `flaky` failed: attempt 1 fails on purpose"));
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_exhausted_fails() {
    let sandbox = Sandbox::new();
    let retry = "retry = { attempts = 3, delay = \"5ms\" }";
    let flow = support::load(&fixture_flow(&sandbox, "", &[("always", "retryable", retry)]), &[]);

    let report = support::run(&sandbox.host(), &flow).await;

    let task = report.task("always").unwrap();
    assert_eq!(report.state, RunState::Failed);
    assert_eq!(task.state, TaskState::Failed);
    assert_eq!(task.attempts, 3);
    assert_eq!(task.error.as_deref(), Some("task `always` failed: the fixture was asked to fail, retryably"));
}

#[tokio::test(flavor = "multi_thread")]
async fn fatal_error_is_not_retried() {
    let sandbox = Sandbox::new();
    let retry = "retry = { attempts = 5, delay = \"5ms\" }";
    let flow = support::load(
        &fixture_flow(
            &sandbox,
            "",
            &[("fatal", "error", retry), ("hog", "alloc", &format!("{retry}\nmemory = \"8MiB\""))],
        ),
        &[],
    );

    let report = support::run(&sandbox.host(), &flow).await;

    assert_eq!(report.task("fatal").unwrap().attempts, 1);
    assert_eq!(report.task("fatal").unwrap().state, TaskState::Failed);
    assert_eq!(report.task("hog").unwrap().attempts, 1, "a memory limit is not retried");
}

/// Retry delays vary with jitter and stay within `base * [1 - jitter, 1 + jitter]`.
#[tokio::test(flavor = "multi_thread")]
async fn jitter_varies_within_bounds() {
    let sandbox = Sandbox::new();
    let retry = "retry = { attempts = 9, delay = \"20ms\", backoff = 1.0, jitter = 0.5 }";
    let flow = support::load(&fixture_flow(&sandbox, "", &[("always", "retryable", retry)]), &[]);
    let host = sandbox.host();

    let report = support::run(&host, &flow).await;

    let record = host.runs().tasks(&report.run_id).unwrap().remove(0);
    let delays: Vec<u64> = record.attempts.iter().filter_map(|attempt| attempt.retry_delay_ms).collect();
    assert_eq!(delays.len(), 8);
    for delay in &delays {
        assert!((10..=30).contains(delay), "delay {delay} ms is outside [10, 30] ms: {delays:?}");
    }
    let distinct: std::collections::BTreeSet<u64> = delays.iter().copied().collect();
    assert!(distinct.len() >= 3, "jitter must vary the delays: {delays:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn timeout_stops_busy_loop_without_fuel() {
    let sandbox = Sandbox::new();
    let settings = "fuel = \"unlimited\"\ntimeout = \"200ms\"";
    let flow =
        support::load(&fixture_flow(&sandbox, "", &[("spin", "loop", settings), ("nap", "sleep", settings)]), &[]);
    let started = Instant::now();

    let report = support::run(&sandbox.host(), &flow).await;

    assert_eq!(report.state, RunState::Failed);
    for id in ["spin", "nap"] {
        let task = report.task(id).unwrap();
        assert_eq!(task.state, TaskState::TimedOut, "{id}");
        assert_eq!(task.error.as_deref(), Some(format!("task `{id}` timed out after 200ms").as_str()));
    }
    assert!(started.elapsed() < Duration::from_secs(30), "the timeout did not stop the tasks");
}

#[tokio::test(flavor = "multi_thread")]
async fn flow_timeout_cancels_the_run() {
    let sandbox = Sandbox::new();
    let tasks = [("spin", "loop", "fuel = \"unlimited\""), ("later", "echo", "input = { task = \"spin\" }")];
    let manifest = fixture_flow(&sandbox, "timeout = \"300ms\"", &tasks[..1]);
    let component = support::component("wflow_fixture_faults").display().to_string();
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text.push_str(&format!("\n[[tasks]]\nid = \"later\"\ncomponent = \"{component}\"\n{}\n", tasks[1].2));
    std::fs::write(&manifest, text).unwrap();
    let flow = support::load(&manifest, &[]);
    let host = sandbox.host();

    let report = support::run(&host, &flow).await;

    assert_eq!(report.state, RunState::TimedOut);
    assert_eq!(report.task("spin").unwrap().state, TaskState::Cancelled);
    assert_eq!(report.task("later").unwrap().state, TaskState::Cancelled);
    assert_eq!(host.runs().run(&report.run_id).unwrap().unwrap().state, RunState::TimedOut);
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_token_stops_running_tasks() {
    let sandbox = Sandbox::new();
    let flow = support::load(
        &fixture_flow(&sandbox, "", &[("nap", "sleep", ""), ("spin", "loop", "fuel = \"unlimited\"")]),
        &[],
    );
    let host = sandbox.host();
    let options = RunOptions::default();
    let cancel = options.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        cancel.cancel();
    });

    let report = host.run(&flow, &options, Arc::new(NoObserver)).await.unwrap();

    assert_eq!(report.state, RunState::Cancelled);
    assert_eq!(report.task("nap").unwrap().state, TaskState::Cancelled);
    assert_eq!(report.task("spin").unwrap().state, TaskState::Cancelled);
}

#[tokio::test(flavor = "multi_thread")]
async fn dropped_run_stops_its_tasks() {
    let sandbox = Sandbox::new();
    let flow = support::load(
        &fixture_flow(&sandbox, "", &[("nap", "sleep", ""), ("spin", "loop", "fuel = \"unlimited\"")]),
        &[],
    );
    let host = sandbox.host();
    let runtime = host.runtime().clone();

    let options = RunOptions::default();
    let run = host.run(&flow, &options, Arc::new(NoObserver));
    let stopped = tokio::time::timeout(Duration::from_millis(300), run).await;

    assert!(stopped.is_err(), "the run ended on its own: {stopped:?}");
    // Both tasks would run for an hour or more; dropping the run's future
    // must end their attempts.
    let waited = Instant::now();
    while runtime.active_attempts() > 0 && waited.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(runtime.active_attempts(), 0);
}

#[test]
fn sigterm_cancels_cli_run() {
    let sandbox = Sandbox::new();
    let manifest = fixture_flow(&sandbox, "", &[("spin", "loop", "fuel = \"unlimited\"")]);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_wflow-host"))
        .env("WFLOW_STATE_DIR", sandbox.state_dir())
        .args(["run", "--json", manifest.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();

    std::thread::sleep(Duration::from_millis(700));
    let killed = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let output = child.wait_with_output().unwrap();

    assert!(killed.success());
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["state"], "cancelled", "{summary}");
    assert_eq!(summary["tasks"][0]["state"], "cancelled", "{summary}");
    let host = sandbox.host();
    let record = host.runs().run(summary["run_id"].as_str().unwrap()).unwrap().unwrap();
    assert_eq!(record.state, RunState::Cancelled);
}

#[tokio::test(flavor = "multi_thread")]
async fn chatty_task_logs_are_capped() {
    let sandbox = Sandbox::new();
    let flow = support::load(&fixture_flow(&sandbox, "", &[("chatty", "chatty", "")]), &[]);
    let host = sandbox.host();

    let report = support::run(&host, &flow).await;

    assert_eq!(report.state, RunState::Completed, "{report:#?}");
    let logs = host.runs().logs(&report.run_id, "chatty").unwrap();
    assert!(logs.len() < 40_000, "{} lines were kept", logs.len());
    let markers: Vec<&str> =
        logs.iter().map(|line| line.message.as_str()).filter(|message| message.contains("dropped")).collect();
    assert_eq!(markers.len(), 2, "one marker for stdout and one for log lines: {markers:?}");
    assert!(markers.iter().any(|marker| marker.contains("more bytes dropped")), "{markers:?}");
    assert!(markers.iter().any(|marker| marker.contains("more log lines dropped")), "{markers:?}");
}

/// A thousand tasks fanned out from one all run, and a task that reads from
/// all of them gets every output.
#[tokio::test(flavor = "multi_thread")]
async fn wide_fan_out_completes() {
    let sandbox = Sandbox::new();
    let component = support::component("wflow_fixture_faults").display().to_string();
    let mut text = format!(
        "[flow]\nname = \"wide\"\n\n[params.mode]\ntype = \"string\"\ndefault = \"echo\"\n\n\
         [defaults]\ncache = false\n\n[[tasks]]\nid = \"source\"\ncomponent = \"{component}\"\ninput = {{ param = \"mode\" }}\n"
    );
    let ids: Vec<String> = (0..1000).map(|index| format!("leaf{index}")).collect();
    for id in &ids {
        text.push_str(&format!(
            "\n[[tasks]]\nid = \"{id}\"\ncomponent = \"{component}\"\ninput = {{ task = \"source\" }}\n"
        ));
    }
    let flow = support::load(&sandbox.write("wide.toml", &text), &[]);

    let report = support::run(&sandbox.host(), &flow).await;

    assert_eq!(report.state, RunState::Completed);
    assert_eq!(report.count(TaskState::Completed), 1001);
}

/// With `max_parallel = 1`, the second of two independent tasks starts only
/// after the first has ended.
#[tokio::test(flavor = "multi_thread")]
async fn max_parallel_one_runs_tasks_in_turn() {
    let sandbox = Sandbox::new();
    let tasks = [("first", "nap", "cache = false"), ("second", "nap", "cache = false")];
    let flow = support::load(&fixture_flow(&sandbox, "max_parallel = 1", &tasks), &[]);
    let host = sandbox.host();

    let report = support::run(&host, &flow).await;

    assert_eq!(report.state, RunState::Completed);
    let mut attempts: Vec<_> =
        host.runs().tasks(&report.run_id).unwrap().into_iter().map(|task| task.attempts[0].clone()).collect();
    attempts.sort_by_key(|attempt| attempt.started_at_ms);
    assert!(attempts[1].started_at_ms >= attempts[0].ended_at_ms, "the attempts overlap: {attempts:?}");
}

/// Once a run is cancelled, tasks waiting for a free slot and map elements
/// not yet started never start.
#[tokio::test(flavor = "multi_thread")]
async fn cancel_starts_nothing_new() {
    let sandbox = Sandbox::new();
    let mut tasks = vec![("sleeper", "nap", "cache = false")];
    let ids: Vec<String> = (0..10).map(|index| format!("echo{index}")).collect();
    for id in &ids {
        tasks.push((id.as_str(), "echo", "cache = false"));
    }
    let flow = support::load(&fixture_flow(&sandbox, "max_parallel = 1", &tasks), &[]);
    let host = sandbox.host();
    let options = RunOptions::default();
    let cancel = options.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cancel.cancel();
    });

    let report = host.run(&flow, &options, Arc::new(NoObserver)).await.unwrap();

    assert_eq!(report.state, RunState::Cancelled);
    assert_eq!(report.count(TaskState::Completed), 0, "{report:#?}");
    assert_eq!(report.count(TaskState::Cancelled), 11);
    let records = host.runs().tasks(&report.run_id).unwrap();
    assert!(records.iter().all(|record| record.attempts.len() <= 1), "{records:?}");
    let echo = report.task("echo3").unwrap();
    assert_eq!(echo.error.as_deref(), Some("task `echo3` stopped because the run was cancelled"));
}

//! Faults of a task end that task with its own plain message; the host and
//! the independent branches of the flow carry on.

use wflow_host::state::{RunState, TaskState};

use crate::support::{self, Sandbox};

/// A flow with one fixture task per fault, an independent healthy branch,
/// and a task downstream of a failing one.
fn faults_manifest(sandbox: &Sandbox) -> std::path::PathBuf {
    let component = support::component("wflow_fixture_faults").display().to_string();
    let text = format!(
        r#"
[flow]
name = "faults"

[params.loop]
type = "string"
default = "loop"

[params.alloc]
type = "string"
default = "alloc"

[params.trap]
type = "string"
default = "trap"

[params.error]
type = "string"
default = "error"

[params.echo]
type = "string"
default = "echo"

[params.mute]
type = "string"
default = "mute"

[defaults]
fuel = 50_000_000
memory = "16MiB"

[[tasks]]
id = "spin"
component = "{component}"
input = {{ param = "loop" }}

[[tasks]]
id = "hog"
component = "{component}"
input = {{ param = "alloc" }}

[[tasks]]
id = "crash"
component = "{component}"
input = {{ param = "trap" }}

[[tasks]]
id = "refuse"
component = "{component}"
input = {{ param = "error" }}

[[tasks]]
id = "mumble"
component = "{component}"
input = {{ param = "mute" }}

[[tasks]]
id = "after_refuse"
component = "{component}"
input = {{ task = "refuse" }}

[[tasks]]
id = "healthy"
component = "{component}"
input = {{ param = "echo" }}

[[tasks]]
id = "after_healthy"
component = "{component}"
input = {{ task = "healthy" }}
"#
    );
    sandbox.write("faults.toml", &text)
}

#[tokio::test(flavor = "multi_thread")]
async fn each_fault_gets_its_own_message() {
    let sandbox = Sandbox::new();
    let flow = support::load(&faults_manifest(&sandbox), &[]);

    let report = support::run(&sandbox.host(), &flow).await;

    assert_eq!(report.state, RunState::Failed);
    let error = |id: &str| report.task(id).unwrap().error.clone().unwrap_or_default();
    assert_eq!(
        error("spin"),
        "task `spin` ran out of fuel after 50000000 units; raise its `fuel` limit if the work is expected"
    );
    assert_eq!(error("hog"), "task `hog` exceeded its memory limit of 16 MiB");
    assert!(
        error("crash").starts_with("task `crash` panicked: the fixture was asked to trap (at "),
        "{}",
        error("crash")
    );
    assert_eq!(error("refuse"), "task `refuse` failed: the fixture was asked to fail");
    assert_eq!(error("mumble"), "task `mumble` failed with an empty error message");
    assert_eq!(error("after_refuse"), "task `after_refuse` skipped because task `refuse` did not complete");
    for id in ["spin", "hog", "crash", "refuse"] {
        assert_eq!(report.task(id).unwrap().state, TaskState::Failed, "{id}");
        assert!(!error(id).contains("wasm backtrace"), "{id}: {}", error(id));
    }
    assert_eq!(report.task("after_refuse").unwrap().state, TaskState::Skipped);
    assert_eq!(report.task("healthy").unwrap().state, TaskState::Completed);
    assert_eq!(report.task("after_healthy").unwrap().state, TaskState::Completed);
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_detail_keeps_backtrace_for_verbose() {
    let sandbox = Sandbox::new();
    let flow = support::load(&faults_manifest(&sandbox), &[]);

    let report = support::run(&sandbox.host(), &flow).await;

    let detail = report.task("crash").unwrap().detail.clone().unwrap_or_default();
    assert!(detail.contains("wasm backtrace") || detail.contains("unreachable"), "{detail}");
    assert!(report.task("healthy").unwrap().detail.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn task_logs_and_output_are_recorded() {
    let sandbox = Sandbox::new();
    let flow = support::load(&faults_manifest(&sandbox), &[]);
    let host = sandbox.host();

    let report = support::run(&host, &flow).await;

    use wflow_host::runtime::{LogLevel, LogStream};
    use wflow_host::state::RunStore;
    let runs = host.runs();
    let logs = runs.logs(&report.run_id, "healthy").unwrap();
    let lines: Vec<(LogLevel, LogStream, &str)> =
        logs.iter().map(|line| (line.level, line.stream, line.message.as_str())).collect();
    assert_eq!(
        lines,
        [
            (LogLevel::Trace, LogStream::Log, "trace line"),
            (LogLevel::Debug, LogStream::Log, "debug line"),
            (LogLevel::Info, LogStream::Log, "echoing `echo`"),
            (LogLevel::Warn, LogStream::Log, "warn line"),
            (LogLevel::Error, LogStream::Log, "error line"),
            (LogLevel::Info, LogStream::Stdout, "stdout line"),
            (LogLevel::Warn, LogStream::Stderr, "stderr line"),
        ]
    );
    let record = runs.run(&report.run_id).unwrap().expect("the run is recorded");
    assert_eq!(record.state, RunState::Failed);
    let tasks = runs.tasks(&report.run_id).unwrap();
    assert_eq!(tasks.len(), 8);
    let spin = tasks.iter().find(|task| task.task_id == "spin").unwrap();
    assert_eq!(spin.state, TaskState::Failed);
    assert_eq!(spin.fuel_used, 50_000_000);
}

#[test]
fn cli_exits_nonzero_when_a_task_fails() {
    let sandbox = Sandbox::new();
    let manifest = faults_manifest(&sandbox);

    let output = support::wflow(sandbox.path(), &sandbox.state_dir(), &["run", manifest.to_str().unwrap()]);

    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("task `hog` exceeded its memory limit of 16 MiB"), "{stdout}");
    assert!(stdout.contains("flow `faults` failed"), "{stdout}");
    assert!(!stdout.contains("wasm backtrace"), "{stdout}");
}

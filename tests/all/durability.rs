//! The state directory survives a killed host, and processes that share it
//! take turns.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::{self, Sandbox};

fn one_task_flow(sandbox: &Sandbox, name: &str, mode: &str, settings: &str) -> PathBuf {
    let component = support::component("wflow_fixture_faults").display().to_string();
    sandbox.write(
        &format!("{name}.toml"),
        &format!(
            "[flow]\nname = \"{name}\"\n\n[params.mode]\ntype = \"string\"\ndefault = \"{mode}\"\n\n\
             [[tasks]]\nid = \"only\"\ncomponent = \"{component}\"\ninput = {{ param = \"mode\" }}\ncache = false\n{settings}\n"
        ),
    )
}

fn spawn_run(state_dir: &Path, manifest: &Path, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_wflow-host"))
        .env("WFLOW_STATE_DIR", state_dir)
        .args(extra)
        .args(["run", "--json", manifest.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn list_runs(sandbox: &Sandbox) -> serde_json::Value {
    let output = support::wflow(sandbox.path(), &sandbox.state_dir(), &["runs", "list", "--json"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn killed_run_is_marked_crashed() {
    let sandbox = Sandbox::new();
    let quick = one_task_flow(&sandbox, "quick", "echo", "");
    let endless = one_task_flow(&sandbox, "endless", "loop", "fuel = \"unlimited\"");
    let first = support::wflow(sandbox.path(), &sandbox.state_dir(), &["run", quick.to_str().unwrap()]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));

    let mut child = spawn_run(&sandbox.state_dir(), &endless, &[]);
    std::thread::sleep(Duration::from_millis(800));
    child.kill().unwrap();
    child.wait().unwrap();
    let runs = list_runs(&sandbox);

    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0]["flow"], "endless");
    assert_eq!(runs[0]["state"], "crashed");
    assert_eq!(runs[1]["flow"], "quick");
    assert_eq!(runs[1]["state"], "completed", "an earlier record survives the kill");
    let again = support::wflow(sandbox.path(), &sandbox.state_dir(), &["run", quick.to_str().unwrap()]);
    assert!(again.status.success(), "the state directory is usable after the kill");
}

#[test]
fn concurrent_runs_take_turns() {
    let sandbox = Sandbox::new();
    let nap = one_task_flow(&sandbox, "nap", "nap", "");
    // Open the state directory once so that both runs find it compiled.
    support::wflow(sandbox.path(), &sandbox.state_dir(), &["runs", "list"]);

    let first = spawn_run(&sandbox.state_dir(), &nap, &[]);
    let second = spawn_run(&sandbox.state_dir(), &nap, &[]);
    let first = first.wait_with_output().unwrap();
    let second = second.wait_with_output().unwrap();

    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    let runs = list_runs(&sandbox);
    let states: Vec<&str> = runs.as_array().unwrap().iter().map(|run| run["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["completed", "completed"]);
}

#[test]
fn waiting_too_long_fails_clearly() {
    let sandbox = Sandbox::new();
    let nap = one_task_flow(&sandbox, "nap", "nap", "");
    let holder = spawn_run(&sandbox.state_dir(), &nap, &[]);
    std::thread::sleep(Duration::from_millis(500));

    let waiter = support::wflow(sandbox.path(), &sandbox.state_dir(), &["--state-wait", "100ms", "runs", "list"]);
    let holder = holder.wait_with_output().unwrap();

    assert!(holder.status.success());
    assert_eq!(waiter.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&waiter.stderr);
    assert!(stderr.contains("is in use by another wflow-host process, which did not finish within 100ms"), "{stderr}");
    assert!(stderr.contains("--state-wait"), "{stderr}");
}

/// A task's log lines reach the terminal while it still runs.
#[test]
fn logs_are_shown_live() {
    use std::io::BufRead as _;
    let sandbox = Sandbox::new();
    let talk = one_task_flow(&sandbox, "talk", "talk", "");
    let mut child = spawn_run(&sandbox.state_dir(), &talk, &[]);

    let stderr = child.stderr.take().unwrap();
    let first = std::io::BufReader::new(stderr).lines().next().unwrap().unwrap();
    let still_running = child.try_wait().unwrap().is_none();
    let output = child.wait_with_output().unwrap();

    assert_eq!(first, "[only] info: about to nap");
    assert!(still_running, "the line must arrive before the task ends");
    assert!(output.status.success());
}

#[test]
fn resume_runs_only_what_did_not_complete() {
    let sandbox = Sandbox::new();
    let component = support::component("wflow_fixture_faults").display().to_string();
    let manifest = sandbox.write(
        "resume.toml",
        &format!(
            r#"
[flow]
name = "resume"

[params.first]
type = "string"
default = "echo-first"

[defaults]
cache = false

[[tasks]]
id = "first"
component = "{component}"
input = {{ param = "first" }}

[[tasks]]
id = "second"
component = "{component}"
input = {{ file = "second.json" }}

[[tasks]]
id = "third"
component = "{component}"
input = {{ task = "second" }}
"#
        ),
    );
    sandbox.write("second.json", "\"error\"");
    let manifest = manifest.to_str().unwrap();
    let failed = support::wflow(sandbox.path(), &sandbox.state_dir(), &["run", "--json", manifest]);
    let failed: serde_json::Value = serde_json::from_slice(&failed.stdout).unwrap();
    let failed_id = failed["run_id"].as_str().unwrap();

    sandbox.write("second.json", "\"echo-second\"");
    let resumed = support::wflow(sandbox.path(), &sandbox.state_dir(), &["run", "--json", "--resume", failed_id]);
    let completed = support::wflow(sandbox.path(), &sandbox.state_dir(), &["run", "--resume", failed_id]);
    let again = {
        let summary: serde_json::Value = serde_json::from_slice(&resumed.stdout).unwrap();
        summary["run_id"].as_str().unwrap().to_string()
    };
    let twice = support::wflow(sandbox.path(), &sandbox.state_dir(), &["run", "--resume", &again]);

    assert_eq!(failed["state"], "failed");
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&resumed.stdout).unwrap();
    let state =
        |id: &str| summary["tasks"].as_array().unwrap().iter().find(|task| task["id"] == id).unwrap()["state"].clone();
    assert_eq!(state("first"), "cached", "a completed task is reused, not run: {summary}");
    assert_eq!(state("second"), "completed");
    assert_eq!(state("third"), "completed");
    let show = support::wflow(sandbox.path(), &sandbox.state_dir(), &["runs", "show", "--json", &again]);
    let show: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(show["run"]["resumed_from"], failed_id);
    assert!(completed.status.success(), "resuming the failed run a second time works too");
    assert_eq!(twice.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&twice.stderr).contains("completed; there is nothing to resume"));
}

/// Starts a run of the `talk` fixture in another process and returns it
/// with its run id, once its first log line is out.
fn start_talking_run(sandbox: &Sandbox) -> (Child, String) {
    use std::io::BufRead as _;
    let talk = one_task_flow(sandbox, "talk", "talk", "");
    let mut child = spawn_run(&sandbox.state_dir(), &talk, &[]);
    // The first live line on the terminal means the live log has it too.
    let stderr = child.stderr.take().unwrap();
    std::io::BufReader::new(stderr).lines().next().unwrap().unwrap();
    let live = std::fs::read_dir(sandbox.state_dir().join("logs")).unwrap().next().unwrap().unwrap().path();
    let run_id = live.file_stem().unwrap().to_str().unwrap().to_string();
    (child, run_id)
}

/// `runs logs --follow` reads a run that another process is running, and
/// stops at its end.
#[test]
fn follow_reads_a_live_run() {
    let sandbox = Sandbox::new();
    let (child, run_id) = start_talking_run(&sandbox);

    let follow = support::wflow(sandbox.path(), &sandbox.state_dir(), &["runs", "logs", &run_id, "--follow"]);
    let finished = child.wait_with_output().unwrap();

    assert!(finished.status.success());
    assert!(follow.status.success(), "{}", String::from_utf8_lossy(&follow.stderr));
    let stdout = String::from_utf8_lossy(&follow.stdout);
    assert!(stdout.contains("[only#1] info: about to nap"), "{stdout}");
    assert!(stdout.trim_end().ends_with(&format!("run {run_id} ended: completed")), "{stdout}");
}

/// Following the log of a run whose process was killed ends with a message
/// instead of waiting forever.
#[test]
fn follow_ends_for_killed_run() {
    let sandbox = Sandbox::new();
    let (mut child, run_id) = start_talking_run(&sandbox);
    child.kill().unwrap();
    child.wait().unwrap();

    let mut follow = Command::new(env!("CARGO_BIN_EXE_wflow-host"))
        .env("WFLOW_STATE_DIR", sandbox.state_dir())
        .args(["runs", "logs", &run_id, "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut waited = Duration::ZERO;
    while follow.try_wait().unwrap().is_none() && waited < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
        waited += Duration::from_millis(100);
    }
    if follow.try_wait().unwrap().is_none() {
        follow.kill().unwrap();
        panic!("runs logs --follow did not end for a killed run");
    }
    let output = follow.wait_with_output().unwrap();

    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is no longer running and its live log has no end marker"), "{stderr}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("about to nap"));
}

//! `wflow-host new`: every generated skeleton builds with its own build
//! script and runs as it is, with no change.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{self, Sandbox};

/// Folders with the guest tools that `./scripts/install-guest-tools` puts
/// under `target/guest-tools`, for the skeletons' build scripts.
fn tool_path() -> String {
    let tools = support::root().join("target/guest-tools");
    let mut dirs: Vec<PathBuf> =
        vec![tools.join("venv/bin"), tools.join("node/node_modules/.bin"), tools.join("cargo/bin")];
    dirs.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    std::env::join_paths(dirs).unwrap().into_string().unwrap()
}

fn check(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed with {}:\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs a skeleton's `build.sh`. Rust skeletons share one target folder,
/// so that their dependencies are compiled once.
fn build(task_dir: &Path) {
    let output = Command::new(task_dir.join("build.sh"))
        .env("PATH", tool_path())
        .env("CARGO_TARGET_DIR", support::root().join("target/skeletons"))
        .output()
        .expect("failed to start build.sh");
    check(
        &output,
        &format!("{}/build.sh (install missing tools with ./scripts/install-guest-tools)", task_dir.display()),
    );
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Creates a task in `language`, builds it and runs its own flow, then runs
/// it on an input that it must reject.
fn skeleton_builds_and_runs(language: &str) {
    let sandbox = Sandbox::new();
    let state = sandbox.state_dir();
    let output = support::wflow(sandbox.path(), &state, &["new", "task", "greet", "--lang", language]);
    check(&output, "wflow-host new task");
    let task_dir = sandbox.path().join("greet");
    build(&task_dir);

    let output = support::wflow(&task_dir, &state, &["run", "flow.toml", "--param", "greeting=Hi"]);
    check(&output, "wflow-host run");
    assert_eq!(read_json(&task_dir.join("out/greet.json")), serde_json::json!({"greeting": "Hi, wflow!"}));
    let logs = String::from_utf8_lossy(&output.stderr);
    assert!(logs.contains("[greet] info: greet: greeting wflow"), "{logs}");

    std::fs::write(task_dir.join("input.json"), r#"{"name": " "}"#).unwrap();
    let output = support::wflow(&task_dir, &state, &["run", "flow.toml"]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("task `greet` failed: input field `name` is empty; give a name to greet"), "{stdout}");
}

#[test]
fn rust_skeleton_builds_and_runs() {
    skeleton_builds_and_runs("rust");
}

#[test]
fn python_skeleton_builds_and_runs() {
    skeleton_builds_and_runs("python");
}

#[test]
fn js_skeleton_builds_and_runs() {
    skeleton_builds_and_runs("js");
}

#[test]
fn c_skeleton_builds_and_runs() {
    skeleton_builds_and_runs("c");
}

#[test]
fn new_flow_runs_with_a_new_task() {
    let sandbox = Sandbox::new();
    let state = sandbox.state_dir();
    check(&support::wflow(sandbox.path(), &state, &["new", "flow", "demo"]), "wflow-host new flow");
    let flow_dir = sandbox.path().join("demo");
    check(&support::wflow(&flow_dir, &state, &["new", "task", "hello", "--lang", "rust"]), "wflow-host new task");
    build(&flow_dir.join("hello"));

    let output = support::wflow(&flow_dir, &state, &["run", "flow.toml", "--param", "greeting=Hey"]);

    check(&output, "wflow-host run");
    assert_eq!(read_json(&flow_dir.join("out/hello.json")), serde_json::json!({"greeting": "Hey, wflow!"}));
}

#[test]
fn new_rejects_folder_in_use() {
    let sandbox = Sandbox::new();
    let kept = sandbox.write("greet/notes.txt", "mine");

    let output = support::wflow(sandbox.path(), &sandbox.state_dir(), &["new", "task", "greet", "--lang", "python"]);

    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: folder `greet` already exists and is not empty; choose another name or remove it\n"
    );
    assert_eq!(std::fs::read_to_string(kept).unwrap(), "mine");
    assert_eq!(std::fs::read_dir(sandbox.path().join("greet")).unwrap().count(), 1);
}

#[test]
fn new_rejects_invalid_name() {
    let sandbox = Sandbox::new();

    let output = support::wflow(sandbox.path(), &sandbox.state_dir(), &["new", "flow", "My Flow"]);

    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("error: `My Flow` cannot name a flow:"), "{stderr}");
    assert!(!sandbox.path().join("My Flow").exists());
}

//! Python tasks, built with componentize-py and the `wflow` module.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use wflow_host::state::{RunState, TaskState};

use crate::support::{self, Sandbox};

/// Builds the Python example once per test process and returns its path.
pub(crate) fn python_component() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| componentize("examples/hello-python", "delays"))
}

/// Builds `tests/fixtures/python/faults.py`, which fails on request.
fn faults_component() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| componentize("tests/fixtures/python", "faults"))
}

/// Builds `tests/fixtures/python/raw.py`, a task in raw mode.
fn raw_component() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| componentize("tests/fixtures/python", "raw"))
}

/// Builds the Python module `module` in `folder`, relative to the workspace
/// root, into `target/python-tests/<module>.wasm` unless it is up to date,
/// and compiles it into the tests' shared artifact folder. Fails with what
/// to install when componentize-py is missing: the tests are never skipped.
fn componentize(folder: &str, module: &str) -> PathBuf {
    let root = support::root();
    let tool = std::env::var_os("WFLOW_COMPONENTIZE_PY")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/guest-tools/venv/bin/componentize-py"));
    assert!(
        tool.is_file(),
        "componentize-py not found at {}; install it with ./scripts/install-guest-tools python",
        tool.display()
    );
    let output_dir = root.join("target/python-tests");
    std::fs::create_dir_all(&output_dir).unwrap();
    let component = output_dir.join(format!("{module}.wasm"));
    let source = format!("{folder}/{module}.py");
    let sources =
        [source.as_str(), "guest-sdk/python/wflow.py", "wit/task.wit", "target/guest-tools/venv/bin/componentize-py"];
    if !support::up_to_date(&component, &sources) {
        let output = Command::new(&tool)
            .current_dir(&root)
            .args(["-d", "wit", "-w", "task", "componentize", module, "-p", "guest-sdk/python", "-p", folder, "-o"])
            .arg(&component)
            .output()
            .expect("failed to start componentize-py");
        assert!(
            output.status.success(),
            "componentize-py failed to build {source}:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    support::precompile(&component);
    component
}

/// Computes the nearest-rank percentile `percent` of `sorted`, apart from
/// the task's own code.
pub(crate) fn nearest_rank(sorted: &[i64], percent: usize) -> i64 {
    let rank = (percent * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

fn delays_flow(sandbox: &Sandbox, flights: &str) -> PathBuf {
    sandbox.write("flights.json", flights);
    let extract = support::component("flights_extract").display().to_string();
    let python = python_component().display().to_string();
    sandbox.write(
        "delays.toml",
        &format!(
            r#"
[flow]
name = "delays"

[defaults]
memory = "256MiB"

[[tasks]]
id = "extract"
component = "{extract}"
input = {{ file = "flights.json" }}

[[tasks]]
id = "delays"
component = "{python}"
input = {{ task = "extract" }}

[[outputs]]
task = "delays"
path = "percentiles.json"
"#
        ),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn python_task_computes_percentiles() {
    let sandbox = Sandbox::new();
    let flights = std::fs::read_to_string(support::root().join("examples/flights/data/flights-2k.json")).unwrap();
    let flow = support::load(&delays_flow(&sandbox, &flights), &[]);
    let host = sandbox.host();

    let report = support::run(&host, &flow).await;

    assert_eq!(report.state, RunState::Completed, "{report:#?}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&flights).unwrap();
    let mut delays: Vec<i64> = rows.iter().map(|row| row["delay"].as_i64().unwrap()).collect();
    delays.sort();
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sandbox.path().join("percentiles.json")).unwrap()).unwrap();
    let expected = serde_json::json!({
        "flights": 2000,
        "p50": nearest_rank(&delays, 50),
        "p90": nearest_rank(&delays, 90),
        "p99": nearest_rank(&delays, 99),
    });
    assert_eq!(written, expected);
    use wflow_host::state::RunStore as _;
    let logs = host.runs().logs(&report.run_id, "delays").unwrap();
    assert!(logs.iter().any(|line| line.message == "delays: 2000 delays"), "{logs:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn python_task_error_is_fatal() {
    let sandbox = Sandbox::new();
    let flow = support::load(&delays_flow(&sandbox, "[{\"delay\": \"late\"}]"), &[]);

    let report = support::run(&sandbox.host(), &flow).await;

    let task = report.task("delays").unwrap();
    assert_eq!(task.state, TaskState::Failed);
    assert_eq!(task.error.as_deref(), Some("task `delays` failed: input has no row with an integer `delay`"));
}

/// Runs one task of `component` with `input` under up to 3 attempts and
/// returns its report.
async fn run_fixture(component: &Path, id: &str, input: &str) -> wflow_host::executor::TaskReport {
    let sandbox = Sandbox::new();
    sandbox.write("input.txt", input);
    let component = component.display().to_string();
    let manifest = sandbox.write(
        "fixture.toml",
        &format!(
            "[flow]\nname = \"python-faults\"\n\n[defaults]\nretry = {{ attempts = 3, delay = \"10ms\" }}\n\n\
             [[tasks]]\nid = \"{id}\"\ncomponent = \"{component}\"\ninput = {{ file = \"input.txt\" }}\n"
        ),
    );
    let report = support::run(&sandbox.host(), &support::load(&manifest, &[])).await;
    report.task(id).unwrap().clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn python_faults_are_fatal_task_errors() {
    let cases = [
        (
            "nan",
            "task `faults` failed: the task's return value cannot be written as JSON: Out of range float values are not JSON compliant: nan",
        ),
        (
            "set",
            "task `faults` failed: the task's return value cannot be written as JSON: Object of type set is not JSON serializable",
        ),
        ("exit", "task `faults` failed: the task called sys.exit(3) instead of returning; raise wflow.Fatal instead"),
        ("interrupt", "task `faults` failed: KeyboardInterrupt: the fixture was asked to stop"),
        ("surrogate", "task `faults` failed: bad ? text"),
        ("mute", "task `faults` failed with an empty error message"),
    ];
    for (mode, expected) in cases {
        let task = run_fixture(faults_component(), "faults", &format!("\"{mode}\"")).await;
        assert_eq!(task.state, TaskState::Failed, "{mode}");
        assert_eq!(task.attempts, 1, "{mode} was retried");
        assert_eq!(task.error.as_deref(), Some(expected), "{mode}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn python_raw_task_returns_bytes_only() {
    let task = run_fixture(raw_component(), "raw", "abc").await;
    assert_eq!(task.state, TaskState::Completed, "{task:?}");

    let task = run_fixture(raw_component(), "raw", "int").await;
    assert_eq!(task.attempts, 1);
    assert_eq!(
        task.error.as_deref(),
        Some("task `raw` failed: a raw task must return bytes, bytearray, memoryview or str, but it returned int")
    );
}

//! JavaScript tasks, built with componentize-js and the `wflow.js` module.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use serde::Deserialize;
use wflow_host::runtime::LogStream;
use wflow_host::state::{RunState, RunStore as _, TaskState};

use crate::support::{self, Sandbox};

/// Builds the JavaScript example once per test process and returns its path.
/// Fails with what to install when componentize-js is missing: the test is
/// never skipped.
pub(crate) fn js_component() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| componentize("examples/hello-js/origins.js", "origins.wasm"))
}

/// Builds `tests/fixtures/js/faults.js`, which fails on request, once per
/// test process.
fn fixture_component() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| componentize("tests/fixtures/js/faults.js", "faults.wasm"))
}

/// Builds the JavaScript module at `source`, relative to the workspace root,
/// into `target/js-tests/<file_name>` unless it is up to date, and compiles
/// it into the tests' shared artifact folder.
fn componentize(source: &str, file_name: &str) -> PathBuf {
    let root = support::root();
    let tool = std::env::var_os("WFLOW_COMPONENTIZE_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/guest-tools/node/node_modules/.bin/componentize-js"));
    assert!(
        tool.is_file(),
        "componentize-js not found at {}; install it with ./scripts/install-guest-tools js",
        tool.display()
    );
    let output_dir = root.join("target/js-tests");
    std::fs::create_dir_all(&output_dir).unwrap();
    let component = output_dir.join(file_name);
    if support::up_to_date(
        &component,
        &[source, "guest-sdk/js/wflow.js", "wit/task.wit", "target/guest-tools/node/package-lock.json"],
    ) {
        support::precompile(&component);
        return component;
    }

    // componentize-js resolves the import of guest-sdk/js/wflow.js only below
    // the current directory, so it runs from the workspace root.
    let output = Command::new(&tool)
        .current_dir(&root)
        .arg(source)
        .args(["--wit", "wit", "-n", "task", "-d", "http", "-d", "fetch-event", "-o"])
        .arg(&component)
        .output()
        .unwrap_or_else(|error| panic!("failed to start componentize-js at {}: {error}", tool.display()));
    assert!(
        output.status.success(),
        "componentize-js failed to build {source}:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    support::precompile(&component);
    component
}

/// One element of the `origins` array that the example writes.
#[derive(Debug, PartialEq, Deserialize)]
struct OriginStats {
    origin: String,
    flights: u64,
    mean_delay: f64,
}

#[derive(Debug, Deserialize)]
struct OriginsOutput {
    origins: Vec<OriginStats>,
}

/// Computes the example's output from the raw flights file, apart from the
/// task's own code: flights and mean delay per origin, sorted by code, the
/// mean rounded half away from zero to 2 decimals.
fn reference_origins(flights: &str) -> Vec<OriginStats> {
    let rows: Vec<serde_json::Value> = serde_json::from_str(flights).unwrap();
    let mut totals: BTreeMap<String, (u64, i64)> = BTreeMap::new();
    for row in &rows {
        let origin = row["origin"].as_str().expect("every raw row has a string `origin`");
        let delay = row["delay"].as_i64().expect("every raw row has an integer `delay`");
        let entry = totals.entry(origin.to_string()).or_default();
        entry.0 += 1;
        entry.1 += delay;
    }
    totals
        .into_iter()
        .map(|(origin, (flights, delay_sum))| {
            let mean = delay_sum as f64 / flights as f64;
            OriginStats { origin, flights, mean_delay: (mean * 100.0).round() / 100.0 }
        })
        .collect()
}

/// Appends rows that the example must skip to the JSON array `flights`.
fn with_unusable_rows(flights: &str) -> String {
    let unusable = [
        r#"{"origin": "ZZZ"}"#,
        r#"{"delay": 5}"#,
        r#"{"origin": "", "delay": 3}"#,
        r#"{"origin": "ABQ", "delay": "late"}"#,
        r#"{"origin": "ABQ", "delay": 2.5}"#,
        r#"{"origin": 7, "delay": 1}"#,
        "null",
        "42",
    ];
    let body = flights.trim_end().strip_suffix(']').expect("the flights file is a JSON array");
    format!("{body},{}]", unusable.join(","))
}

/// Writes flow `name` into `sandbox` from the TOML text `params` and `tasks`,
/// with a `[defaults]` table that allows 2 attempts per task.
fn write_flow(sandbox: &Sandbox, name: &str, params: &str, tasks: &str) -> PathBuf {
    sandbox.write(
        &format!("{name}.toml"),
        &format!(
            r#"
[flow]
name = "{name}"
{params}
[defaults]
retry = {{ attempts = 2, delay = "10ms" }}

{tasks}
"#
        ),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn origins_match_reference() {
    let sandbox = Sandbox::new();
    let flights = std::fs::read_to_string(support::root().join("examples/flights/data/flights-2k.json")).unwrap();
    sandbox.write("flights.json", &with_unusable_rows(&flights));
    let extract = support::component("flights_extract").display().to_string();
    let origins = js_component().display().to_string();
    let tasks = format!(
        r#"
[[tasks]]
id = "extract"
component = "{extract}"
input = {{ file = "flights.json" }}

[[tasks]]
id = "origins"
component = "{origins}"
input = {{ task = "extract" }}

[[outputs]]
task = "origins"
path = "origins.json"
"#
    );
    let flow = support::load(&write_flow(&sandbox, "origins", "", &tasks), &[]);
    let host = sandbox.host();

    let report = support::run(&host, &flow).await;

    assert_eq!(report.state, RunState::Completed, "{report:#?}");
    let written: OriginsOutput =
        serde_json::from_str(&std::fs::read_to_string(sandbox.path().join("origins.json")).unwrap()).unwrap();
    let expected = reference_origins(&flights);
    assert_eq!(written.origins, expected);

    let logs = host.runs().logs(&report.run_id, "origins").unwrap();
    let messages: Vec<&str> =
        logs.iter().filter(|line| line.stream == LogStream::Log).map(|line| line.message.as_str()).collect();
    let summary = format!("origins: 2000 flights, {} airports", expected.len());
    assert_eq!(
        messages,
        ["origins: skipped 8 rows without a string `origin` and an integer `delay`", summary.as_str(),]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fatal_errors_are_not_retried() {
    let sandbox = Sandbox::new();
    sandbox.write("unusable.json", r#"[{"delay": "late"}, {"origin": 7, "delay": 1}]"#);
    sandbox.write("object.json", r#"{"rows": []}"#);
    sandbox.write("garbled.json", "flights: none");
    let origins = js_component().display().to_string();
    let mut tasks = String::new();
    for id in ["unusable", "object", "garbled"] {
        tasks.push_str(&format!(
            "[[tasks]]\nid = \"{id}\"\ncomponent = \"{origins}\"\ninput = {{ file = \"{id}.json\" }}\n\n"
        ));
    }
    let flow = support::load(&write_flow(&sandbox, "fatal", "", &tasks), &[]);

    let report = support::run(&sandbox.host(), &flow).await;

    assert_eq!(report.state, RunState::Failed);
    for id in ["unusable", "object", "garbled"] {
        let task = report.task(id).unwrap();
        assert_eq!(task.state, TaskState::Failed, "task `{id}`");
        assert_eq!(task.attempts, 1, "task `{id}` has a fatal error, which is not retried");
    }
    assert_eq!(
        report.task("unusable").unwrap().error.as_deref(),
        Some("task `unusable` failed: none of the 2 input rows has a non-empty string `origin` and an integer `delay`")
    );
    assert_eq!(
        report.task("object").unwrap().error.as_deref(),
        Some("task `object` failed: input must be a JSON array of flight rows, but it is an object")
    );
    let garbled = report.task("garbled").unwrap().error.clone().unwrap_or_default();
    assert!(garbled.starts_with("task `garbled` failed: input is not JSON: "), "{garbled}");
}

/// Returns the fixture's input that selects `mode`, a JSON string.
fn mode(mode: &str) -> Vec<u8> {
    format!("\"{mode}\"").into_bytes()
}

/// Writes a flow with one fixture task per `(id, input)`: each task reads
/// `input` from a file and receives parameters `count` and `label`.
fn fixture_flow(sandbox: &Sandbox, tasks: &[(&str, Vec<u8>)]) -> PathBuf {
    let component = fixture_component().display().to_string();
    let params =
        "[params.count]\ntype = \"integer\"\ndefault = 7\n\n[params.label]\ntype = \"string\"\ndefault = \"JS\"\n";
    let mut text = String::new();
    for (id, input) in tasks {
        std::fs::write(sandbox.path().join(format!("{id}.input")), input).unwrap();
        text.push_str(&format!(
            r#"
[[tasks]]
id = "{id}"
component = "{component}"
input = {{ file = "{id}.input" }}
params = ["count", "label"]

[[outputs]]
task = "{id}"
path = "{id}.output"
"#
        ));
    }
    write_flow(sandbox, "faults", params, &text)
}

#[tokio::test(flavor = "multi_thread")]
async fn retryable_error_is_retried() {
    let sandbox = Sandbox::new();
    let flow = support::load(&fixture_flow(&sandbox, &[("flaky", mode("flaky")), ("always", mode("retryable"))]), &[]);
    let host = sandbox.host();

    let report = support::run(&host, &flow).await;

    let flaky = report.task("flaky").unwrap();
    assert_eq!(flaky.state, TaskState::Completed);
    assert_eq!(flaky.attempts, 2);
    let records = host.runs().tasks(&report.run_id).unwrap();
    let record = records.iter().find(|record| record.task_id == "flaky").unwrap();
    let states: Vec<TaskState> = record.attempts.iter().map(|attempt| attempt.state).collect();
    assert_eq!(states, [TaskState::Failed, TaskState::Completed]);
    assert_eq!(record.attempts[0].error.as_deref(), Some("task `flaky` failed: attempt 1 fails on purpose"));
    let output: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sandbox.path().join("flaky.output")).unwrap()).unwrap();
    assert_eq!(output, serde_json::json!({ "attempt": 2 }));

    let always = report.task("always").unwrap();
    assert_eq!(always.state, TaskState::Failed);
    assert_eq!(always.attempts, 2);
    assert_eq!(always.error.as_deref(), Some("task `always` failed: the fixture was asked to fail, retryably"));
}

#[tokio::test(flavor = "multi_thread")]
async fn other_errors_are_fatal() {
    let sandbox = Sandbox::new();
    let tasks = [
        ("fatal", mode("fatal")),
        ("crash", mode("type-error")),
        ("missing", mode("missing-param")),
        ("level", mode("bad-level")),
        ("binary", vec![b'"', 0xff, 0xfe, b'"']),
        ("raw_number", b"number".to_vec()),
    ];
    let flow = support::load(&fixture_flow(&sandbox, &tasks), &[]);
    let host = sandbox.host();

    let report = support::run(&host, &flow).await;

    for (id, _) in &tasks {
        let task = report.task(id).unwrap();
        assert_eq!(task.state, TaskState::Failed, "task `{id}`");
        assert_eq!(task.attempts, 1, "task `{id}` has a fatal error, which is not retried");
    }
    assert_eq!(
        report.task("fatal").unwrap().error.as_deref(),
        Some("task `fatal` failed: the fixture was asked to fail")
    );
    assert_eq!(
        report.task("missing").unwrap().error.as_deref(),
        Some(
            "task `missing` failed: parameter `absent` is not passed to task `missing` (passed: count, label); \
             add it to the task's `params` list in the manifest"
        )
    );
    assert_eq!(
        report.task("raw_number").unwrap().error.as_deref(),
        Some(
            "task `raw_number` failed: a raw task must return a Uint8Array, an ArrayBuffer or a string, but it returned number"
        )
    );
    assert_eq!(
        report.task("level").unwrap().error.as_deref(),
        Some("task `level` failed: TypeError: \"loud\" is not one of the cases of level")
    );
    let binary = report.task("binary").unwrap().error.clone().unwrap_or_default();
    assert!(binary.starts_with("task `binary` failed: input is not valid UTF-8, so it cannot be JSON: "), "{binary}");
    let crash = report.task("crash").unwrap().error.clone().unwrap_or_default();
    assert!(crash.starts_with("task `crash` failed: TypeError: "), "{crash}");

    let logs = host.runs().logs(&report.run_id, "crash").unwrap();
    let stderr: Vec<&str> =
        logs.iter().filter(|line| line.stream == LogStream::Stderr).map(|line| line.message.as_str()).collect();
    assert!(stderr.first().is_some_and(|line| line.starts_with("TypeError: ")), "{stderr:?}");
    assert!(
        stderr.iter().any(|line| line.contains("tests/fixtures/js/faults.js:")),
        "the stack names the line that threw: {stderr:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn context_and_bytes_reach_task() {
    let sandbox = Sandbox::new();
    let raw_input = vec![0x00, 0xff, 0x80, b'a'];
    let tasks = [("context", mode("context")), ("raw_reverse", raw_input.clone())];
    let flow = support::load(&fixture_flow(&sandbox, &tasks), &[("count", "-12")]);

    let report = support::run(&sandbox.host(), &flow).await;

    assert_eq!(report.state, RunState::Completed, "{report:#?}");
    let context: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sandbox.path().join("context.output")).unwrap()).unwrap();
    let expected = serde_json::json!({
        "flow": "faults",
        "task": "context",
        "runId": report.run_id,
        "attempt": 1,
        "params": { "count": -12, "label": "JS" },
    });
    assert_eq!(context, expected);
    let reversed: Vec<u8> = raw_input.iter().rev().copied().collect();
    assert_eq!(std::fs::read(sandbox.path().join("raw_reverse.output")).unwrap(), reversed);
}

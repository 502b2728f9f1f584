//! Dynamic fan-out: a task mapped over the elements of an upstream JSON
//! array, one run per element, collected in order.

use std::path::PathBuf;

use wflow_host::state::{RunState, RunStore, TaskState};

use crate::support::{self, Sandbox};

/// A flow where `list` reads `list.json` (a JSON array of fixture modes)
/// and `each` runs the fixture once per element.
fn map_flow(sandbox: &Sandbox, modes: &[String]) -> PathBuf {
    sandbox.write("list.json", &serde_json::to_string(modes).unwrap());
    let extract = support::component("flights_extract").display().to_string();
    let fixture = support::component("wflow_fixture_faults").display().to_string();
    let text = format!(
        r#"
[flow]
name = "fan-out"

[[tasks]]
id = "list"
component = "{extract}"
input = {{ file = "list.json" }}

[[tasks]]
id = "each"
component = "{fixture}"
input = {{ map = "list" }}

[[tasks]]
id = "after"
component = "{fixture}"
input = {{ tasks = ["each"] }}
cache = false

[[outputs]]
task = "each"
path = "collected.json"
"#
    );
    sandbox.write("fan-out.toml", &text)
}

fn modes(count: usize) -> Vec<String> {
    (0..count).map(|index| format!("echo-{index}")).collect()
}

fn collected(sandbox: &Sandbox) -> Vec<String> {
    serde_json::from_str(&std::fs::read_to_string(sandbox.path().join("collected.json")).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn map_collects_outputs_in_order() {
    let sandbox = Sandbox::new();
    let flow = support::load(&map_flow(&sandbox, &modes(50)), &[]);
    let host = sandbox.host();

    let report = support::run(&host, &flow).await;

    let each = report.task("each").unwrap();
    assert_eq!(each.state, TaskState::Completed, "{report:#?}");
    assert_eq!(each.attempts, 50);
    assert_eq!(collected(&sandbox), modes(50));
    let elements = host.runs().elements(&report.run_id, "each").unwrap();
    assert_eq!(elements.len(), 50);
    assert!(elements.iter().enumerate().all(|(index, element)| element.index == index as u64));
    assert!(elements.iter().all(|element| element.state == TaskState::Completed));
    let logs = host.runs().logs(&report.run_id, "each[7]").unwrap();
    assert!(logs.iter().any(|line| line.message == "echoing `echo-7`"), "{logs:?}");
    // `after` is not mapped: it runs once, on the collected array, and the
    // fixture rejects an object input.
    assert_eq!(report.task("after").unwrap().state, TaskState::Failed);
}

#[tokio::test(flavor = "multi_thread")]
async fn map_reruns_only_changed_elements() {
    let sandbox = Sandbox::new();
    let host = sandbox.host();
    let mut list = modes(20);
    support::run(&host, &support::load(&map_flow(&sandbox, &list), &[])).await;

    list[5] = "echo-changed".to_string();
    let report = support::run(&host, &support::load(&map_flow(&sandbox, &list), &[])).await;

    let elements = host.runs().elements(&report.run_id, "each").unwrap();
    let ran: Vec<u64> = elements.iter().filter(|element| !element.cache_hit).map(|element| element.index).collect();
    assert_eq!(ran, [5]);
    assert_eq!(collected(&sandbox), list);
}

#[tokio::test(flavor = "multi_thread")]
async fn map_element_failure_fails_the_task() {
    let sandbox = Sandbox::new();
    let list = vec!["echo-0".to_string(), "error".to_string(), "echo-2".to_string()];
    let flow = support::load(&map_flow(&sandbox, &list), &[]);
    let host = sandbox.host();

    let report = support::run(&host, &flow).await;

    assert_eq!(report.state, RunState::Failed);
    let each = report.task("each").unwrap();
    assert_eq!(each.state, TaskState::Failed);
    assert_eq!(
        each.error.as_deref(),
        Some("task `each` failed for 1 of 3 elements; the first: task `each[1]` failed: the fixture was asked to fail")
    );
    assert_eq!(report.task("after").unwrap().state, TaskState::Skipped);
    let states: Vec<TaskState> =
        host.runs().elements(&report.run_id, "each").unwrap().iter().map(|element| element.state).collect();
    assert_eq!(states, [TaskState::Completed, TaskState::Failed, TaskState::Completed]);
}

#[tokio::test(flavor = "multi_thread")]
async fn map_over_non_array_fails_clearly() {
    let sandbox = Sandbox::new();
    let manifest = map_flow(&sandbox, &modes(1));
    sandbox.write("list.json", "{\"not\": \"an array\"}");
    let flow = support::load(&manifest, &[]);

    let report = support::run(&sandbox.host(), &flow).await;

    let error = report.task("list").unwrap().error.clone().unwrap_or_default();
    assert!(error.contains("is not a JSON array") || error.contains("but it is an object"), "{error}");
    assert_eq!(report.task("each").unwrap().state, TaskState::Skipped);
}

#[tokio::test(flavor = "multi_thread")]
async fn map_over_ten_thousand_elements() {
    let sandbox = Sandbox::new();
    let flow = support::load(&map_flow(&sandbox, &modes(10_000)), &[]);
    let host = sandbox.host();

    let report = support::run(&host, &flow).await;

    assert_eq!(report.task("each").unwrap().state, TaskState::Completed, "{report:#?}");
    assert_eq!(collected(&sandbox), modes(10_000));
    assert_eq!(host.runs().elements(&report.run_id, "each").unwrap().len(), 10_000);
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelled_map_starts_no_more_elements() {
    let sandbox = Sandbox::new();
    let naps: Vec<String> = vec!["nap".to_string(); 200];
    let manifest = map_flow(&sandbox, &naps);
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("name = \"fan-out\"", "name = \"fan-out\"\nmax_parallel = 2");
    std::fs::write(&manifest, text.replace("input = { map = \"list\" }", "input = { map = \"list\" }\ncache = false"))
        .unwrap();
    let flow = support::load(&manifest, &[]);
    let host = sandbox.host();
    let options = wflow_host::RunOptions::default();
    let cancel = options.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        cancel.cancel();
    });

    let report = host.run(&flow, &options, std::sync::Arc::new(wflow_host::NoObserver)).await.unwrap();

    assert_eq!(report.state, RunState::Cancelled);
    assert_eq!(report.task("each").unwrap().state, TaskState::Cancelled);
    let elements = host.runs().elements(&report.run_id, "each").unwrap();
    let attempted = elements.iter().filter(|element| element.attempts > 0).count();
    assert!(attempted <= 4, "{attempted} elements started after the cancel");
    assert!(elements.iter().all(|element| element.state != TaskState::Completed));
}

#[test]
fn runs_logs_reads_elements() {
    let sandbox = Sandbox::new();
    let manifest = map_flow(&sandbox, &modes(5));
    let state = sandbox.state_dir();
    let run = support::wflow(sandbox.path(), &state, &["run", "--json", manifest.to_str().unwrap()]);
    let summary: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let run_id = summary["run_id"].as_str().unwrap();

    let all = support::wflow(sandbox.path(), &state, &["runs", "logs", run_id]);
    let one = support::wflow(sandbox.path(), &state, &["runs", "logs", run_id, "--task", "each[3]"]);
    let missing = support::wflow(sandbox.path(), &state, &["runs", "logs", run_id, "--task", "each[9]"]);
    let show = support::wflow(sandbox.path(), &state, &["runs", "show", "--json", run_id]);

    let all = String::from_utf8_lossy(&all.stdout);
    assert_eq!(all.lines().filter(|line| line.contains("info: echoing")).count(), 5, "{all}");
    let one = String::from_utf8_lossy(&one.stdout);
    assert!(one.contains("[each[3]#1] info: echoing `echo-3`"), "{one}");
    assert!(!one.contains("echo-2"), "{one}");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("task `each` has 5 elements, numbered 0 to 4"));
    let show: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(show["elements"]["each"].as_array().map(Vec::len), Some(5));
}

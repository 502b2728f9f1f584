//! The flights example flow on real data, checked against outputs that the
//! test computes from the raw files on its own.

use std::path::Path;

use wflow_host::state::{RunState, TaskState};

use crate::flights_reference::expected_outputs;
use crate::support::{self, Sandbox};

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("failed to read {}: {error}", path.display()))
}

#[tokio::test(flavor = "multi_thread")]
async fn flights_2k_matches_reference() {
    let sandbox = Sandbox::new();
    let manifest = support::flights_flow(&sandbox);
    let flow = support::load(&manifest, &[]);

    let report = support::run(&sandbox.host(), &flow).await;

    assert_eq!(report.state, RunState::Completed, "{report:#?}");
    assert_eq!(report.count(TaskState::Completed), 8);
    let data = sandbox.path().join("flights/data");
    let expected = expected_outputs(&read(&data.join("flights-2k.json")), &read(&data.join("airports.csv")), 10, 15);
    let out = sandbox.path().join("flights/out");
    assert_eq!(read(&out.join("by_origin.csv")), expected.by_origin_csv);
    assert_eq!(read(&out.join("by_hour.csv")), expected.by_hour_csv);
    let summary: serde_json::Value = serde_json::from_str(&read(&out.join("summary.json"))).unwrap();
    assert_eq!(summary, expected.summary);
    assert_eq!(summary["rows_read"], 2000);
    let by_month: serde_json::Value = serde_json::from_str(&read(&out.join("by_month.json"))).unwrap();
    assert_eq!(by_month, expected.by_month);
    assert_eq!(by_month.as_array().map(Vec::len), Some(3), "the 2k file spans three months");
}

#[tokio::test(flavor = "multi_thread")]
async fn flights_parameters_change_outputs() {
    let sandbox = Sandbox::new();
    let manifest = support::flights_flow(&sandbox);
    let flow = support::load(&manifest, &[("min_flights", "40"), ("delay_threshold", "30")]);

    let report = support::run(&sandbox.host(), &flow).await;

    assert_eq!(report.state, RunState::Completed, "{report:#?}");
    let data = sandbox.path().join("flights/data");
    let expected = expected_outputs(&read(&data.join("flights-2k.json")), &read(&data.join("airports.csv")), 40, 30);
    let by_origin = read(&sandbox.path().join("flights/out/by_origin.csv"));
    assert_eq!(by_origin, expected.by_origin_csv);
    assert!(by_origin.lines().count() < 54, "min_flights = 40 keeps fewer origins than 10 does");
}

#[tokio::test(flavor = "multi_thread")]
async fn flights_rejects_malformed_rows() {
    let sandbox = Sandbox::new();
    let manifest = support::flights_flow(&sandbox);
    let rows = r#"[
        {"date": "2001/01/01 06:55", "delay": -19, "distance": 1797, "origin": "LAX", "destination": "BNA"},
        {"date": "2001/01/01 07:00", "delay": 30, "distance": 100, "origin": "LAX", "destination": "SFO", "extra": 1},
        "not an object",
        {"date": "2001/01/01 06:55", "delay": 1, "distance": 10, "origin": "LAX"},
        {"date": "2001/01/01 06:55", "delay": 5.0, "distance": 10, "origin": "LAX", "destination": "SFO"},
        {"date": "2001/01/01 06:55", "delay": 1, "distance": "10", "origin": "LAX", "destination": "SFO"},
        {"date": "2001/02/29 06:55", "delay": 1, "distance": 10, "origin": "LAX", "destination": "SFO"},
        {"date": "2001/01/01 24:00", "delay": 1, "distance": 10, "origin": "LAX", "destination": "SFO"},
        {"date": "2001-01-01 06:55", "delay": 1, "distance": 10, "origin": "LAX", "destination": "SFO"},
        {"date": "2001/01/01 06:55", "delay": 1, "distance": 10, "origin": "LAXX", "destination": "SFO"},
        {"date": "2001/01/01 06:55", "delay": 1, "distance": 10, "origin": "LAX", "destination": "SF"}
    ]"#;
    let flights = sandbox.write("malformed.json", rows);
    let flights = flights.display().to_string();
    let flow = support::load(&manifest, &[("flights", &flights), ("min_flights", "1")]);

    let report = support::run(&sandbox.host(), &flow).await;

    assert_eq!(report.state, RunState::Completed, "{report:#?}");
    let summary: serde_json::Value =
        serde_json::from_str(&read(&sandbox.path().join("flights/out/summary.json"))).unwrap();
    assert_eq!(summary, serde_json::json!({"rows_read": 11, "rows_kept": 2, "rows_rejected": 9, "origins": 1}));
    let expected = expected_outputs(rows, &read(&sandbox.path().join("flights/data/airports.csv")), 1, 15);
    assert_eq!(summary, expected.summary);
    assert_eq!(read(&sandbox.path().join("flights/out/by_origin.csv")), expected.by_origin_csv);
}

/// The same flow on the 20,000-row file, through the binary, with the path
/// given relative to the current directory as a user would.
#[test]
fn flights_20k_through_cli() {
    let data = support::root().join("../shared/data/flights-20k.json");
    if !data.is_file() {
        eprintln!("skipped: {} is missing; it ships in the shared data folder beside the repository", data.display());
        return;
    }
    let sandbox = Sandbox::new();
    let manifest = support::flights_flow(&sandbox);
    let cwd = data.parent().unwrap();
    let state = sandbox.state_dir();
    let out = sandbox.path().join("out20k");
    let out_arg = format!("out={}", out.display());

    let output = support::wflow(
        cwd,
        &state,
        &["run", manifest.to_str().unwrap(), "--param", "flights=flights-20k.json", "--param", &out_arg],
    );

    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let expected = expected_outputs(&read(&data), &read(&sandbox.path().join("flights/data/airports.csv")), 10, 15);
    assert_eq!(read(&out.join("by_origin.csv")), expected.by_origin_csv);
    assert_eq!(read(&out.join("by_hour.csv")), expected.by_hour_csv);
    let summary: serde_json::Value = serde_json::from_str(&read(&out.join("summary.json"))).unwrap();
    assert_eq!(summary["rows_read"], 20000);
    assert_eq!(summary, expected.summary);
}

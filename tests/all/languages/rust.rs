//! The Rust example task, built with the `wflow-guest` SDK.

use std::collections::BTreeMap;

use wflow_host::state::{RunState, RunStore as _, TaskState};

use crate::support::{self, Sandbox};

fn routes_flow(sandbox: &Sandbox, flights: &str, top: &str) -> wflow_host::Flow {
    let flights_path = sandbox.write("flights.json", flights).display().to_string();
    let out = sandbox.path().join("out").display().to_string();
    let manifest = support::root().join("examples/hello-rust/flow.toml");
    support::load(&manifest, &[("flights", &flights_path), ("top", top), ("out", &out)])
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_example_lists_the_busiest_routes() {
    let sandbox = Sandbox::new();
    let flights = std::fs::read_to_string(support::root().join("examples/flights/data/flights-2k.json")).unwrap();
    let host = sandbox.host();

    let report = support::run(&host, &routes_flow(&sandbox, &flights, "4")).await;

    assert_eq!(report.state, RunState::Completed, "{report:#?}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&flights).unwrap();
    let mut by_route: BTreeMap<String, (u64, i64)> = BTreeMap::new();
    for row in &rows {
        let route = format!("{}-{}", row["origin"].as_str().unwrap(), row["destination"].as_str().unwrap());
        let entry = by_route.entry(route).or_insert((0, i64::MIN));
        entry.0 += 1;
        entry.1 = entry.1.max(row["delay"].as_i64().unwrap());
    }
    let mut expected: Vec<(String, u64, i64)> =
        by_route.into_iter().map(|(route, (flights, max_delay))| (route, flights, max_delay)).collect();
    expected.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let expected: Vec<serde_json::Value> = expected[..4]
        .iter()
        .map(|(route, flights, max_delay)| serde_json::json!({"route": route, "flights": flights, "max_delay": max_delay}))
        .collect();
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sandbox.path().join("out/routes.json")).unwrap()).unwrap();
    assert_eq!(written, serde_json::json!({ "routes": expected }));
    let logs = host.runs().logs(&report.run_id, "routes").unwrap();
    assert!(logs.iter().any(|line| line.message.starts_with("routes: 2000 flights on ")), "{logs:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_example_rejects_a_top_below_one() {
    let sandbox = Sandbox::new();
    let flow = routes_flow(&sandbox, r#"[{"origin": "A", "destination": "B", "delay": 1}]"#, "0");

    let report = support::run(&sandbox.host(), &flow).await;

    let task = report.task("routes").unwrap();
    assert_eq!(task.state, TaskState::Failed);
    assert_eq!(
        task.error.as_deref(),
        Some("task `routes` failed: parameter `top` is 0; give a number of routes from 1 up")
    );
}

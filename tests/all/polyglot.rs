//! The polyglot example: tasks in Rust, Python, JavaScript and C in one run,
//! with the report checked against a computation from the raw data.

use std::collections::BTreeMap;
use std::path::PathBuf;

use wflow_host::state::RunState;

use crate::languages::{c, js, python};
use crate::support::{self, Sandbox};

/// Copies `examples/polyglot/flow.toml` into `sandbox` with its component
/// paths pointing at the components the tests built, and an extra output
/// with the extracted rows, which the checksum is checked against.
fn polyglot_flow(sandbox: &Sandbox) -> PathBuf {
    let text = std::fs::read_to_string(support::root().join("examples/polyglot/flow.toml")).unwrap();
    let replacements = [
        ("../../target/wasm32-wasip2/release", support::components().to_path_buf()),
        ("../../target/python/delays.wasm", python::python_component().clone()),
        ("../../target/js/origins.wasm", js::js_component().clone()),
        ("../../target/c/checksum.wasm", c::c_component().clone()),
    ];
    let mut text = text;
    for (from, to) in replacements {
        assert!(text.contains(from), "the example manifest no longer names {from}");
        text = text.replace(from, &to.display().to_string());
    }
    text.push_str("\n[[outputs]]\ntask = \"extract\"\npath = \"${out}/rows.json\"\n");
    sandbox.write("polyglot/flow.toml", &text)
}

/// Rounds to 2 decimals, half away from zero, as the JavaScript task does.
fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[tokio::test(flavor = "multi_thread")]
async fn four_languages_compute_one_report() {
    let sandbox = Sandbox::new();
    let flights_path = support::root().join("examples/flights/data/flights-2k.json");
    let out = sandbox.path().join("out");
    let flow = support::load(
        &polyglot_flow(&sandbox),
        &[("flights", &flights_path.display().to_string()), ("top", "5"), ("out", &out.display().to_string())],
    );

    let report = support::run(&sandbox.host(), &flow).await;

    assert_eq!(report.state, RunState::Completed, "{report:#?}");
    let flights: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&flights_path).unwrap()).unwrap();
    let rows = std::fs::read(out.join("rows.json")).unwrap();

    let mut delays: Vec<i64> = flights.iter().map(|row| row["delay"].as_i64().unwrap()).collect();
    delays.sort();
    let mut by_origin: BTreeMap<&str, (u64, i64)> = BTreeMap::new();
    for row in &flights {
        let totals = by_origin.entry(row["origin"].as_str().unwrap()).or_default();
        totals.0 += 1;
        totals.1 += row["delay"].as_i64().unwrap();
    }
    let mut origins: Vec<(&str, u64, f64)> = by_origin
        .into_iter()
        .map(|(origin, (count, delay))| (origin, count, round2(delay as f64 / count as f64)))
        .collect();
    origins.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));

    let mut expected = format!(
        "# Flight delays, computed in four languages\n\n\
         The rows: {} flights in {} bytes, CRC-32 `{:08x}` (C).\n\n\
         Delay percentiles over {} flights (Python): p50 {} min, p90 {} min, p99 {} min.\n\n\
         Busiest 5 of {} origin airports (JavaScript):\n\n\
         | origin | flights | mean delay (min) |\n| --- | ---: | ---: |\n",
        flights.len(),
        rows.len(),
        c::crc32(&rows),
        delays.len(),
        python::nearest_rank(&delays, 50),
        python::nearest_rank(&delays, 90),
        python::nearest_rank(&delays, 99),
        origins.len(),
    );
    for (origin, count, mean) in &origins[..5] {
        expected += &format!("| {origin} | {count} | {mean:.2} |\n");
    }
    assert_eq!(std::fs::read_to_string(out.join("report.md")).unwrap(), expected);
    for output in ["percentiles.json", "origins.json", "checksum.json"] {
        assert!(out.join(output).is_file(), "{output} was not written");
    }
}

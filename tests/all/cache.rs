//! The output cache: hits on an unchanged rerun, misses on exactly the tasks
//! that a change reaches.

use std::io::Write;

use wflow_host::executor::{NoObserver, RunOptions};
use wflow_host::state::{RunState, TaskState};

use crate::support::{self, Sandbox};

const ALL_TASKS: [&str; 8] = ["extract", "airports", "clean", "enrich", "aggregate", "report", "partition", "monthly"];

fn sorted(mut ids: Vec<&str>) -> Vec<&str> {
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn rerun_hits_cache_without_instantiating() {
    let sandbox = Sandbox::new();
    let manifest = support::flights_flow(&sandbox);
    let flow = support::load(&manifest, &[]);
    let host = sandbox.host();

    let first = support::run(&host, &flow).await;
    let instances_after_first = host.runtime().instantiation_count();
    let second = support::run(&host, &flow).await;

    assert_eq!(first.state, RunState::Completed);
    assert_eq!(sorted(support::ran(&first)), sorted(ALL_TASKS.to_vec()));
    assert_eq!(instances_after_first, 10, "six tasks and one run per month for three months");
    assert_eq!(second.state, RunState::Completed);
    assert_eq!(second.count(TaskState::Cached), 8, "{second:#?}");
    assert!(second.tasks.iter().all(|task| task.cache_hit && task.fuel_used == 0));
    assert_eq!(host.runtime().instantiation_count(), instances_after_first, "a cache hit instantiated a component");
}

#[tokio::test(flavor = "multi_thread")]
async fn changed_parameter_misses_only_its_readers() {
    let sandbox = Sandbox::new();
    let manifest = support::flights_flow(&sandbox);
    let host = sandbox.host();
    support::run(&host, &support::load(&manifest, &[])).await;

    let threshold = support::run(&host, &support::load(&manifest, &[("delay_threshold", "20")])).await;
    let other_out = sandbox.path().join("elsewhere").display().to_string();
    let out = support::run(&host, &support::load(&manifest, &[("out", &other_out), ("delay_threshold", "20")])).await;

    assert_eq!(threshold.state, RunState::Completed);
    assert_eq!(sorted(support::ran(&threshold)), ["aggregate", "monthly", "report"]);
    assert_eq!(out.state, RunState::Completed);
    assert!(support::ran(&out).is_empty(), "changing `out` reran {:?}", support::ran(&out));
    assert!(sandbox.path().join("elsewhere/by_origin.csv").is_file());
}

#[tokio::test(flavor = "multi_thread")]
async fn changed_input_file_misses_downstream_only() {
    let sandbox = Sandbox::new();
    let manifest = support::flights_flow(&sandbox);
    let host = sandbox.host();
    support::run(&host, &support::load(&manifest, &[])).await;

    let flights = sandbox.path().join("flights/data/flights-2k.json");
    let text = std::fs::read_to_string(&flights).unwrap();
    let changed = text.replacen("\"delay\":-19", "\"delay\":-18", 1);
    assert_ne!(text, changed, "the test expects the first row's delay to be -19");
    std::fs::write(&flights, changed).unwrap();
    let report = support::run(&host, &support::load(&manifest, &[])).await;

    assert_eq!(report.state, RunState::Completed);
    assert_eq!(
        sorted(support::ran(&report)),
        sorted(vec!["extract", "clean", "enrich", "aggregate", "report", "partition", "monthly"])
    );
    assert!(report.task("airports").unwrap().cache_hit);
}

/// A changed component misses its own task; a downstream task whose input
/// bytes come out the same still hits.
#[tokio::test(flavor = "multi_thread")]
async fn changed_component_misses_its_task() {
    let sandbox = Sandbox::new();
    let manifest = support::flights_flow(&sandbox);
    let host = sandbox.host();
    support::run(&host, &support::load(&manifest, &[])).await;

    let copy = sandbox.path().join("aggregate.wasm");
    std::fs::copy(support::component("flights_aggregate"), &copy).unwrap();
    // A custom section at the end changes the bytes but not the behaviour.
    let mut file = std::fs::OpenOptions::new().append(true).open(&copy).unwrap();
    file.write_all(&[0, 6, 5, b'n', b'o', b't', b'e', b's']).unwrap();
    drop(file);
    let text = std::fs::read_to_string(&manifest).unwrap();
    let original = support::component("flights_aggregate").display().to_string();
    std::fs::write(&manifest, text.replace(&original, &copy.display().to_string())).unwrap();
    let report = support::run(&host, &support::load(&manifest, &[])).await;

    assert_eq!(report.state, RunState::Completed, "{report:#?}");
    assert_eq!(support::ran(&report), ["aggregate"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_cache_runs_every_task() {
    let sandbox = Sandbox::new();
    let manifest = support::flights_flow(&sandbox);
    let flow = support::load(&manifest, &[]);
    let host = sandbox.host();
    support::run(&host, &flow).await;

    let options = RunOptions { read_cache: false, ..RunOptions::default() };
    let report = host.run(&flow, &options, std::sync::Arc::new(NoObserver)).await.unwrap();

    assert_eq!(report.state, RunState::Completed);
    assert_eq!(report.count(TaskState::Completed), 8);
    assert_eq!(report.count(TaskState::Cached), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn cache_off_for_task_always_runs_it() {
    let sandbox = Sandbox::new();
    let manifest = support::flights_flow(&sandbox);
    let text = std::fs::read_to_string(&manifest).unwrap();
    let text = text.replace("id = \"report\"\n", "id = \"report\"\ncache = false\n");
    std::fs::write(&manifest, text).unwrap();
    let flow = support::load(&manifest, &[]);
    let host = sandbox.host();

    support::run(&host, &flow).await;
    let second = support::run(&host, &flow).await;

    assert_eq!(support::ran(&second), ["report"]);
}

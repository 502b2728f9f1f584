//! Recovery from damaged state: compiled artifacts and cache entries that are
//! corrupt, foreign or expired are misses, never crashes.

use std::path::{Path, PathBuf};

use redb::{ReadableTable, TableDefinition};
use wflow_host::Runtime;
use wflow_host::manifest::{Limits, ParamValue};
use wflow_host::runtime::{ArtifactSource, TaskContext};
use wflow_host::state::{RunState, TaskState};

use crate::support::{self, Sandbox};

const OUTPUTS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("outputs");

fn echo_context() -> TaskContext {
    TaskContext {
        flow: "recovery".to_string(),
        task: "echo".to_string(),
        run_id: "run".to_string(),
        attempt: 1,
        params: vec![("unused".to_string(), ParamValue::Integer(1))],
    }
}

/// Loads the fixture in a new runtime (as a new process would) and checks
/// that it still runs; returns where the compiled code came from.
fn load_and_run(artifacts: &Path) -> ArtifactSource {
    let bytes = std::fs::read(support::component("wflow_fixture_faults")).unwrap();
    let hash = blake3::hash(&bytes).to_hex().to_string();
    let runtime = Runtime::new(artifacts.to_path_buf()).unwrap();
    let component = runtime.load(&hash, &bytes).unwrap_or_else(|failure| panic!("{failure}"));
    let limits = Limits { fuel: Some(100_000_000), memory_bytes: 16 << 20, timeout: None };
    let cancel = tokio_util::sync::CancellationToken::new();
    let result = runtime.run(&component, &echo_context(), b"\"echo\"", limits, &cancel, None);
    assert_eq!(result.output.as_deref(), Ok(&b"\"echo\""[..]));
    component.source()
}

fn artifact_file(artifacts: &Path) -> PathBuf {
    std::fs::read_dir(artifacts)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|extension| extension == "cwasm"))
        .expect("an artifact was stored")
}

#[test]
fn compiled_artifact_is_reused() {
    let sandbox = Sandbox::new();
    let artifacts = sandbox.path().join("artifacts");

    assert_eq!(load_and_run(&artifacts), ArtifactSource::Compiled);
    assert_eq!(load_and_run(&artifacts), ArtifactSource::Disk);
}

#[test]
fn damaged_artifact_is_recompiled() {
    let sandbox = Sandbox::new();
    let artifacts = sandbox.path().join("artifacts");
    load_and_run(&artifacts);
    let artifact = artifact_file(&artifacts);
    let checksum = artifact.with_extension("cwasm.blake3");
    let original = std::fs::read(&artifact).unwrap();

    let mut flipped = original.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0xff;
    let damages: Vec<(&str, Box<dyn Fn()>)> = vec![
        ("flipped byte", Box::new(|| std::fs::write(&artifact, &flipped).unwrap())),
        ("truncated", Box::new(|| std::fs::write(&artifact, &original[..original.len() / 3]).unwrap())),
        ("missing checksum", Box::new(|| std::fs::remove_file(&checksum).unwrap())),
        (
            // Bytes that are not an artifact, with a checksum that matches
            // them, as a foreign or stale file would be.
            "foreign file with its checksum",
            Box::new(|| {
                let foreign = b"\x7fELF not a wasmtime artifact".to_vec();
                std::fs::write(&artifact, &foreign).unwrap();
                std::fs::write(&checksum, blake3::hash(&foreign).to_hex().as_bytes()).unwrap();
            }),
        ),
    ];
    for (name, damage) in damages {
        damage();
        assert_eq!(load_and_run(&artifacts), ArtifactSource::Compiled, "{name}");
        assert_eq!(load_and_run(&artifacts), ArtifactSource::Disk, "{name}: the recompiled artifact is stored");
    }
}

/// Rewrites every output cache entry of the state directory with `change`.
fn rewrite_cache_entries(state_dir: &Path, mut change: impl FnMut(&mut Vec<u8>)) -> usize {
    let database = redb::Database::open(state_dir.join("wflow.redb")).unwrap();
    let transaction = database.begin_write().unwrap();
    let mut count = 0;
    {
        let mut table = transaction.open_table(OUTPUTS).unwrap();
        let entries: Vec<([u8; 32], Vec<u8>)> = table
            .iter()
            .unwrap()
            .map(|entry| {
                let (key, value) = entry.unwrap();
                (*key.value(), value.value().to_vec())
            })
            .collect();
        for (key, mut value) in entries {
            change(&mut value);
            table.insert(&key, value.as_slice()).unwrap();
            count += 1;
        }
    }
    transaction.commit().unwrap();
    count
}

#[tokio::test(flavor = "multi_thread")]
async fn corrupt_cache_entries_are_rerun() {
    let sandbox = Sandbox::new();
    let manifest = support::flights_flow(&sandbox);
    let flow = support::load(&manifest, &[]);
    let first = support::run(&sandbox.host(), &flow).await;
    let expected = std::fs::read_to_string(sandbox.path().join("flights/out/by_origin.csv")).unwrap();
    std::fs::remove_dir_all(sandbox.path().join("flights/out")).unwrap();

    let damaged = rewrite_cache_entries(&sandbox.state_dir(), |entry| {
        let last = entry.len() - 1;
        entry[last] ^= 0x01;
    });
    let host = sandbox.host();
    let rerun = support::run(&host, &flow).await;
    let third = support::run(&host, &flow).await;

    assert_eq!(first.state, RunState::Completed);
    assert_eq!(damaged, 10, "one entry per task and per month");
    assert_eq!(rerun.state, RunState::Completed, "{rerun:#?}");
    assert_eq!(rerun.count(TaskState::Completed), 8, "corrupt entries must not be used");
    assert_eq!(std::fs::read_to_string(sandbox.path().join("flights/out/by_origin.csv")).unwrap(), expected);
    assert_eq!(third.count(TaskState::Cached), 8, "the rerun stores fresh entries");
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_cache_entries_are_rerun() {
    let sandbox = Sandbox::new();
    let manifest = support::flights_flow(&sandbox);
    let text = std::fs::read_to_string(&manifest).unwrap().replace("cache = true", "cache = true\ncache_ttl = \"1h\"");
    std::fs::write(&manifest, text).unwrap();
    let flow = support::load(&manifest, &[]);
    support::run(&sandbox.host(), &flow).await;

    // Move the creation time of the `extract` and `clean` entries two hours
    // back. The header is b"WFO1" and then the creation time in milliseconds.
    let two_hours_ms = 2 * 3600 * 1000u64;
    let mut aged = 0;
    rewrite_cache_entries(&sandbox.state_dir(), |entry| {
        let created = u64::from_le_bytes(entry[4..12].try_into().unwrap());
        entry[4..12].copy_from_slice(&(created - two_hours_ms).to_le_bytes());
        aged += 1;
    });
    let report = support::run(&sandbox.host(), &flow).await;

    assert_eq!(aged, 10);
    assert_eq!(report.state, RunState::Completed);
    assert_eq!(report.count(TaskState::Completed), 8, "entries older than cache_ttl must miss");
}

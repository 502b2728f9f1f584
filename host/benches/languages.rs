//! Cost of a task in each guest language: component size, first compile,
//! start with the compiled artifact on disk, and the time of one call.
//!
//! Run it with `./scripts/bench-languages`, which builds the trivial task
//! that `wflow-host new task` generates in each language and passes their
//! folders here. It prints a Markdown table for `docs/benchmarks.md`.
//!
//! Usage: languages [--calls N] [--runs N] LABEL=TASK_DIR...
//! Each TASK_DIR is a built skeleton: its `build.sh` wrote `DIR_NAME.wasm`
//! beside its `flow.toml`.

#[path = "common/format.rs"]
mod format;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use format::{size, time};
use tokio_util::sync::CancellationToken;
use wflow_host::Runtime;
use wflow_host::manifest::{Limits, ParamValue};
use wflow_host::runtime::{ArtifactSource, TaskContext};

struct Measured {
    label: String,
    size: u64,
    first_compile: Duration,
    warm_start: Duration,
    call_median: Duration,
    call_p99: Duration,
    whole_run: Duration,
}

fn main() -> Result<()> {
    let mut calls = 200;
    let mut runs = 5;
    let mut tasks = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--calls" => calls = args.next().context("--calls needs a number")?.parse()?,
            "--runs" => runs = args.next().context("--runs needs a number")?.parse()?,
            // cargo bench passes this to every bench binary.
            "--bench" => {}
            _ => {
                let (label, dir) = arg.split_once('=').with_context(|| {
                    format!("argument `{arg}` is not LABEL=TASK_DIR; for example rust=target/bench-languages/rust")
                })?;
                tasks.push((label.to_string(), PathBuf::from(dir)));
            }
        }
    }
    if tasks.is_empty() {
        bail!("no task folders given; run ./scripts/bench-languages, which builds them");
    }

    let mut rows = Vec::new();
    for (label, dir) in &tasks {
        eprintln!("measuring {label} in {}", dir.display());
        rows.push(measure(label, dir, calls, runs).with_context(|| format!("measuring `{label}`"))?);
    }
    print_table(&rows, calls, runs);
    Ok(())
}

fn measure(label: &str, dir: &Path, calls: usize, runs: usize) -> Result<Measured> {
    let name = dir.file_name().and_then(|name| name.to_str()).context("task folder has no name")?;
    let component = dir.join(format!("{name}.wasm"));
    let bytes = std::fs::read(&component).with_context(|| format!("reading {}", component.display()))?;
    let hash = blake3::hash(&bytes).to_hex().to_string();
    let artifacts = tempfile::tempdir()?;

    // First compile: an empty artifact folder, as on a fresh machine.
    let runtime = Runtime::new(artifacts.path().to_path_buf())?;
    let started = Instant::now();
    let loaded = runtime.load(&hash, &bytes).map_err(|failure| anyhow::anyhow!("{failure}"))?;
    let first_compile = started.elapsed();
    assert_eq!(loaded.source(), ArtifactSource::Compiled);
    drop(loaded);
    drop(runtime);

    // Warm start: a new runtime, as a new process would have, loads the
    // artifact from disk and runs the task once.
    let started = Instant::now();
    let runtime = Runtime::new(artifacts.path().to_path_buf())?;
    let loaded = runtime.load(&hash, &bytes).map_err(|failure| anyhow::anyhow!("{failure}"))?;
    call(&runtime, &loaded)?;
    let warm_start = started.elapsed();
    assert_eq!(loaded.source(), ArtifactSource::Disk);

    // One call: a fresh store and instance per call, as every task run gets.
    let mut times = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        call(&runtime, &loaded)?;
        times.push(started.elapsed());
    }
    times.sort();

    let whole_run = whole_process_run(dir, artifacts.path(), runs)?;

    Ok(Measured {
        label: label.to_string(),
        size: bytes.len() as u64,
        first_compile,
        warm_start,
        call_median: times[times.len() / 2],
        call_p99: times[(times.len() * 99).div_ceil(100) - 1],
        whole_run,
    })
}

/// Runs the skeleton task once on its sample input and checks its output.
fn call(runtime: &Runtime, loaded: &wflow_host::runtime::LoadedComponent) -> Result<()> {
    let context = TaskContext {
        flow: "bench".to_string(),
        task: "greet".to_string(),
        run_id: "bench".to_string(),
        attempt: 1,
        params: vec![("greeting".to_string(), ParamValue::String("Hello".to_string()))],
    };
    let limits = Limits { fuel: Some(10_000_000_000), memory_bytes: 256 << 20, timeout: Some(Duration::from_secs(60)) };
    let result = runtime.run(loaded, &context, br#"{"name": "wflow"}"#, limits, &CancellationToken::new(), None);
    match result.output {
        Ok(output) if output.starts_with(b"{\"greeting\"") => Ok(()),
        Ok(output) => bail!("unexpected output {}", String::from_utf8_lossy(&output)),
        Err(failure) => bail!("the task failed: {failure}"),
    }
}

/// Median wall time of `wflow-host run flow.toml --no-cache` in the task
/// folder, with the compiled artifact already on disk: what a user waits
/// for a one-task flow.
fn whole_process_run(dir: &Path, artifacts: &Path, runs: usize) -> Result<Duration> {
    let binary = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/wflow-host");
    let state = tempfile::tempdir()?;
    let mut times = Vec::with_capacity(runs);
    // The first run fills the state directory; it is not counted.
    for round in 0..=runs {
        let started = Instant::now();
        let output = Command::new(&binary)
            .current_dir(dir)
            .args(["--state-dir"])
            .arg(state.path())
            .args(["--artifact-dir"])
            .arg(artifacts)
            .args(["run", "flow.toml", "--no-cache"])
            .output()
            .with_context(|| format!("starting {}; build it with cargo build --release", binary.display()))?;
        let elapsed = started.elapsed();
        if !output.status.success() {
            bail!(
                "wflow-host run in {} failed:\n{}{}",
                dir.display(),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        if round > 0 {
            times.push(elapsed);
        }
    }
    times.sort();
    Ok(times[times.len() / 2])
}

fn print_table(rows: &[Measured], calls: usize, runs: usize) {
    println!(
        "| language | component | first compile | warm start | one call, median | one call, p99 | whole `wflow-host run`, warm |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for row in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            row.label,
            size(row.size),
            time(row.first_compile),
            time(row.warm_start),
            time(row.call_median),
            time(row.call_p99),
            time(row.whole_run)
        );
    }
    println!();
    println!("One call: {calls} calls, each in a fresh store and instance. Whole run: median of {runs}.");
}

//! The benchmark suite: wflow's cost per task and per flow, against the
//! floor of a bare wasmtime program and against Prefect 3.
//!
//! Run it with `./scripts/bench`, which builds what it needs and passes the
//! paths here. It prints a Markdown report on stdout.
//!
//! Usage: suite --host BIN --fib WASM --flights-flow TOML --parquet-flow TOML
//!        [--parquet-file PARQUET] [--prefect PYTHON] [--chain N] [--fan-out N]
//!        [--runs N] [--smoke]

mod floor;

#[path = "../common/format.rs"]
mod format;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use format::{size, time};
use wflow_host::executor::{RunObserver, RunOptions, TaskReport};
use wflow_host::runtime::LogLine;
use wflow_host::{Host, HostOptions};

struct Settings {
    host: PathBuf,
    fib: PathBuf,
    flights_flow: PathBuf,
    parquet_flow: PathBuf,
    /// The large Parquet file; its row is skipped when the file is missing.
    parquet_file: Option<PathBuf>,
    prefect: Option<PathBuf>,
    chain: usize,
    fan_out: usize,
    /// The fan-out size for the comparison with Prefect, which takes
    /// minutes for 10,000 elements.
    prefect_fan_out: usize,
    runs: usize,
    /// Runs of the chain in one process, for the per-task samples.
    chain_rounds: usize,
}

fn main() -> Result<()> {
    let settings = parse_args()?;
    let work = tempfile::tempdir()?;
    let artifacts = work.path().join("artifacts");
    let mut report = Vec::new();

    let chain_flow = write_chain(work.path(), &settings.fib, settings.chain)?;
    let fan_out_flow = write_fan_out(work.path(), &settings.fib, settings.fan_out)?;

    // 1. The chain, whole process, warm, cache off.
    let state = work.path().join("state-chain");
    run_process(&settings.host, &state, &artifacts, &chain_flow, &["--no-cache"])?;
    let chain =
        repeat(settings.runs, || run_process(&settings.host, &state, &artifacts, &chain_flow, &["--no-cache"]))?;

    // 3. The fan-out, whole process, cache off.
    let state = work.path().join("state-fan-out");
    run_process(&settings.host, &state, &artifacts, &fan_out_flow, &["--no-cache"])?;
    let fan_out = repeat(settings.runs.min(3), || {
        run_process(&settings.host, &state, &artifacts, &fan_out_flow, &["--no-cache"])
    })?;

    // The same fan-out with the cache on, on a fresh state directory: every
    // lookup misses and every output is stored.
    let cached_fan_out = repeat(settings.runs.min(3), || {
        let state = tempfile::tempdir_in(work.path())?;
        run_process(&settings.host, state.path(), &artifacts, &fan_out_flow, &[])
    })?;

    // The fan-out at the size Prefect runs, for the ratio.
    let small_fan_out_flow = write_fan_out(&work.path().join("small"), &settings.fib, settings.prefect_fan_out)?;
    let state = work.path().join("state-small-fan-out");
    run_process(&settings.host, &state, &artifacts, &small_fan_out_flow, &["--no-cache"])?;
    let small_fan_out = median_run(&repeat(settings.runs.min(3), || {
        run_process(&settings.host, &state, &artifacts, &small_fan_out_flow, &["--no-cache"])
    })?);

    // 4. Real data at scale: the Parquet flights flow, warm, cache off.
    let parquet_file = settings.parquet_file.as_ref().filter(|file| file.is_file());
    let parquet = match parquet_file {
        Some(file) => {
            let state = work.path().join("state-parquet");
            let flights = format!("flights={}", file.display());
            let out = format!("out={}", work.path().join("parquet-out").display());
            let args = ["--no-cache", "--param", flights.as_str(), "--param", out.as_str()];
            run_process(&settings.host, &state, &artifacts, &settings.parquet_flow, &args)?;
            let runs = repeat(settings.runs.min(3), || {
                run_process(&settings.host, &state, &artifacts, &settings.parquet_flow, &args)
            })?;
            Some(median_run(&runs))
        }
        None => None,
    };

    // 5. Cold start: an empty state directory and artifact folder.
    let cold_state = work.path().join("state-cold");
    let cold_artifacts = work.path().join("artifacts-cold");
    let cold = run_process(&settings.host, &cold_state, &cold_artifacts, &settings.flights_flow, &[])?;
    let second = run_process(&settings.host, &cold_state, &cold_artifacts, &settings.flights_flow, &["--no-cache"])?;

    // 6. Cached rerun: every task of the flights flow a cache hit.
    let cached = repeat(settings.runs, || {
        run_process(&settings.host, &cold_state, &cold_artifacts, &settings.flights_flow, &[])
    })?;

    // In-process measurements come last: a child process's peak RSS, as
    // wait4 reports it, can include memory that this process had at the fork.
    // 2. Per-task overhead: the gaps between task ends in the chain, less the
    // task's own compute, against the floor.
    let gaps = chain_gaps(&chain_flow, work.path(), &artifacts, settings.chain_rounds)?;
    let fib_bytes = std::fs::read(&settings.fib)?;
    let floor = floor::measure(&fib_bytes, br#"{"n": 10, "step": 0}"#, 1000)?;
    let compute = median(&floor.call_only);
    let floor_task = median(&floor.instantiate_and_call);
    let overheads: Vec<Duration> = gaps.iter().map(|gap| gap.saturating_sub(compute)).collect();

    let prefect = match &settings.prefect {
        Some(python) => Some(prefect(python, &settings)?),
        None => None,
    };

    report.push("| measure | wflow | floor (bare wasmtime) | Prefect 3 |".to_string());
    report.push("| --- | ---: | ---: | ---: |".to_string());
    let chain_median = median_run(&chain);
    report.push(format!(
        "| chain of {}, whole process | {} ({} peak RSS) | | {} |",
        settings.chain,
        time(chain_median.wall),
        size(chain_median.peak_rss),
        prefect.as_ref().map_or("not run".to_string(), |p| format!(
            "{} ({:.0}x)",
            time(p.chain),
            ratio(p.chain, chain_median.wall)
        )),
    ));
    report.push(format!(
        "| per-task cost, median / p99 | {} / {} | {} / {} | |",
        time(median(&gaps)),
        time(percentile(&gaps, 99)),
        time(floor_task),
        time(percentile(&floor.instantiate_and_call, 99)),
    ));
    report.push(format!(
        "| per-task overhead (cost less compute {}), median / p99 | {} / {} ({:.1}x the floor) | {} | |",
        time(compute),
        time(median(&overheads)),
        time(percentile(&overheads, 99)),
        ratio(median(&overheads), floor_task.saturating_sub(compute)),
        time(floor_task.saturating_sub(compute)),
    ));
    let fan_median = median_run(&fan_out);
    report.push(format!(
        "| fan-out of {}, whole process | {} ({} peak RSS) | | {} |",
        settings.fan_out,
        time(fan_median.wall),
        size(fan_median.peak_rss),
        "",
    ));
    let cached_fan_median = median_run(&cached_fan_out);
    report.push(format!(
        "| fan-out of {}, whole process, cache on (every lookup a miss) | {} ({} peak RSS) | | |",
        settings.fan_out,
        time(cached_fan_median.wall),
        size(cached_fan_median.peak_rss),
    ));
    report.push(format!(
        "| fan-out of {}, whole process | {} ({} peak RSS) | | {} |",
        settings.prefect_fan_out,
        time(small_fan_out.wall),
        size(small_fan_out.peak_rss),
        prefect.as_ref().map_or("not run".to_string(), |p| format!(
            "{} ({:.0}x)",
            time(p.fan_out),
            ratio(p.fan_out, small_fan_out.wall)
        )),
    ));
    match (parquet, &settings.parquet_file) {
        (Some(run), Some(file)) => report.push(format!(
            "| flights flow over {}, by month, mapped, whole process, cache off | {} ({} peak RSS) | | |",
            file.file_name().map_or_else(|| file.display().to_string(), |name| name.to_string_lossy().into_owned()),
            time(run.wall),
            size(run.peak_rss)
        )),
        (_, Some(file)) => {
            report.push(format!("| flights flow over Parquet | skipped: {} is missing | | |", file.display()))
        }
        (_, None) => report.push("| flights flow over Parquet | skipped: no --parquet-file given | | |".to_string()),
    }
    report.push(format!(
        "| flights flow, cold start (compiles every component) | {} ({} peak RSS) | | |",
        time(cold.wall),
        size(cold.peak_rss)
    ));
    report.push(format!("| flights flow, second run, cache off | {} | | |", time(second.wall)));
    let cached_median = median_run(&cached);
    report.push(format!(
        "| flights flow, cached rerun | {} ({} peak RSS) | | |",
        time(cached_median.wall),
        size(cached_median.peak_rss)
    ));
    println!("{}", report.join("\n"));
    println!();
    println!(
        "Whole-process figures are medians of {} runs ({} for the fan-outs, the Parquet flow and Prefect); \
         per-task figures come from {} runs of the chain in one process.",
        settings.runs,
        settings.runs.min(3),
        settings.chain_rounds
    );
    Ok(())
}

fn parse_args() -> Result<Settings> {
    let mut settings = Settings {
        host: PathBuf::new(),
        fib: PathBuf::new(),
        flights_flow: PathBuf::new(),
        parquet_flow: PathBuf::new(),
        parquet_file: None,
        prefect: None,
        chain: 40,
        fan_out: 10_000,
        prefect_fan_out: 1000,
        runs: 10,
        chain_rounds: 50,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--host" => settings.host = PathBuf::from(value()?),
            "--fib" => settings.fib = PathBuf::from(value()?),
            "--flights-flow" => settings.flights_flow = PathBuf::from(value()?),
            "--parquet-flow" => settings.parquet_flow = PathBuf::from(value()?),
            "--parquet-file" => settings.parquet_file = Some(PathBuf::from(value()?)),
            "--prefect" => settings.prefect = Some(PathBuf::from(value()?)),
            "--chain" => settings.chain = value()?.parse()?,
            "--fan-out" => settings.fan_out = value()?.parse()?,
            "--prefect-fan-out" => settings.prefect_fan_out = value()?.parse()?,
            "--runs" => settings.runs = value()?.parse()?,
            "--smoke" => {
                settings.chain = 3;
                settings.fan_out = 10;
                settings.prefect_fan_out = 10;
                settings.runs = 1;
                settings.chain_rounds = 2;
            }
            // cargo bench passes this to every bench binary.
            "--bench" => {}
            other => bail!("unknown argument `{other}`; see the usage at the top of host/benches/suite/main.rs"),
        }
    }
    let required = [
        (&settings.host, "--host"),
        (&settings.fib, "--fib"),
        (&settings.flights_flow, "--flights-flow"),
        (&settings.parquet_flow, "--parquet-flow"),
    ];
    for (path, what) in required {
        if !path.is_file() {
            bail!("{what} `{}` is not a file; run ./scripts/bench, which builds it", path.display());
        }
    }
    Ok(settings)
}

/// Writes a flow of `length` fib tasks, each taking the previous one's output.
fn write_chain(folder: &Path, fib: &Path, length: usize) -> Result<PathBuf> {
    std::fs::write(folder.join("start.json"), r#"{"n": 10}"#)?;
    let mut text = String::from("[flow]\nname = \"chain\"\nmax_parallel = 1\n");
    for index in 0..length {
        let input = if index == 0 {
            "{ file = \"start.json\" }".to_string()
        } else {
            format!("{{ task = \"fib{}\" }}", index - 1)
        };
        text += &format!("\n[[tasks]]\nid = \"fib{index}\"\ncomponent = \"{}\"\ninput = {input}\n", fib.display());
    }
    let path = folder.join("chain.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Writes a flow that maps the fib task over `count` inputs.
fn write_fan_out(folder: &Path, fib: &Path, count: usize) -> Result<PathBuf> {
    std::fs::create_dir_all(folder)?;
    std::fs::write(folder.join("spread.json"), format!(r#"{{"n": 10, "count": {count}}}"#))?;
    let text = format!(
        "[flow]\nname = \"fan-out\"\n\n[[tasks]]\nid = \"spread\"\ncomponent = \"{fib}\"\ninput = {{ file = \
         \"spread.json\" }}\n\n[[tasks]]\nid = \"fib\"\ncomponent = \"{fib}\"\ninput = {{ map = \"spread\" }}\n",
        fib = fib.display()
    );
    let path = folder.join("fan-out.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// One whole-process run's wall time and peak resident memory.
#[derive(Clone, Copy)]
struct ProcessRun {
    wall: Duration,
    peak_rss: u64,
}

/// Runs `wflow-host run FLOW` as a child process and measures it.
fn run_process(host: &Path, state: &Path, artifacts: &Path, flow: &Path, extra: &[&str]) -> Result<ProcessRun> {
    // stderr goes to a file: a pipe read only after the exit could fill up
    // and stop the child.
    let mut stderr_file = tempfile::tempfile()?;
    let started = Instant::now();
    let child = Command::new(host)
        .arg("--state-dir")
        .arg(state)
        .arg("--artifact-dir")
        .arg(artifacts)
        .arg("run")
        .arg(flow)
        .args(extra)
        .stdout(std::process::Stdio::null())
        .stderr(stderr_file.try_clone()?)
        .spawn()
        .with_context(|| format!("starting {}", host.display()))?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is this process's own child, not yet waited for; wait4
    // writes only into the two locals passed.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    if waited != pid {
        bail!("waiting for {} failed: {}", host.display(), std::io::Error::last_os_error());
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        use std::io::{Read as _, Seek as _};
        let mut stderr = String::new();
        stderr_file.rewind()?;
        stderr_file.read_to_string(&mut stderr)?;
        bail!("wflow-host run {} failed:\n{stderr}", flow.display());
    }
    // ru_maxrss is in KiB on Linux.
    Ok(ProcessRun { wall, peak_rss: u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024 })
}

fn repeat(runs: usize, mut run: impl FnMut() -> Result<ProcessRun>) -> Result<Vec<ProcessRun>> {
    (0..runs.max(1)).map(|_| run()).collect()
}

/// Records when each task ends.
struct Ends(Mutex<Vec<Instant>>);

impl RunObserver for Ends {
    fn task_finished(&self, _report: &TaskReport, _logs: &[LogLine]) {
        self.0.lock().unwrap().push(Instant::now());
    }
}

/// Runs the chain `rounds` times in this process through the library and
/// returns the time between consecutive task ends: each task's whole cost,
/// scheduling and recording included.
fn chain_gaps(flow_path: &Path, folder: &Path, artifacts: &Path, rounds: usize) -> Result<Vec<Duration>> {
    let runtime = tokio::runtime::Runtime::new()?;
    let options = HostOptions { artifact_dir: Some(artifacts.to_path_buf()), ..HostOptions::default() };
    let host = Host::open_with(&folder.join("state-gaps"), &options)?;
    let flow = wflow_host::manifest::load(flow_path, &[], folder).map_err(|error| anyhow::anyhow!("{error}"))?;
    let run_options = RunOptions { read_cache: false, ..RunOptions::default() };
    let mut gaps = Vec::new();
    for round in 0..=rounds {
        let ends = Arc::new(Ends(Mutex::new(Vec::new())));
        let report = runtime.block_on(host.run(&flow, &run_options, ends.clone()))?;
        if report.state != wflow_host::state::RunState::Completed {
            bail!("the chain did not complete: {report:?}");
        }
        // The first round loads the component; it is not counted.
        if round > 0 {
            let ends = ends.0.lock().unwrap();
            gaps.extend(ends.windows(2).map(|pair| pair[1] - pair[0]));
        }
    }
    gaps.sort();
    Ok(gaps)
}

struct PrefectTimes {
    chain: Duration,
    fan_out: Duration,
}

/// Runs the same chain and fan-out in Prefect 3, each as a whole process.
fn prefect(python: &Path, settings: &Settings) -> Result<PrefectTimes> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/prefect/flows.py");
    let time_shape = |shape: &str, size: usize| -> Result<Duration> {
        let started = Instant::now();
        let output = Command::new(python)
            .arg(&script)
            .arg(shape)
            .arg(size.to_string())
            .env("PREFECT_LOGGING_LEVEL", "WARNING")
            .output()
            .with_context(|| format!("starting {}", python.display()))?;
        let elapsed = started.elapsed();
        if !output.status.success() {
            bail!("Prefect's {shape} failed:\n{}", String::from_utf8_lossy(&output.stderr));
        }
        Ok(elapsed)
    };
    // A first run creates Prefect's database; it is not counted, as wflow's
    // first runs are not.
    time_shape("chain", 1)?;
    let median_of = |shape: &str, size: usize| -> Result<Duration> {
        let times = (0..settings.runs.min(3)).map(|_| time_shape(shape, size)).collect::<Result<Vec<_>>>()?;
        Ok(median(&times))
    };
    Ok(PrefectTimes {
        chain: median_of("chain", settings.chain)?,
        fan_out: median_of("fan-out", settings.prefect_fan_out)?,
    })
}

fn median(sorted_or_not: &[Duration]) -> Duration {
    percentile(sorted_or_not, 50)
}

fn percentile(values: &[Duration], percent: usize) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    let rank = (percent * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied().unwrap_or_default()
}

fn median_run(runs: &[ProcessRun]) -> ProcessRun {
    let mut sorted = runs.to_vec();
    sorted.sort_by_key(|run| run.wall);
    sorted[(sorted.len() - 1) / 2]
}

fn ratio(numerator: Duration, denominator: Duration) -> f64 {
    numerator.as_secs_f64() / denominator.as_secs_f64().max(1e-9)
}

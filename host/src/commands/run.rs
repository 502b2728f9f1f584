//! `wflow-host run`: run a flow and print each task as it ends.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use wflow_host::executor::{RunObserver, RunOptions, RunReport, TaskReport};
use wflow_host::manifest::{self, Flow, ParamOverride, display_bytes};
use wflow_host::runtime::{LogLevel, LogLine};
use wflow_host::state::RunStore as _;
use wflow_host::state::{AttemptRecord, RunState, TaskState};
use wflow_host::{Host, HostOptions};

use super::{Status, current_dir, display_path};

/// Run a flow: each task in its own sandbox, reusing cached outputs.
///
/// Prints a line per task as it ends and a summary; the exit status is 1
/// when any task failed.
#[derive(Args)]
pub struct RunArgs {
    /// The flow manifest (TOML). Not needed with --resume.
    #[arg(required_unless_present = "resume")]
    flow: Option<PathBuf>,

    /// Run again the tasks of run RUN_ID that did not complete, with the
    /// same manifest and parameters; completed tasks reuse their outputs.
    ///
    /// The result is a new run that records which run it resumed. The
    /// manifest is read again, so it should be unchanged since that run.
    #[arg(long, value_name = "RUN_ID", conflicts_with_all = ["params", "flow"])]
    resume: Option<String>,

    /// Set a parameter, as NAME=VALUE; repeatable. A relative path is
    /// resolved against the current directory.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<ParamOverride>,

    /// Run every task even when a stored output exists. Fresh outputs still
    /// replace the stored ones.
    #[arg(long)]
    no_cache: bool,

    /// Print one JSON summary on stdout instead of the per-task lines.
    #[arg(long)]
    json: bool,

    /// Also print debug and trace log lines of tasks, and the raw error and
    /// WebAssembly backtrace of each failure.
    #[arg(long, short)]
    verbose: bool,

    /// Run at most N tasks at the same time.
    ///
    /// Overrides the manifest's `max_parallel`; the default is the number of
    /// CPU cores.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_parallel: Option<u32>,
}

pub fn execute(args: RunArgs, state_dir: &Path, host_options: &HostOptions) -> Status {
    // A new run is checked before the state directory is touched; a resumed
    // run needs the state directory to find its manifest and parameters.
    let mut opened = None;
    let loaded = match (&args.resume, &args.flow) {
        (Some(run_id), _) => {
            let host = match Host::open_with(state_dir, host_options) {
                Ok(host) => host,
                Err(error) => {
                    eprintln!("error: {error:#}");
                    return Status::HostError;
                }
            };
            let loaded = load_resumed(&host, run_id);
            opened = Some(host);
            loaded
        }
        (None, Some(path)) => manifest::load(path, &args.params, &current_dir()).map_err(|error| error.to_string()),
        (None, None) => unreachable!("clap requires a flow unless --resume is given"),
    };
    let flow = match loaded {
        Ok(flow) => flow,
        Err(error) => {
            eprintln!("error: {error}");
            return Status::InvalidInput;
        }
    };

    let settings = RunSettings {
        read_cache: !args.no_cache,
        max_parallel: args.max_parallel.map(|count| count as usize),
        resume_from: args.resume.clone(),
        deployment: None,
        json: args.json,
        verbose: args.verbose,
    };
    run_flow(&flow, opened, &settings, state_dir, host_options)
}

/// The options of `run_flow`: how to run the flow and print it.
pub struct RunSettings {
    pub read_cache: bool,
    pub max_parallel: Option<usize>,
    pub resume_from: Option<String>,
    /// The deployment recorded with the run, for `trigger`.
    pub deployment: Option<String>,
    pub json: bool,
    pub verbose: bool,
}

/// Runs a loaded flow in this process, on `opened` or a host opened on
/// `state_dir`, printing each task as it ends and a summary. Ctrl-C or
/// SIGTERM cancels the run.
pub fn run_flow(
    flow: &Flow,
    opened: Option<Host>,
    settings: &RunSettings,
    state_dir: &Path,
    host_options: &HostOptions,
) -> Status {
    let runtime = match super::async_runtime() {
        Ok(runtime) => runtime,
        Err(status) => return status,
    };
    let host = match opened.map_or_else(|| Host::open_with(state_dir, host_options), Ok) {
        Ok(host) => host,
        Err(error) => {
            eprintln!("error: {error:#}");
            return Status::HostError;
        }
    };

    let options = RunOptions {
        read_cache: settings.read_cache,
        max_parallel: settings.max_parallel,
        resume_from: settings.resume_from.clone(),
        deployment: settings.deployment.clone(),
        ..RunOptions::default()
    };
    let printer = Arc::new(Printer::new(flow, settings.json, settings.verbose));
    let cancel = options.cancel.clone();
    runtime.spawn(async move {
        let signal = shutdown_signal().await;
        cancel.cancel();
        let _ = writeln!(
            std::io::stderr(),
            "received {signal}: cancelling the run; running tasks are interrupted and nothing else starts \
             (send it again to exit at once)"
        );
        let signal = shutdown_signal().await;
        let _ = writeln!(std::io::stderr(), "received {signal} again: exiting without waiting for the run to end");
        // The run stays recorded as running, and the next command marks it crashed.
        std::process::exit(130);
    });
    let report = match runtime.block_on(host.run(flow, &options, printer)) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("error: {error:#}");
            return Status::HostError;
        }
    };

    if settings.json {
        let json = serde_json::to_string(&report).expect("a run report always serializes");
        say!("{json}");
    } else {
        print_summary(&report);
    }
    match report.state {
        RunState::Completed => Status::Success,
        _ => Status::RunFailed,
    }
}

/// Loads the manifest of run `run_id` with the parameter values it ran with.
fn load_resumed(host: &Host, run_id: &str) -> Result<Flow, String> {
    let record = match host.runs().run(run_id) {
        Ok(Some(record)) => record,
        Ok(None) => return Err(format!("run `{run_id}` not found; `wflow-host runs list` shows the recorded runs")),
        Err(error) => return Err(format!("failed to read run `{run_id}`: {error:#}")),
    };
    if record.state == RunState::Completed {
        return Err(format!("run `{run_id}` completed; there is nothing to resume"));
    }
    let overrides: Vec<ParamOverride> = record
        .params
        .iter()
        .map(|(name, value)| ParamOverride {
            name: name.clone(),
            value: match value {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            },
        })
        .collect();
    let flow = manifest::load(Path::new(&record.manifest_path), &overrides, &current_dir())
        .map_err(|error| format!("cannot resume run `{run_id}`: {error}"))?;
    if !record.manifest_hash.is_empty() && record.manifest_hash != flow.manifest_hash {
        let _ = writeln!(
            std::io::stderr(),
            "warning: `{}` has changed since run {run_id}; the outputs reused from that run come from the old manifest",
            record.manifest_path
        );
    }
    Ok(flow)
}

/// Waits for SIGINT (Ctrl-C) or SIGTERM and returns the signal's name.
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        tracing::error!("failed to install signal handlers; Ctrl-C ends the process without recording the run");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    }
}

/// Prints task lines and task logs as the run goes on.
struct Printer {
    id_width: usize,
    json: bool,
    verbose: bool,
}

impl Printer {
    fn new(flow: &Flow, json: bool, verbose: bool) -> Self {
        let id_width = flow.tasks.iter().map(|task| task.id.len()).max().unwrap_or(0);
        Printer { id_width, json, verbose }
    }
}

impl Printer {
    /// Prints a task's log line on stderr, prefixed by the task id, unless
    /// its level is below what `--verbose` shows.
    fn print_log(&self, task: &str, line: &LogLine) {
        let minimum = if self.verbose { LogLevel::Trace } else { LogLevel::Info };
        if line.level >= minimum {
            let _ = writeln!(std::io::stderr(), "[{task}] {}: {}", line.source(), line.message);
        }
    }
}

impl RunObserver for Printer {
    fn task_log(&self, task: &str, line: &LogLine) {
        self.print_log(task, line);
    }

    fn task_retrying(&self, task: &str, attempt: &AttemptRecord, _logs: &[LogLine]) {
        if self.json {
            return;
        }
        let delay = attempt.retry_delay_ms.unwrap_or(0);
        let error = attempt.error.as_deref().unwrap_or_default();
        say!(
            "{:<9}  {:<width$}  attempt {} failed: {error}; retrying in {delay} ms",
            "retrying",
            task,
            attempt.attempt,
            width = self.id_width
        );
    }

    fn task_finished(&self, report: &TaskReport, _logs: &[LogLine]) {
        if self.json {
            return;
        }
        let state = report.state.name();
        let mut details = match report.state {
            TaskState::Completed => {
                format!("fuel {}, memory {}", group_digits(report.fuel_used), display_bytes(report.peak_memory_bytes))
            }
            TaskState::Cached => "cache hit".to_string(),
            _ => report.error.clone().unwrap_or_default(),
        };
        match report.elements {
            Some(elements) => details.push_str(&format!(" ({elements} elements, {} attempts)", report.attempts)),
            None if report.attempts > 1 => details.push_str(&format!(" (after {} attempts)", report.attempts)),
            None => {}
        }
        let duration = format!("{:.2} ms", report.duration.as_secs_f64() * 1000.0);
        say!("{state:<9}  {:<width$}  {duration:>11}  {details}", report.id, width = self.id_width);
        if self.verbose {
            if let Some(detail) = &report.detail {
                say!("{detail}");
            }
        }
    }
}

fn print_summary(report: &RunReport) {
    let final_states = [
        TaskState::Completed,
        TaskState::Cached,
        TaskState::Failed,
        TaskState::TimedOut,
        TaskState::Skipped,
        TaskState::Cancelled,
    ];
    let counts: Vec<String> = final_states
        .into_iter()
        .filter_map(|state| {
            let count = report.count(state);
            (count > 0).then(|| format!("{count} {}", state.name()))
        })
        .collect();
    let state = report.state.name();
    say!(
        "\nflow `{}` {state} in {:.1} ms: {} ({}); run {}",
        report.flow,
        report.duration.as_secs_f64() * 1000.0,
        plural(report.tasks.len(), "task"),
        counts.join(", "),
        report.run_id
    );
    for output in &report.outputs {
        match (&output.bytes, &output.error) {
            (Some(bytes), _) => say!("wrote {} ({})", display_path(&output.path), display_bytes(*bytes)),
            (None, Some(error)) => say!("did not write {}: {error}", display_path(&output.path)),
            (None, None) => {}
        }
    }
}

/// Formats `number` with a comma between groups of three digits.
fn group_digits(number: u64) -> String {
    let digits = number.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::group_digits;

    #[test]
    fn digits_are_grouped_by_three() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1000), "1,000");
        assert_eq!(group_digits(44370822), "44,370,822");
    }
}

/// `count` and `noun`, with an `s` unless `count` is 1: "1 task", "2 tasks".
pub(crate) fn plural(count: usize, noun: &str) -> String {
    if count == 1 { format!("{count} {noun}") } else { format!("{count} {noun}s") }
}

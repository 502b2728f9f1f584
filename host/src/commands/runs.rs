//! `wflow-host runs`: list past runs, show one run's tasks, print its logs.

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use wflow_host::manifest::display_bytes;
use wflow_host::runtime::LogLine;
use wflow_host::state::{
    LiveEntry, RedbRunStore, RunFilter, RunRecord, RunState, RunStore, StateDir, TaskRecord, live_log_path,
};

use serde_json::Value;

use super::Status;
use super::remote::Remote;

/// List past runs, show a run's tasks, or print a run's logs.
#[derive(Args)]
pub struct RunsArgs {
    #[command(subcommand)]
    command: RunsCommand,

    /// Ask a running server, such as http://127.0.0.1:7420, instead of
    /// reading the state directory. WFLOW_SERVER sets it too;
    /// WFLOW_API_TOKEN gives its token.
    #[arg(long, global = true, value_name = "URL")]
    server: Option<String>,
}

#[derive(Subcommand)]
enum RunsCommand {
    /// List runs, newest first.
    List {
        /// Only runs of this flow.
        #[arg(long)]
        flow: Option<String>,
        /// Only runs in this state: running, completed, failed, timed_out,
        /// cancelled or crashed.
        #[arg(long)]
        state: Option<RunState>,
        /// Show at most N runs.
        #[arg(long, value_name = "N", default_value_t = 20)]
        limit: usize,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one run with a table of its task runs.
    Show {
        run_id: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print the log lines of a run's tasks.
    Logs {
        run_id: String,
        /// Only the lines of this task; `ID[N]` names element N of a mapped task.
        #[arg(long)]
        task: Option<String>,
        /// Print one JSON object per line.
        #[arg(long)]
        json: bool,
        /// Follow a run that is going on, from its live log, until it ends.
        ///
        /// Works while another process runs the flow, because the live log
        /// is a plain file. The next command that opens the state directory
        /// after the run removes the live log.
        #[arg(long)]
        follow: bool,
    },
}

pub fn execute(args: RunsArgs, state_dir: &Path, state_wait: std::time::Duration) -> Status {
    match Remote::from_flag(args.server.as_deref()) {
        Ok(Some(remote)) => {
            return match execute_remote(&remote, args.command) {
                Ok(()) => Status::Success,
                Err(error) => {
                    eprintln!("error: {error:#}");
                    Status::InvalidInput
                }
            };
        }
        Ok(None) => {}
        Err(error) => {
            eprintln!("error: {error:#}");
            return Status::InvalidInput;
        }
    }
    if let RunsCommand::Logs { run_id, task, json, follow: true } = &args.command {
        return match follow_logs(state_dir, run_id, task.as_deref(), *json) {
            Ok(()) => Status::Success,
            Err(error) => {
                eprintln!("error: {error:#}");
                Status::InvalidInput
            }
        };
    }
    let state = match StateDir::open(state_dir, state_wait) {
        Ok(state) => state,
        Err(error) => {
            eprintln!("error: {error:#}");
            return Status::HostError;
        }
    };
    let result = {
        let runs = RedbRunStore::new(state.database());
        match args.command {
            RunsCommand::List { flow, state, limit, json } => {
                list(&runs, RunFilter { flow, state, deployment: None, limit: Some(limit) }, json)
            }
            RunsCommand::Show { run_id, json } => show(&runs, &run_id, json),
            RunsCommand::Logs { run_id, task, json, .. } => logs(&runs, &run_id, task.as_deref(), json),
        }
    };
    match result {
        Ok(()) => Status::Success,
        Err(error) => {
            eprintln!("error: {error:#}");
            Status::InvalidInput
        }
    }
}

fn list(runs: &RedbRunStore, filter: RunFilter, json: bool) -> Result<()> {
    print_runs(&runs.runs(&filter)?, json)
}

fn print_runs(records: &[RunRecord], json: bool) -> Result<()> {
    if json {
        say!("{}", serde_json::to_string(&records)?);
        return Ok(());
    }
    if records.is_empty() {
        say!("no runs recorded");
        return Ok(());
    }
    let mut table = Table::new();
    *table.style_mut() = UTF8_BORDERS_ONLY;
    table.set_header(["run id", "flow", "state", "started", "duration"]);
    for run in records {
        table.add_row([
            run.run_id.clone(),
            run.flow.clone(),
            run.state.name().to_string(),
            format_time(run.started_at_ms),
            run.ended_at_ms.map_or("-".to_string(), |ended| format_duration(ended.saturating_sub(run.started_at_ms))),
        ]);
    }
    say!("{table}");
    Ok(())
}

fn find_run(runs: &RedbRunStore, run_id: &str) -> Result<RunRecord> {
    match runs.run(run_id)? {
        Some(run) => Ok(run),
        None => bail!("run `{run_id}` not found; `wflow-host runs list` shows the recorded runs"),
    }
}

/// Reads the task runs of `run_id` in the order they started.
fn tasks_by_start(runs: &RedbRunStore, run_id: &str) -> Result<Vec<TaskRecord>> {
    let mut tasks = runs.tasks(run_id)?;
    tasks.sort_by_key(|task| task.started_at_ms);
    Ok(tasks)
}

fn show(runs: &RedbRunStore, run_id: &str, json: bool) -> Result<()> {
    let run = find_run(runs, run_id)?;
    let tasks = tasks_by_start(runs, run_id)?;
    if json {
        let mut elements = serde_json::Map::new();
        for task in tasks.iter().filter(|task| task.elements.is_some()) {
            elements.insert(task.task_id.clone(), serde_json::to_value(runs.elements(run_id, &task.task_id)?)?);
        }
        let value = serde_json::json!({ "run": run, "tasks": tasks, "elements": elements });
        say!("{}", serde_json::to_string(&value)?);
        return Ok(());
    }
    print_run_table(&run, &tasks);
    Ok(())
}

/// Prints a run's header and a table of its task runs.
fn print_run_table(run: &RunRecord, tasks: &[TaskRecord]) {
    say!("run {} of flow `{}`: {}", run.run_id, run.flow, run.state.name());
    say!("started {}, manifest {}", format_time(run.started_at_ms), run.manifest_path);
    if let Some(scheduled_for_ms) = run.scheduled_for_ms {
        say!("scheduled for {}", format_time(scheduled_for_ms));
    }
    if let Some(error) = &run.error {
        say!("error: {error}");
    }
    let mut table = Table::new();
    *table.style_mut() = UTF8_BORDERS_ONLY;
    table.set_header(["task", "state", "attempts", "duration", "fuel", "peak memory", "cache", "error"]);
    for task in tasks {
        table.add_row([
            task.task_id.clone(),
            task.state.name().to_string(),
            match task.elements {
                Some(elements) => format!("{elements} elements"),
                None => task.attempts.len().to_string(),
            },
            format_duration(task.ended_at_ms.saturating_sub(task.started_at_ms)),
            task.fuel_used.to_string(),
            display_bytes(task.peak_memory_bytes),
            if task.cache_hit { "hit" } else { "-" }.to_string(),
            task.error.clone().unwrap_or_default(),
        ]);
    }
    say!("{table}");
}

fn logs(runs: &RedbRunStore, run_id: &str, only_task: Option<&str>, json: bool) -> Result<()> {
    find_run(runs, run_id)?;
    let tasks = tasks_by_start(runs, run_id)?;
    let mut ids: Vec<String> = Vec::new();
    match only_task {
        None => {
            for task in &tasks {
                ids.extend(log_ids(task));
            }
        }
        Some(only) => {
            let (base, element) = parse_task_selector(only)?;
            let Some(task) = tasks.iter().find(|record| record.task_id == base) else {
                let known: Vec<&str> = tasks.iter().map(|record| record.task_id.as_str()).collect();
                bail!("run `{run_id}` has no task `{base}`; its tasks are: {}", known.join(", "));
            };
            match (element, task.elements) {
                (None, _) => ids.extend(log_ids(task)),
                (Some(index), Some(count)) if index < count => ids.push(only.to_string()),
                (Some(index), Some(count)) => {
                    bail!(
                        "task `{base}` has {count} elements, numbered 0 to {}; there is no element {index}",
                        count.saturating_sub(1)
                    )
                }
                (Some(_), None) => bail!("task `{base}` is not mapped, so it has no elements; use --task {base}"),
            }
        }
    }
    for id in &ids {
        let lines = runs.logs(run_id, id).context("failed to read the run log")?;
        for line in lines {
            if json {
                let value = serde_json::json!({ "task": id, "line": line });
                say!("{}", serde_json::to_string(&value)?);
                continue;
            }
            print_line(id, &line);
        }
    }
    Ok(())
}

/// Runs a `runs` subcommand against a running server's API.
fn execute_remote(remote: &Remote, command: RunsCommand) -> Result<()> {
    match command {
        RunsCommand::List { flow, state, limit, json } => {
            let mut query = format!("/api/v1/runs?limit={limit}");
            if let Some(flow) = flow {
                query.push_str(&format!("&flow={}", encode_query(&flow)));
            }
            if let Some(state) = state {
                query.push_str(&format!("&state={}", state.name()));
            }
            let records: Vec<RunRecord> =
                serde_json::from_value(remote.get(&query)?).context("the server sent runs in an unknown shape")?;
            print_runs(&records, json)
        }
        RunsCommand::Show { run_id, json } => {
            let detail = remote.get(&format!("/api/v1/runs/{}", encode_query(&run_id)))?;
            if json {
                say!("{detail}");
                return Ok(());
            }
            let run: RunRecord =
                serde_json::from_value(detail["run"].clone()).context("the server sent a run in an unknown shape")?;
            let mut tasks: Vec<TaskRecord> =
                serde_json::from_value(detail["tasks"].clone()).context("the server sent tasks in an unknown shape")?;
            tasks.sort_by_key(|task| task.started_at_ms);
            print_run_table(&run, &tasks);
            Ok(())
        }
        RunsCommand::Logs { run_id, task, json, follow } => {
            let mut path = format!("/api/v1/runs/{}/logs", encode_query(&run_id));
            if follow {
                path.push_str("/stream");
            }
            if let Some(task) = &task {
                path.push_str(&format!("?task={}", encode_query(task)));
            }
            let print = |entry: Value| -> Result<()> {
                if let Some(end) = entry.get("end") {
                    if !json {
                        say!("run {run_id} ended: {}", end.as_str().unwrap_or("unknown"));
                    }
                    return Ok(());
                }
                if json {
                    say!("{entry}");
                    return Ok(());
                }
                let line: LogLine = serde_json::from_value(entry["line"].clone())
                    .context("the server sent a log line in an unknown shape")?;
                print_line(entry["task"].as_str().unwrap_or(""), &line);
                Ok(())
            };
            if follow {
                return remote.stream(&path, print);
            }
            match remote.get(&path)? {
                Value::Array(entries) => entries.into_iter().try_for_each(print),
                other => bail!("the server sent logs in an unknown shape: {other}"),
            }
        }
    }
}

/// Percent-encodes `text` for a URL path segment or query value.
fn encode_query(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Lists the log keys of a task: its id, then `ID[N]` for each element if mapped.
fn log_ids(task: &TaskRecord) -> Vec<String> {
    let mut ids = vec![task.task_id.clone()];
    if let Some(count) = task.elements {
        ids.extend((0..count).map(|index| format!("{}[{index}]", task.task_id)));
    }
    ids
}

/// Splits `ID` or `ID[N]` into the task id and the element index.
fn parse_task_selector(selector: &str) -> Result<(&str, Option<u64>)> {
    let Some((base, rest)) = selector.split_once('[') else {
        return Ok((selector, None));
    };
    match rest.strip_suffix(']').and_then(|index| index.parse().ok()) {
        Some(index) => Ok((base, Some(index))),
        None => bail!("invalid task `{selector}`: write ID for a task or ID[N] for element N of a mapped task"),
    }
}

/// Prints a run's live log as it grows, until its end marker.
fn follow_logs(state_dir: &Path, run_id: &str, only_task: Option<&str>, json: bool) -> Result<()> {
    use std::io::{BufRead as _, BufReader};

    let path = live_log_path(state_dir, run_id);
    let file = std::fs::File::open(&path).with_context(|| {
        format!(
            "no live log for run `{run_id}`: no run with this id is going on in this state directory; \
             `wflow-host runs list` shows the recorded runs, and `wflow-host runs logs {run_id}` \
             without --follow shows the log of one that has ended"
        )
    })?;
    let mut reader = BufReader::new(file);
    let mut text = String::new();
    let mut idle_polls: u32 = 0;
    let mut ended = false;
    loop {
        // `read_line` appends, so a line that the run is still writing is
        // completed on a later pass.
        let read = reader.read_line(&mut text)?;
        if !text.ends_with('\n') {
            if read == 0 {
                // A process that can open the state directory proves that no
                // run is going on. The file is read to its end once more,
                // because the run writes its end marker just before it lets
                // the state directory go.
                if ended {
                    bail!(
                        "run `{run_id}` is no longer running and its live log has no end marker: its process \
                         ended early; `wflow-host runs show {run_id}` shows its state"
                    );
                }
                if idle_polls % 10 == 9 {
                    ended = StateDir::open(state_dir, std::time::Duration::ZERO).is_ok();
                }
                idle_polls += 1;
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            continue;
        }
        idle_polls = 0;
        let entry: LiveEntry = serde_json::from_str(text.trim_end())
            .with_context(|| format!("invalid line in live log `{}`", path.display()))?;
        text.clear();
        match entry {
            LiveEntry::End { end } => {
                if !json {
                    say!("run {run_id} ended: {}", end.name());
                }
                return Ok(());
            }
            LiveEntry::Line { task, line } => {
                if only_task.is_some_and(|only| only != task && !task.starts_with(&format!("{only}["))) {
                    continue;
                }
                if json {
                    say!("{}", serde_json::to_string(&serde_json::json!({ "task": task, "line": line }))?);
                } else {
                    print_line(&task, &line);
                }
            }
        }
    }
}

fn print_line(task: &str, line: &LogLine) {
    say!("{} [{task}#{}] {}: {}", format_time(line.timestamp_ms), line.attempt, line.source(), line.message);
}

/// Formats milliseconds since the Unix epoch as an RFC 3339 UTC time.
fn format_time(unix_ms: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(unix_ms);
    humantime::format_rfc3339_millis(time).to_string()
}

fn format_duration(ms: u64) -> String {
    if ms < 1000 { format!("{ms} ms") } else { format!("{:.1} s", ms as f64 / 1000.0) }
}

//! The `wflow-host` command line.
//!
//! Exit status:
//!
//! - 0: the command succeeded;
//! - 1: a flow run failed, because a task failed or an output was not written;
//! - 2: a manifest, parameter or argument is invalid;
//! - 3: the host itself could not work, for example because the state
//!   directory is unavailable.

mod commands;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use wflow_host::state::STATE_DIR_ENV;

#[derive(Parser)]
#[command(name = "wflow-host", version, about = "Run flows of WebAssembly component tasks")]
struct Cli {
    #[command(subcommand)]
    command: Command,

    /// Folder for the output cache, run records and compiled components.
    ///
    /// Defaults to $XDG_STATE_HOME/wflow, else ~/.local/state/wflow. One
    /// process at a time may use a state directory.
    #[arg(long, global = true, env = STATE_DIR_ENV, value_name = "DIR")]
    state_dir: Option<PathBuf>,

    /// How long to wait for a state directory that another wflow-host
    /// process is using, such as `30s` or `5m`.
    ///
    /// One process at a time uses a state directory; others wait for it.
    #[arg(long, global = true, env = "WFLOW_STATE_WAIT", value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    state_wait: std::time::Duration,

    /// Folder of compiled components, which several state directories may
    /// share; default the state directory's `artifacts` folder.
    ///
    /// Compiling a large component (Python, JavaScript) takes seconds. In a
    /// shared folder it is compiled once, except that processes starting at
    /// the same time may each compile it. The host runs these files as
    /// native code and checks them only against corruption: share the folder
    /// only among processes of one user.
    #[arg(long, global = true, env = "WFLOW_ARTIFACT_DIR", value_name = "DIR")]
    artifact_dir: Option<PathBuf>,

    /// Format of the host's own diagnostics on stderr: `text` or `json`.
    ///
    /// `RUST_LOG` filters them (default `warn`). Task lines and summaries on
    /// stdout are not affected.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    New(commands::new::NewArgs),
    Run(commands::run::RunArgs),
    Runs(commands::runs::RunsArgs),
    Schedule(commands::schedule::ScheduleArgs),
    Serve(commands::serve::ServeArgs),
    Trigger(commands::trigger::TriggerArgs),
    Validate(commands::validate::ValidateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A server logs its starts, reloads and runs; a one-off command only
    // its warnings.
    let default_level = if matches!(cli.command, Command::Serve(_)) { "info" } else { "warn" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let subscriber = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => subscriber.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => subscriber.json().with_current_span(true).with_span_list(true).init(),
    }

    let state_dir = cli.state_dir.unwrap_or_else(wflow_host::state::default_state_dir);
    let status = match cli.command {
        Command::New(args) => commands::new::execute(args),
        Command::Run(args) => {
            let options = wflow_host::HostOptions { state_wait: cli.state_wait, artifact_dir: cli.artifact_dir };
            commands::run::execute(args, &state_dir, &options)
        }
        Command::Runs(args) => commands::runs::execute(args, &state_dir, cli.state_wait),
        Command::Schedule(args) => commands::schedule::execute(args),
        Command::Serve(args) => {
            let options = wflow_host::HostOptions { state_wait: cli.state_wait, artifact_dir: cli.artifact_dir };
            commands::serve::execute(args, &state_dir, &options)
        }
        Command::Trigger(args) => {
            let options = wflow_host::HostOptions { state_wait: cli.state_wait, artifact_dir: cli.artifact_dir };
            commands::trigger::execute(args, &state_dir, &options)
        }
        Command::Validate(args) => commands::validate::execute(args),
    };
    ExitCode::from(status as u8)
}

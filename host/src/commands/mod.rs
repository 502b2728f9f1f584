//! One module per subcommand, each with its arguments and an `execute`
//! function that returns the process exit status.

/// Prints a line on stdout, ignoring a closed pipe (as in `wflow-host run |
/// head`), so that the run still finishes, writes its outputs and records
/// its end.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

pub mod new;
pub mod remote;
pub mod run;
pub mod runs;
pub mod schedule;
pub mod serve;
pub mod trigger;
pub mod validate;

use std::path::{Path, PathBuf};

/// Process exit status of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Success = 0,
    RunFailed = 1,
    InvalidInput = 2,
    HostError = 3,
}

/// Builds the async runtime that runs flows, or prints why it failed and
/// returns the exit status.
pub fn async_runtime() -> Result<tokio::runtime::Runtime, Status> {
    // Busy tasks yield about every millisecond; checking timers and
    // signals every 4 polls keeps a timeout or Ctrl-C within a few of them.
    tokio::runtime::Builder::new_multi_thread().event_interval(4).enable_all().build().map_err(|error| {
        eprintln!("error: failed to start the async runtime: {error}");
        Status::HostError
    })
}

/// Returns the current directory, against which command-line paths resolve.
pub fn current_dir() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
}

/// `path` relative to the current directory when it is below it, for
/// shorter messages; otherwise `path` unchanged.
pub fn display_path(path: &Path) -> String {
    let cwd = current_dir();
    path.strip_prefix(&cwd).unwrap_or(path).display().to_string()
}

//! One module per subcommand, each with its arguments and an `execute`
//! function that returns the process exit status.

pub mod run;
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

/// The current directory, against which command-line paths resolve.
pub fn current_dir() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
}

/// `path` relative to the current directory when it is below it, for
/// shorter messages; otherwise `path` unchanged.
pub fn display_path(path: &Path) -> String {
    let cwd = current_dir();
    path.strip_prefix(&cwd).unwrap_or(path).display().to_string()
}

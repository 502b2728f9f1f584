//! The error a task returns, and whether a retry could help.

use std::fmt;

/// Result type of a task function.
pub type Result<T, E = TaskError> = core::result::Result<T, E>;

/// A failure of the task itself, reported to the host with its message.
///
/// `?` converts any [`std::error::Error`] into a fatal `TaskError`, keeping the
/// chain of causes in the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskError {
    message: String,
    retryable: bool,
}

impl TaskError {
    /// An error that a retry cannot help, such as invalid input.
    pub fn fatal(message: impl Into<String>) -> Self {
        TaskError { message: message.into(), retryable: false }
    }

    /// An error that a retry could help, such as an unavailable service.
    pub fn retryable(message: impl Into<String>) -> Self {
        TaskError { message: message.into(), retryable: true }
    }

    /// The message shown in the run's report.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether running the task again could succeed.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// Prefixes the message with what the task was doing.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl<E: std::error::Error> From<E> for TaskError {
    fn from(error: E) -> Self {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        TaskError::fatal(message)
    }
}

/// Adds what the task was doing to an error, as in `.context("reading airports")?`.
pub trait ErrorContext<T> {
    /// Converts the error into a [`TaskError`] prefixed with `context`. A
    /// `TaskError` keeps whether it is retryable; any other error is fatal.
    fn context(self, context: impl fmt::Display) -> Result<T>;
}

impl<T, E: Into<TaskError>> ErrorContext<T> for core::result::Result<T, E> {
    fn context(self, context: impl fmt::Display) -> Result<T> {
        self.map_err(|error| error.into().context(context))
    }
}

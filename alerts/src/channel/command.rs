//! The command channel: run a program with the alert JSON on stdin.

use std::collections::BTreeMap;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStderr};
use tokio::task::JoinHandle;

use super::{AttemptError, Prepared, Target, default_command_timeout};
use crate::alert::Alert;
use crate::config::ConfigError;
use crate::secret::{Secret, SecretRef, Secrets};

/// Maximum number of bytes of stderr kept for the error, taken from the
/// end of the output.
pub const STDERR_TAIL_BYTES: usize = 4096;

/// How long to wait for stderr to close after a failed program exits. A
/// process that the program started in the background can hold the pipe
/// open for much longer.
const STDERR_GRACE: Duration = Duration::from_secs(1);

/// Prefix of the variables that the channel sets itself.
const RESERVED_ENV_PREFIX: &str = "WFLOW_ALERT_";

/// Configuration of a `type = "command"` channel.
///
/// The program runs without a shell, with `args` as its arguments and the
/// server's working directory. It gets the alert JSON on stdin, the
/// server's environment plus `WFLOW_ALERT_EVENT`, `WFLOW_ALERT_FLOW`,
/// `WFLOW_ALERT_RUN_ID`, `WFLOW_ALERT_STATE` and the variables of `env`,
/// and its stdout is discarded. An attempt succeeds when the program exits
/// with status 0. Any other exit is retried, so the program should be safe
/// to run twice for one alert.
///
/// ```toml
/// [[notify.channels]]
/// type = "command"
/// name = "pager"
/// program = "/usr/local/bin/page-oncall"
/// args = ["--team", "data"]
/// timeout = "20s"
/// env = { PAGER_TOKEN = { secret = "pager_token" } }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandConfig {
    /// Name in logs and deliveries, `command-N` by default, where N is the
    /// channel's 1-based position in the list.
    #[serde(default)]
    pub name: Option<String>,
    /// Path of the program, or a name looked up in `PATH`.
    pub program: String,
    /// Arguments, passed as they are.
    #[serde(default)]
    pub args: Vec<String>,
    /// Per-attempt timeout, after which the program and every process in
    /// its process group are killed; 30s by default.
    #[serde(default = "default_command_timeout", deserialize_with = "crate::duration::deserialize")]
    pub timeout: Duration,
    /// Extra environment variables, each read from a secret reference.
    #[serde(default)]
    pub env: BTreeMap<String, SecretRef>,
}

impl CommandConfig {
    pub(super) fn validate(&self, channel: &str) -> Result<(), ConfigError> {
        if self.program.is_empty() {
            return Err(ConfigError::EmptyProgram { channel: channel.to_string() });
        }
        for name in self.env.keys() {
            let reason = if name.is_empty() {
                "it is empty"
            } else if name.contains(['=', '\0']) {
                "it contains `=` or a NUL character"
            } else if name.starts_with(RESERVED_ENV_PREFIX) {
                "the channel sets variables starting with `WFLOW_ALERT_` itself"
            } else {
                continue;
            };
            return Err(ConfigError::InvalidEnvName {
                channel: channel.to_string(),
                name: name.clone(),
                reason: reason.to_string(),
            });
        }
        Ok(())
    }

    pub(super) fn prepare(&self, alert: &Alert, secrets: &Secrets) -> Result<Prepared, String> {
        let mut env = vec![
            ("WFLOW_ALERT_EVENT".to_string(), Secret::new(alert.event.as_str())),
            ("WFLOW_ALERT_FLOW".to_string(), Secret::new(alert.flow.as_str())),
            ("WFLOW_ALERT_RUN_ID".to_string(), Secret::new(alert.run_id.as_str())),
            ("WFLOW_ALERT_STATE".to_string(), Secret::new(alert.state.as_str())),
        ];
        let mut secret_values = Vec::new();
        for (name, reference) in &self.env {
            let secret =
                reference.resolve(secrets).map_err(|error| format!("failed to resolve `env.{name}`: {error}"))?;
            secret_values.push(secret.expose().to_string());
            env.push((name.clone(), secret));
        }

        let stdin = serde_json::to_vec(alert).map_err(|error| format!("failed to serialize the alert: {error}"))?;
        let invocation =
            Invocation { program: self.program.clone(), args: self.args.clone(), env, stdin, timeout: self.timeout };
        Ok(Prepared::new(Target::Command(invocation), secret_values))
    }
}

/// One run of the program per attempt.
pub(super) struct Invocation {
    program: String,
    args: Vec<String>,
    env: Vec<(String, Secret)>,
    stdin: Vec<u8>,
    timeout: Duration,
}

impl Invocation {
    /// Runs the program once. A program that cannot be started is not
    /// retried; a non-zero exit, a signal or a timeout is.
    pub(super) async fn run(&self) -> Result<(), AttemptError> {
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(&self.args)
            // The server's API token is not the command's to use.
            .env_remove("WFLOW_API_TOKEN")
            .envs(self.env.iter().map(|(name, value)| (name, value.expose())))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // A process group of its own, so that a timeout also kills the
        // processes that the program started, such as a shell's `sleep`.
        #[cfg(unix)]
        command.process_group(0);

        let mut child = command.spawn().map_err(|error| {
            AttemptError::permanent(format!(
                "failed to start `{}`: {error}; set `program` to an executable file or a program on PATH",
                self.program
            ))
        })?;

        let writer = child.stdin.take().map(|mut stdin| {
            let body = self.stdin.clone();
            tokio::spawn(async move {
                // The program may exit without reading stdin, and the broken
                // pipe that follows is not an error of the delivery.
                let _ = stdin.write_all(&body).await;
            })
        });
        let reader = child.stderr.take().map(|stderr| tokio::spawn(read_tail(stderr)));

        let waited = tokio::time::timeout(self.timeout, child.wait()).await;
        if let Some(writer) = writer {
            writer.abort();
        }

        let message = match waited {
            Ok(Ok(status)) if status.success() => {
                if let Some(reader) = reader {
                    reader.abort();
                }
                return Ok(());
            }
            Ok(Ok(status)) => self.exit_message(status),
            Ok(Err(error)) => format!("failed to wait for `{}`: {error}", self.program),
            Err(_elapsed) => {
                kill_all(&mut child).await;
                format!(
                    "`{}` timed out after {} and was killed; raise the channel's `timeout` if it needs longer",
                    self.program,
                    humantime::format_duration(self.timeout)
                )
            }
        };

        let stderr = match reader {
            Some(reader) => collect_stderr(reader).await,
            None => String::new(),
        };
        if stderr.is_empty() {
            Err(AttemptError::retryable(message))
        } else {
            Err(AttemptError::retryable(format!("{message}; stderr: {stderr}")))
        }
    }

    fn exit_message(&self, status: ExitStatus) -> String {
        match status.code() {
            Some(code) => format!("`{}` exited with status {code}", self.program),
            None => format!("`{}` was ended by a signal ({status})", self.program),
        }
    }
}

/// Kills the program's process group, then the program itself, and reaps
/// it.
async fn kill_all(child: &mut Child) {
    #[cfg(unix)]
    if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
        // SAFETY: kill(2) takes no pointers. The child is not reaped yet, so
        // its process group id, equal to its pid, still names this group.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill().await;
}

/// Reads stderr to its end and keeps the last [`STDERR_TAIL_BYTES`].
/// Returns the tail bytes and whether earlier bytes were dropped.
async fn read_tail(mut stderr: ChildStderr) -> (Vec<u8>, bool) {
    let mut tail = Vec::new();
    let mut dropped = false;
    let mut buffer = [0u8; 4096];
    loop {
        match stderr.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => tail.extend_from_slice(&buffer[..n]),
        }
        if tail.len() > 2 * STDERR_TAIL_BYTES {
            tail.drain(..tail.len() - STDERR_TAIL_BYTES);
            dropped = true;
        }
    }
    if tail.len() > STDERR_TAIL_BYTES {
        tail.drain(..tail.len() - STDERR_TAIL_BYTES);
        dropped = true;
    }
    (tail, dropped)
}

/// Waits up to [`STDERR_GRACE`] for the stderr reader and returns the tail
/// text, trimmed, starting with `…` when its start was dropped.
async fn collect_stderr(reader: JoinHandle<(Vec<u8>, bool)>) -> String {
    let abort = reader.abort_handle();
    let (bytes, dropped) = match tokio::time::timeout(STDERR_GRACE, reader).await {
        Ok(Ok(tail)) => tail,
        Ok(Err(_)) => return String::new(),
        Err(_elapsed) => {
            abort.abort();
            return "(not read, because a background process of the program kept stderr open)".to_string();
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim();
    if dropped { format!("…{text}") } else { text.to_string() }
}

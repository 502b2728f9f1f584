use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use wflow_alerts::{ChannelKind, STDERR_TAIL_BYTES, Secrets};

use crate::{failed_alert, notifier};

/// Writes an executable shell script into `dir` and returns its path.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o700)).unwrap();
    path
}

fn command_channel(program: &Path, extra: &str) -> String {
    format!("[[channels]]\ntype = \"command\"\nname = \"script\"\nprogram = \"{}\"\n{extra}\n", program.display())
}

#[tokio::test]
async fn command_gets_json_stdin_and_env() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let program = script(
        out,
        "record.sh",
        &format!(
            "cat > {0}/stdin.json\n\
             printf '%s\\n' \"$1\" \"$2\" \"$WFLOW_ALERT_EVENT\" \"$WFLOW_ALERT_FLOW\" \"$WFLOW_ALERT_RUN_ID\" \
             \"$WFLOW_ALERT_STATE\" \"$PAGER_TOKEN\" > {0}/env.txt",
            out.display()
        ),
    );
    let config =
        command_channel(&program, "args = [\"--team\", \"data ops\"]\nenv = { PAGER_TOKEN = { secret = \"pager\" } }");
    let secrets = Secrets::from_pairs([("pager", "tok-123")]);
    let alert = failed_alert();

    let deliveries = notifier(&config, secrets, 1).deliver(&alert).await;

    let delivery = &deliveries[0];
    assert!(delivery.delivered, "{delivery}");
    assert_eq!(delivery.kind, ChannelKind::Command);
    assert_eq!(delivery.attempts, 1);

    let stdin: serde_json::Value = serde_json::from_slice(&fs::read(out.join("stdin.json")).unwrap()).unwrap();
    assert_eq!(stdin, serde_json::to_value(&alert).unwrap());
    let env = fs::read_to_string(out.join("env.txt")).unwrap();
    let lines: Vec<&str> = env.lines().collect();
    assert_eq!(
        lines,
        ["--team", "data ops", "failed", "flights", "0196a3f2-7b1c-7c3e-9d2a-5f4e3b2a1c0d", "failed", "tok-123"]
    );
}

#[tokio::test]
async fn command_nonzero_exit_reports_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let program = script(dir.path(), "fail.sh", "cat > /dev/null\necho 'disk full' >&2\nexit 3");
    let config = command_channel(&program, "");

    let deliveries = notifier(&config, Secrets::empty(), 2).deliver(&failed_alert()).await;

    let delivery = &deliveries[0];
    assert!(!delivery.delivered);
    assert_eq!(delivery.attempts, 2);
    let error = delivery.error.as_deref().unwrap();
    assert!(error.contains("exited with status 3"), "{error}");
    assert!(error.ends_with("stderr: disk full"), "{error}");
}

#[tokio::test]
async fn command_ignoring_stdin_still_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let program = script(dir.path(), "quiet.sh", "exit 0");
    let config = command_channel(&program, "");

    let deliveries = notifier(&config, Secrets::empty(), 1).deliver(&failed_alert()).await;

    assert!(deliveries[0].delivered, "{}", deliveries[0]);
}

#[tokio::test]
async fn command_stderr_keeps_tail() {
    let dir = tempfile::tempdir().unwrap();
    let program = script(
        dir.path(),
        "noisy.sh",
        "i=0\nwhile [ $i -lt 2000 ]; do echo \"line $i of noise\" >&2; i=$((i+1)); done\necho 'final error' >&2\nexit 1",
    );
    let config = command_channel(&program, "");

    let deliveries = notifier(&config, Secrets::empty(), 1).deliver(&failed_alert()).await;

    let error = deliveries[0].error.as_deref().unwrap();
    let stderr = error.split_once("stderr: ").unwrap().1;
    assert!(stderr.starts_with('…'), "{stderr}");
    assert!(stderr.ends_with("final error"), "{stderr}");
    assert!(stderr.len() <= STDERR_TAIL_BYTES + '…'.len_utf8(), "{} bytes", stderr.len());
}

#[tokio::test]
async fn command_secret_in_stderr_is_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let program = script(dir.path(), "leak.sh", "echo \"token was $PAGER_TOKEN\" >&2\nexit 1");
    let config = command_channel(&program, "env = { PAGER_TOKEN = { secret = \"pager\" } }");
    let secrets = Secrets::from_pairs([("pager", "tok-98765")]);

    let deliveries = notifier(&config, secrets, 1).deliver(&failed_alert()).await;

    let error = deliveries[0].error.as_deref().unwrap();
    assert!(error.ends_with("stderr: token was [redacted]"), "{error}");
}

#[tokio::test]
async fn command_timeout_kills_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("sleep.pid");
    // The shell waits on a child `sleep`, which must die with it.
    let program = script(dir.path(), "slow.sh", &format!("sleep 30 &\necho $! > {}\nwait", pid_file.display()));
    let config = command_channel(&program, "timeout = \"300ms\"");

    let started = Instant::now();
    let deliveries = notifier(&config, Secrets::empty(), 1).deliver(&failed_alert()).await;

    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    let delivery = &deliveries[0];
    assert!(!delivery.delivered);
    let error = delivery.error.as_deref().unwrap();
    assert!(error.contains("timed out after 300ms and was killed"), "{error}");

    let pid = fs::read_to_string(&pid_file).unwrap().trim().to_string();
    assert!(process_ends(&pid, Duration::from_secs(3)), "sleep {pid} is still running");
}

/// Polls until the process is gone or a zombie.
fn process_ends(pid: &str, limit: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        match fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            Ok(stat) => {
                let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start()).unwrap_or("");
                if state.starts_with('Z') || state.starts_with('X') {
                    return true;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[tokio::test]
async fn command_missing_program_is_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    let config = command_channel(&dir.path().join("no-such-program"), "");

    let deliveries = notifier(&config, Secrets::empty(), 3).deliver(&failed_alert()).await;

    let delivery = &deliveries[0];
    assert!(!delivery.delivered);
    assert_eq!(delivery.attempts, 1);
    let error = delivery.error.as_deref().unwrap();
    assert!(error.contains("failed to start"), "{error}");
    assert!(error.contains("No such file"), "{error}");
}

//! The `wflow-host` binary: its summary, JSON output, exit statuses and the
//! `validate` and `schedule next` commands.

use crate::support::{self, Sandbox};

#[test]
fn run_json_summary_has_documented_shape() {
    let sandbox = Sandbox::new();
    let manifest = support::flights_flow(&sandbox);

    let output = support::wflow(sandbox.path(), &sandbox.state_dir(), &["run", manifest.to_str().unwrap(), "--json"]);

    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("stdout is one JSON document");
    assert_eq!(summary["flow"], "flights");
    assert_eq!(summary["state"], "completed");
    assert!(summary["run_id"].as_str().is_some_and(|id| id.len() == 36));
    let tasks = summary["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 8);
    for task in tasks {
        assert_eq!(task["state"], "completed", "{task}");
        assert!(task["duration_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{task}");
        assert!(task["fuel_used"].as_u64().is_some_and(|fuel| fuel > 0), "{task}");
        assert_eq!(task["cache_hit"], false, "{task}");
    }
    assert_eq!(summary["outputs"].as_array().unwrap().len(), 4);
}

#[test]
fn run_prints_task_lines_and_summary() {
    let sandbox = Sandbox::new();
    let manifest = support::flights_flow(&sandbox);
    let manifest = manifest.to_str().unwrap();

    let first = support::wflow(sandbox.path(), &sandbox.state_dir(), &["run", manifest]);
    let second = support::wflow(sandbox.path(), &sandbox.state_dir(), &["run", manifest]);

    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert_eq!(stdout.lines().filter(|line| line.starts_with("completed")).count(), 8, "{stdout}");
    assert!(stdout.contains("flow `flights` completed in"), "{stdout}");
    assert!(stdout.contains("wrote flights/out/by_origin.csv"), "{stdout}");
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(stderr.contains("[extract] info: read 2000 rows"), "{stderr}");
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert_eq!(stdout.lines().filter(|line| line.starts_with("cached")).count(), 8, "{stdout}");
}

#[test]
fn invalid_param_exits_before_running() {
    let sandbox = Sandbox::new();
    let manifest = support::flights_flow(&sandbox);

    let output = support::wflow(
        sandbox.path(),
        &sandbox.state_dir(),
        &["run", manifest.to_str().unwrap(), "--param", "min_flights=many"],
    );

    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--param min_flights=many: parameter `min_flights` (integer): invalid value `many`"),
        "{stderr}"
    );
    assert!(!sandbox.state_dir().exists(), "nothing may run or be stored for an invalid flow");
}

#[test]
fn validate_reports_valid_and_invalid_flows() {
    let sandbox = Sandbox::new();
    let manifest = support::flights_flow(&sandbox);
    let broken = sandbox.write(
        "flights/broken.toml",
        &std::fs::read_to_string(&manifest).unwrap().replace("id = \"clean\"", "id = \"extract\""),
    );

    let valid = support::wflow(sandbox.path(), &sandbox.state_dir(), &["validate", "flights/flow.toml"]);
    let invalid = support::wflow(sandbox.path(), &sandbox.state_dir(), &["validate", broken.to_str().unwrap()]);

    assert!(valid.status.success(), "{}", String::from_utf8_lossy(&valid.stderr));
    assert_eq!(
        String::from_utf8_lossy(&valid.stdout),
        "flights/flow.toml: flow `flights` is valid: 8 tasks (extract, airports, clean, enrich, aggregate, report, \
         partition, monthly), 5 parameters, 4 outputs\n"
    );
    assert_eq!(invalid.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&invalid.stderr);
    assert!(stderr.contains("duplicate task id `extract`"), "{stderr}");
    assert!(stderr.contains("broken.toml:"), "{stderr}");
}

#[test]
fn verbose_run_shows_failure_detail() {
    let sandbox = Sandbox::new();
    let component = support::component("wflow_fixture_faults").display().to_string();
    let manifest = sandbox.write(
        "trap.toml",
        &format!(
            "[flow]\nname = \"trap\"\n\n[params.mode]\ntype = \"string\"\ndefault = \"trap\"\n\n\
             [[tasks]]\nid = \"crash\"\ncomponent = \"{component}\"\ninput = {{ param = \"mode\" }}\n"
        ),
    );

    let quiet = support::wflow(sandbox.path(), &sandbox.state_dir(), &["run", manifest.to_str().unwrap()]);
    let verbose =
        support::wflow(sandbox.path(), &sandbox.state_dir(), &["run", "--verbose", manifest.to_str().unwrap()]);

    assert_eq!(quiet.status.code(), Some(1));
    let quiet = String::from_utf8_lossy(&quiet.stdout);
    assert!(quiet.contains("task `crash` panicked: the fixture was asked to trap"), "{quiet}");
    assert!(!quiet.contains("wasm backtrace"), "{quiet}");
    let verbose = String::from_utf8_lossy(&verbose.stdout);
    assert!(verbose.contains("wasm backtrace"), "{verbose}");
}

/// Output files follow symbolic links, keep an existing file's mode, get
/// the usual mode when new, and never replace what is not a regular file.
#[test]
fn outputs_respect_existing_paths() {
    use std::os::unix::fs::PermissionsExt as _;
    let sandbox = Sandbox::new();
    let component = support::component("wflow_fixture_faults").display().to_string();
    let manifest = sandbox.write(
        "outputs.toml",
        &format!(
            "[flow]\nname = \"outputs\"\n\n[params.mode]\ntype = \"string\"\ndefault = \"echo\"\n\n\
             [[tasks]]\nid = \"a\"\ncomponent = \"{component}\"\ninput = {{ param = \"mode\" }}\n\n\
             [[outputs]]\ntask = \"a\"\npath = \"link.json\"\n\n\
             [[outputs]]\ntask = \"a\"\npath = \"new.json\"\n\n\
             [[outputs]]\ntask = \"a\"\npath = \"folder\"\n"
        ),
    );
    let target = sandbox.write("real/target.json", "old");
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::symlink("real/target.json", sandbox.path().join("link.json")).unwrap();
    std::fs::create_dir(sandbox.path().join("folder")).unwrap();

    let output = support::wflow(sandbox.path(), &sandbox.state_dir(), &["run", manifest.to_str().unwrap()]);

    assert_eq!(output.status.code(), Some(1), "the folder output fails the run");
    let link = std::fs::symlink_metadata(sandbox.path().join("link.json")).unwrap();
    assert!(link.file_type().is_symlink(), "the link must stay a link");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "\"echo\"");
    assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o640);
    let new_mode = std::fs::metadata(sandbox.path().join("new.json")).unwrap().permissions().mode() & 0o777;
    assert_ne!(new_mode, 0o600, "a new output gets the usual mode, not a temporary file's");
    assert!(sandbox.path().join("folder").is_dir());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("exists and is not a regular file"), "{stdout}");
}

#[test]
fn runs_commands_list_show_and_log() {
    let sandbox = Sandbox::new();
    let manifest = support::flights_flow(&sandbox);
    let state = sandbox.state_dir();
    let cwd = sandbox.path();
    support::wflow(cwd, &state, &["run", manifest.to_str().unwrap()]);
    support::wflow(cwd, &state, &["run", manifest.to_str().unwrap(), "--param", "min_flights=many"]);
    support::wflow(cwd, &state, &["run", manifest.to_str().unwrap(), "--param", "min_flights=30"]);

    let list = support::wflow(cwd, &state, &["runs", "list", "--json"]);
    let runs: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let newest = runs[0]["run_id"].as_str().unwrap().to_string();
    let limited = support::wflow(
        cwd,
        &state,
        &["runs", "list", "--json", "--limit", "1", "--state", "completed", "--flow", "flights"],
    );
    let other_flow = support::wflow(cwd, &state, &["runs", "list", "--json", "--flow", "elsewhere"]);
    let show = support::wflow(cwd, &state, &["runs", "show", &newest, "--json"]);
    let table = support::wflow(cwd, &state, &["runs", "show", &newest]);
    let logs = support::wflow(cwd, &state, &["runs", "logs", &newest, "--task", "aggregate"]);
    let missing = support::wflow(cwd, &state, &["runs", "show", "no-such-run"]);

    assert_eq!(runs.as_array().unwrap().len(), 2, "the invalid run never started: {runs}");
    assert_eq!(runs[0]["params"]["min_flights"], 30, "newest first");
    assert_eq!(runs[1]["params"]["min_flights"], 10);
    let limited: serde_json::Value = serde_json::from_slice(&limited.stdout).unwrap();
    assert_eq!(limited.as_array().unwrap().len(), 1);
    assert_eq!(limited[0]["run_id"], newest.as_str());
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&other_flow.stdout).unwrap(), serde_json::json!([]));
    let show: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(show["run"]["state"], "completed");
    let tasks = show["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 8);
    let aggregate = tasks.iter().find(|task| task["task_id"] == "aggregate").unwrap();
    assert_eq!(aggregate["state"], "completed");
    assert_eq!(aggregate["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(tasks.iter().filter(|task| task["cache_hit"] == true).count(), 6);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("aggregate"), "{table}");
    assert!(table.contains("attempts"), "{table}");
    let logs = String::from_utf8_lossy(&logs.stdout);
    assert!(logs.contains("[aggregate#1] info: kept"), "{logs}");
    assert!(!logs.contains("[extract"), "--task limits the lines: {logs}");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("run `no-such-run` not found"));
}

/// Where the address space is too short for the pooling allocator's
/// reservation, the host allocates instances on demand and still runs.
#[test]
fn short_address_space_allocates_on_demand() {
    let sandbox = Sandbox::new();
    let component = support::component("wflow_fixture_faults").display().to_string();
    let flow = sandbox.write(
        "echo.toml",
        &format!(
            "[flow]\nname = \"echo\"\n\n[params.mode]\ntype = \"string\"\ndefault = \"echo\"\n\n[[tasks]]\nid = \
             \"echo\"\ncomponent = \"{component}\"\ninput = {{ param = \"mode\" }}\n"
        ),
    );
    // 8 GB of address space: enough for the host, far from the pool's reservation.
    let script = format!(
        "ulimit -v 8000000 && exec '{}' --state-dir '{}' run '{}'",
        env!("CARGO_BIN_EXE_wflow-host"),
        sandbox.state_dir().display(),
        flow.display()
    );

    let output = std::process::Command::new("bash").args(["-c", &script]).env_remove("RUST_LOG").output().unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("the pooling allocator is unavailable; allocating each instance on demand"), "{stderr}");
}

#[test]
fn schedule_next_prints_local_and_utc() {
    let sandbox = Sandbox::new();
    let args =
        ["schedule", "next", "30 2 * * *", "--tz", "America/New_York", "--from", "2026-03-07T12:00", "--count", "2"];

    let output = support::wflow(sandbox.path(), &sandbox.state_dir(), &args);

    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    // 02:30 does not exist on 2026-03-08 in New York: the job runs when the
    // clocks jump to 03:00.
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "2026-03-08 03:00:00 -04:00  Sun EDT  (2026-03-08 07:00:00 UTC)\n\
         2026-03-09 02:30:00 -04:00  Mon EDT  (2026-03-09 06:30:00 UTC)\n"
    );
}

#[test]
fn schedule_next_json_and_errors() {
    let sandbox = Sandbox::new();
    let run = |args: &[&str]| support::wflow(sandbox.path(), &sandbox.state_dir(), args);

    let json = run(&["schedule", "next", "@every 90m", "--from", "2026-01-01T00:00:00Z", "--count", "2", "--json"]);
    let bad_zone = run(&["schedule", "next", "@hourly", "--tz", "Europe/Berln"]);
    let bad_count = run(&["schedule", "next", "@hourly", "--count", "0"]);
    let never = run(&["schedule", "next", "0 0 30 2 *"]);

    assert!(json.status.success(), "{}", String::from_utf8_lossy(&json.stderr));
    let times: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        times,
        serde_json::json!([
            {"local": "2026-01-01T01:30:00+00:00[UTC]", "utc": "2026-01-01T01:30:00Z"},
            {"local": "2026-01-01T03:00:00+00:00[UTC]", "utc": "2026-01-01T03:00:00Z"},
        ])
    );
    for (output, message) in [
        (bad_zone, "error: unknown time zone `Europe/Berln`; use an IANA name such as `Europe/Berlin`\n"),
        (bad_count, "error: --count 0 is out of range; give a number from 1 to 10000\n"),
        (never, "error: cron `0 0 30 2 *` never fires: February has no day 30\n"),
    ] {
        assert_eq!(output.status.code(), Some(2));
        assert_eq!(String::from_utf8_lossy(&output.stderr), message);
    }
}

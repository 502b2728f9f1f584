//! C tasks, built with clang for wasm32-wasi, the C SDK in guest-sdk/c and
//! scripts/build-c-task.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use wflow_host::runtime::{LogLevel, LogStream};
use wflow_host::state::{RunState, RunStore as _, TaskState};

use crate::support::{self, Sandbox};

/// Builds the C file `source`, relative to the repository root, into
/// target/c-tests/`name`.wasm with warnings as errors, and returns its path.
/// Fails with what to install when a tool is missing: the tests are never
/// skipped.
fn build(source: &str, name: &str) -> PathBuf {
    let root = support::root();
    let component = root.join("target/c-tests").join(format!("{name}.wasm"));
    let output = Command::new(root.join("scripts/build-c-task"))
        .current_dir(&root)
        .env("CFLAGS", "-Werror")
        .arg(source)
        .arg(&component)
        .output()
        .expect("failed to start scripts/build-c-task");
    assert!(
        output.status.success(),
        "building {source} failed; if a tool is missing, run ./scripts/install-guest-tools c\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    component
}

/// Builds the C example task, examples/hello-c/checksum.c, once per test
/// process and returns its path.
pub(crate) fn c_component() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build("examples/hello-c/checksum.c", "checksum"))
}

/// Builds the test task whose parameters choose its outcome once per test
/// process and returns its path.
fn outcome_component() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build("tests/fixtures/c/outcome.c", "outcome"))
}

/// Computes the CRC-32 of zlib (IEEE polynomial, reflected) bit by bit,
/// apart from the task's table-driven code.
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[test]
fn reference_crc32_matches_check_value() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926, "the CRC-32 check value of the catalogue of CRC algorithms");
    assert_eq!(crc32(b""), 0);
}

/// Writes a flow that runs the C checksum task once per `(id, file)` on the
/// sandbox file `file`, and returns the manifest's path.
fn checksum_flow(sandbox: &Sandbox, tasks: &[(&str, &str)]) -> PathBuf {
    let checksum = c_component().display().to_string();
    let mut text = String::from("[flow]\nname = \"checksum\"\n");
    for (id, file) in tasks {
        text.push_str(&format!(
            "\n[[tasks]]\nid = \"{id}\"\ncomponent = \"{checksum}\"\ninput = {{ file = \"{file}\" }}\n\
             retry = {{ attempts = 3, delay = \"5ms\" }}\n"
        ));
    }
    sandbox.write("checksum.toml", &text)
}

#[tokio::test(flavor = "multi_thread")]
async fn c_task_checksums_extract_output() {
    let sandbox = Sandbox::new();
    let flights = std::fs::read_to_string(support::root().join("examples/flights/data/flights-2k.json")).unwrap();
    sandbox.write("flights.json", &flights);
    let extract = support::component("flights_extract").display().to_string();
    let checksum = c_component().display().to_string();
    let manifest = sandbox.write(
        "checksum.toml",
        &format!(
            r#"
[flow]
name = "checksum"

[[tasks]]
id = "extract"
component = "{extract}"
input = {{ file = "flights.json" }}

[[tasks]]
id = "checksum"
component = "{checksum}"
input = {{ task = "extract" }}

[[outputs]]
task = "extract"
path = "extract.json"

[[outputs]]
task = "checksum"
path = "checksum.json"
"#
        ),
    );
    let flow = support::load(&manifest, &[]);
    let host = sandbox.host();

    let report = support::run(&host, &flow).await;

    assert_eq!(report.state, RunState::Completed, "{report:#?}");
    let extracted = std::fs::read(sandbox.path().join("extract.json")).unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&extracted).unwrap();
    assert_eq!(rows.len(), 2000, "the extract task keeps every row of flights-2k.json");
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sandbox.path().join("checksum.json")).unwrap()).unwrap();
    let expected = serde_json::json!({
        "bytes": extracted.len(),
        "rows": rows.len(),
        "crc32": format!("{:08x}", crc32(&extracted)),
    });
    assert_eq!(written, expected);
    let logs = host.runs().logs(&report.run_id, "checksum").unwrap();
    let line = format!("checksum: {} bytes, 2000 rows", extracted.len());
    assert!(
        logs.iter().any(|log| log.level == LogLevel::Info && log.stream == LogStream::Log && log.message == line),
        "no info line `{line}`: {logs:?}"
    );
}

/// Arrays whose elements contain brackets, commas and quotes inside strings
/// and nested values, which a count of commas would get wrong.
#[tokio::test(flavor = "multi_thread")]
async fn c_task_counts_tricky_rows() {
    let sandbox = Sandbox::new();
    let cases: &[(&str, &str)] = &[
        ("empty", " [ ] \n"),
        ("scalars", "[1, -2.5e3, true, null, \"x\"]"),
        ("strings", r#"[{"a": "],[{"}, {"b": "\"]\\"}, "\\\"", "{"]"#),
        ("nested", r#"[[1, [2, 3]], {"c": [{"d": {}}]}, [], {}]"#),
        ("unicode", "[\"é✓\", {\"k\": \"\\u005d\"}]"),
    ];
    let mut tasks = Vec::new();
    for (id, text) in cases {
        sandbox.write(&format!("{id}.json"), text);
        tasks.push((*id, format!("{id}.json")));
    }
    let tasks: Vec<(&str, &str)> = tasks.iter().map(|(id, file)| (*id, file.as_str())).collect();
    let flow = support::load(&checksum_flow(&sandbox, &tasks), &[]);
    let host = sandbox.host();

    let report = support::run(&host, &flow).await;

    assert_eq!(report.state, RunState::Completed, "{report:#?}");
    for (id, text) in cases {
        let rows = serde_json::from_str::<Vec<serde_json::Value>>(text).unwrap().len();
        let record = host.runs().tasks(&report.run_id).unwrap().into_iter().find(|task| task.task_id == *id).unwrap();
        assert_eq!(record.state, TaskState::Completed, "{id}");
        let logs = host.runs().logs(&report.run_id, id).unwrap();
        let line = format!("{id}: {} bytes, {rows} rows", text.len());
        assert!(logs.iter().any(|log| log.message == line), "{id}: no line `{line}`: {logs:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn c_task_rejects_non_array_input() {
    let sandbox = Sandbox::new();
    let cases: &[(&str, &str, &str)] = &[
        (
            "object",
            "{\"rows\": []}",
            "input is not a JSON array: it starts with `{` at byte 0; \
             pass a JSON array of rows, such as the output of the extract task",
        ),
        ("blank", " \n", "input is empty; expected a JSON array of rows, such as the output of the extract task"),
        ("truncated", "[{\"a\": \"]\"}", "input ends inside the JSON array after 11 bytes; the file may be truncated"),
        ("trailing_comma", "[1,]", "input is not a valid JSON array: a trailing `,` comes before `]` at byte 3"),
        ("leading_comma", "[,1]", "input is not a valid JSON array: `,` at byte 1 follows no element"),
        ("missing_comma", "[1 2]", "input is not a valid JSON array: a `,` is missing before byte 3"),
        ("mismatched", "[{]", "input is not a valid JSON array: `]` at byte 2 closes a `{`"),
        ("after_array", "[] x", "input has data after the JSON array: `x` at byte 3"),
    ];
    for (id, text, _) in cases {
        sandbox.write(&format!("{id}.json"), text);
    }
    let files: Vec<String> = cases.iter().map(|(id, _, _)| format!("{id}.json")).collect();
    let tasks: Vec<(&str, &str)> = cases.iter().zip(&files).map(|((id, _, _), file)| (*id, file.as_str())).collect();
    let flow = support::load(&checksum_flow(&sandbox, &tasks), &[]);

    let report = support::run(&sandbox.host(), &flow).await;

    assert_eq!(report.state, RunState::Failed);
    for (id, _, message) in cases {
        let task = report.task(id).unwrap();
        assert_eq!(task.state, TaskState::Failed, "{id}");
        assert_eq!(task.error.as_deref(), Some(format!("task `{id}` failed: {message}").as_str()), "{id}");
        assert_eq!(task.attempts, 1, "{id}: a fatal error is not retried");
    }
}

/// A parameter declaration: its name, its manifest type and its default as
/// TOML.
type ParamDeclaration<'a> = (&'a str, &'a str, &'a str);

/// Writes a flow with one outcome fixture task that receives `params` and
/// has `settings` as extra TOML lines, and returns the manifest's path.
fn outcome_flow(sandbox: &Sandbox, params: &[ParamDeclaration], settings: &str) -> PathBuf {
    let component = outcome_component().display().to_string();
    let mut text = String::from("[flow]\nname = \"outcome\"\n");
    for (name, kind, default) in params {
        text.push_str(&format!("\n[params.{name}]\ntype = \"{kind}\"\ndefault = {default}\n"));
    }
    let names: Vec<String> = params.iter().map(|(name, _, _)| format!("\"{name}\"")).collect();
    text.push_str(&format!(
        "\n[[tasks]]\nid = \"fixture\"\ncomponent = \"{component}\"\nparams = [{}]\n{settings}\n\
         \n[[outputs]]\ntask = \"fixture\"\npath = \"fixture.json\"\n",
        names.join(", ")
    ));
    sandbox.write("outcome.toml", &text)
}

fn read_output(sandbox: &Sandbox) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(sandbox.path().join("fixture.json")).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn c_retryable_error_is_retried() {
    let sandbox = Sandbox::new();
    let params = [("outcome", "string", "\"retryable\""), ("succeed_on_attempt", "integer", "3")];
    let retry = "retry = { attempts = 3, delay = \"10ms\", jitter = 0.0 }";
    let flow = support::load(&outcome_flow(&sandbox, &params, retry), &[]);
    let host = sandbox.host();

    let report = support::run(&host, &flow).await;

    assert_eq!(report.state, RunState::Completed, "{report:#?}");
    assert_eq!(report.task("fixture").unwrap().attempts, 3);
    let record = host.runs().tasks(&report.run_id).unwrap().remove(0);
    let states: Vec<TaskState> = record.attempts.iter().map(|attempt| attempt.state).collect();
    assert_eq!(states, [TaskState::Failed, TaskState::Failed, TaskState::Completed]);
    let errors: Vec<Option<&str>> = record.attempts.iter().map(|attempt| attempt.error.as_deref()).collect();
    assert_eq!(
        errors,
        [
            Some("task `fixture` failed: attempt 1 fails retryably, as `outcome` asks"),
            Some("task `fixture` failed: attempt 2 fails retryably, as `outcome` asks"),
            None,
        ]
    );
    assert_eq!(read_output(&sandbox), serde_json::json!({"attempt": 3}), "output of failed attempts is discarded");
    let logs = host.runs().logs(&report.run_id, "fixture").unwrap();
    let attempts: Vec<(u32, &str)> = logs.iter().map(|log| (log.attempt, log.message.as_str())).collect();
    assert_eq!(
        attempts,
        [(1, "attempt 1: outcome retryable"), (2, "attempt 2: outcome retryable"), (3, "attempt 3: outcome retryable")]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn c_fatal_error_is_not_retried() {
    let sandbox = Sandbox::new();
    let retry = "retry = { attempts = 3, delay = \"10ms\" }";
    let flow = support::load(&outcome_flow(&sandbox, &[("outcome", "string", "\"fatal\"")], retry), &[]);

    let report = support::run(&sandbox.host(), &flow).await;

    let task = report.task("fixture").unwrap();
    assert_eq!(task.state, TaskState::Failed);
    assert_eq!(task.attempts, 1);
    assert_eq!(task.error.as_deref(), Some("task `fixture` failed: attempt 1 fails fatally, as `outcome` asks"));
}

#[tokio::test(flavor = "multi_thread")]
async fn c_exit_fails_with_status() {
    let sandbox = Sandbox::new();
    let retry = "retry = { attempts = 3, delay = \"10ms\" }";
    let flow = support::load(&outcome_flow(&sandbox, &[("outcome", "string", "\"exit\"")], retry), &[]);

    let report = support::run(&sandbox.host(), &flow).await;

    let task = report.task("fixture").unwrap();
    assert_eq!(task.state, TaskState::Failed);
    assert_eq!(task.attempts, 1);
    assert_eq!(
        task.error.as_deref(),
        Some(
            "task `fixture` exited with status 1 instead of returning its output; return an error from the task \
             function rather than calling exit"
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn c_empty_error_message_gets_the_sdk_message() {
    let sandbox = Sandbox::new();
    let flow = support::load(&outcome_flow(&sandbox, &[("outcome", "string", "\"empty-error\"")], ""), &[]);

    let report = support::run(&sandbox.host(), &flow).await;

    let task = report.task("fixture").unwrap();
    assert_eq!(
        task.error.as_deref(),
        Some(
            "task `fixture` failed: the task failed without a message; return wflow_fatal(...) or \
             wflow_retryable(...)"
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn c_integer_param_reads_as_float() {
    let sandbox = Sandbox::new();
    let params = [("outcome", "string", "\"ok\""), ("ratio", "integer", "-7")];
    let flow = support::load(&outcome_flow(&sandbox, &params, ""), &[]);

    let report = support::run(&sandbox.host(), &flow).await;

    assert_eq!(report.state, RunState::Completed, "{report:#?}");
    assert_eq!(read_output(&sandbox)["ratio"].as_f64(), Some(-7.0));
}

#[tokio::test(flavor = "multi_thread")]
async fn c_params_reach_the_task() {
    let sandbox = Sandbox::new();
    let params = [
        ("outcome", "string", "\"ok\""),
        ("label", "string", "\"\""),
        ("ratio", "float", "0.1"),
        ("verbose", "boolean", "true"),
    ];
    let label = "quote \" backslash \\ newline \n tab \t bell \u{7} delete \u{7f} é ✓ 🦀";
    let flow = support::load(&outcome_flow(&sandbox, &params, ""), &[("label", label), ("ratio", "-2.5e-3")]);
    let host = sandbox.host();

    let report = support::run(&host, &flow).await;

    assert_eq!(report.state, RunState::Completed, "{report:#?}");
    let text = std::fs::read_to_string(sandbox.path().join("fixture.json")).unwrap();
    assert!(text.contains("\\u0007"), "a control character is escaped as \\u0007: {text}");
    assert_eq!(
        read_output(&sandbox),
        serde_json::json!({"attempt": 1, "label": label, "ratio": -2.5e-3, "verbose": true})
    );
    let logs = host.runs().logs(&report.run_id, "fixture").unwrap();
    assert!(
        logs.iter().any(|log| log.stream == LogStream::Stdout && log.message == "stdout without a newline"),
        "the SDK flushes stdout when the task returns: {logs:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn c_param_errors_name_the_fix() {
    let cases: &[(&[ParamDeclaration], &str)] = &[
        (
            &[],
            "parameter `outcome` is not passed to task `fixture` (passed: none); \
             add it to the task's `params` list in the manifest",
        ),
        (
            &[("label", "string", "\"x\""), ("ratio", "float", "1.5")],
            "parameter `outcome` is not passed to task `fixture` (passed: label, ratio); \
             add it to the task's `params` list in the manifest",
        ),
        (
            &[("outcome", "integer", "1")],
            "parameter `outcome` of task `fixture` is an integer, but the task reads it as text; \
             declare it with `type = \"string\"` or `type = \"path\"` in the manifest",
        ),
        (
            &[("outcome", "string", "\"retryable\""), ("succeed_on_attempt", "float", "2.0")],
            "parameter `succeed_on_attempt` of task `fixture` is a float, but the task reads it as an integer; \
             declare it with `type = \"integer\"` in the manifest",
        ),
        (
            &[("outcome", "string", "\"ok\""), ("verbose", "string", "\"yes\"")],
            "parameter `verbose` of task `fixture` is text, but the task reads it as a boolean; \
             declare it with `type = \"boolean\"` in the manifest",
        ),
        (
            &[("outcome", "string", "\"maybe\"")],
            "parameter `outcome` is `maybe`; expected `ok`, `retryable`, `fatal`, `invalid-utf8`, \
             `oversized-output`, `exit` or `empty-error`",
        ),
    ];
    for (params, message) in cases {
        let sandbox = Sandbox::new();
        let flow = support::load(&outcome_flow(&sandbox, params, ""), &[]);

        let report = support::run(&sandbox.host(), &flow).await;

        let task = report.task("fixture").unwrap();
        assert_eq!(task.state, TaskState::Failed, "{params:?}");
        assert_eq!(task.error.as_deref(), Some(format!("task `fixture` failed: {message}").as_str()), "{params:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn c_invalid_utf8_is_replaced() {
    let sandbox = Sandbox::new();
    let flow = support::load(&outcome_flow(&sandbox, &[("outcome", "string", "\"invalid-utf8\"")], ""), &[]);
    let host = sandbox.host();

    let report = support::run(&host, &flow).await;

    let task = report.task("fixture").unwrap();
    assert_eq!(task.state, TaskState::Failed);
    assert_eq!(task.error.as_deref(), Some("task `fixture` failed: bad \u{FFFD} byte"));
    let logs = host.runs().logs(&report.run_id, "fixture").unwrap();
    assert!(logs.iter().any(|log| log.level == LogLevel::Warn && log.message == "byte \u{FFFD} here"), "{logs:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn c_output_overflow_fails_task() {
    let sandbox = Sandbox::new();
    let flow = support::load(&outcome_flow(&sandbox, &[("outcome", "string", "\"oversized-output\"")], ""), &[]);

    let report = support::run(&sandbox.host(), &flow).await;

    let task = report.task("fixture").unwrap();
    assert_eq!(task.state, TaskState::Failed, "the task returned WFLOW_OK, but its output could not grow");
    assert_eq!(
        task.error.as_deref(),
        Some("task `fixture` failed: growing the task output from 1 to 4294967295 bytes failed: out of memory")
    );
    assert!(!sandbox.path().join("fixture.json").exists(), "a failed task writes no output");
}

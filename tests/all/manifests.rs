//! Invalid manifests and parameters, each rejected before any task runs
//! with its message and location.
//!
//! Each `tests/manifests/invalid/NAME.toml` has its expected error output in
//! `NAME.err`. Run with `WFLOW_BLESS=1` to rewrite the `.err` files after an
//! intended change of wording, then review the diff.

use std::path::Path;

use wflow_host::manifest::{self, Location, ManifestError};

use crate::support::{self, Sandbox};

/// Loads `name` from a sandbox that also contains `fixture.wasm`, and returns
/// the error text with the sandbox path replaced by `<dir>`.
fn load_error(sandbox: &Sandbox, manifest: &Path, pairs: &[(&str, &str)]) -> String {
    let name = manifest.file_name().unwrap();
    if manifest.parent() != Some(sandbox.path()) {
        std::fs::copy(manifest, sandbox.path().join(name)).unwrap();
    }
    match manifest::load(Path::new(name), &support::overrides(pairs), sandbox.path()) {
        Ok(_) => panic!("{} loaded without an error", manifest.display()),
        Err(error) => error.to_string().replace(&sandbox.path().display().to_string(), "<dir>"),
    }
}

fn fixture_sandbox() -> Sandbox {
    let sandbox = Sandbox::new();
    std::fs::copy(support::component("wflow_fixture_faults"), sandbox.path().join("fixture.wasm")).unwrap();
    sandbox
}

#[test]
fn invalid_manifests_match_expected_errors() {
    let sandbox = fixture_sandbox();
    let folder = support::root().join("tests/manifests/invalid");
    let bless = std::env::var_os("WFLOW_BLESS").is_some();
    let mut cases: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "toml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 20, "expected the full table of cases in {}", folder.display());

    let mut mismatches = Vec::new();
    for case in &cases {
        let actual = load_error(&sandbox, case, &[]) + "\n";
        let expected_path = case.with_extension("err");
        if bless {
            std::fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if actual != expected {
            mismatches.push(format!("{}:\n--- expected\n{expected}--- actual\n{actual}", case.display()));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} cases differ:\n\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.join("\n")
    );
}

#[test]
fn diagnostics_point_at_line_and_column() {
    let sandbox = fixture_sandbox();
    let case = support::root().join("tests/manifests/invalid/duplicate_task_id.toml");
    std::fs::copy(&case, sandbox.path().join("case.toml")).unwrap();

    let error = manifest::load(Path::new("case.toml"), &[], sandbox.path()).unwrap_err();

    let ManifestError::Invalid { diagnostics } = error else { panic!("expected diagnostics") };
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(diagnostics[0].location, Location::File { path: "case.toml".into(), line: 9, column: 6 });
}

#[test]
fn invalid_command_line_params_are_rejected() {
    let sandbox = fixture_sandbox();
    let manifest = sandbox.write(
        "params.toml",
        r#"
[flow]
name = "demo"

[params.min_flights]
type = "integer"
default = 10

[params.ratio]
type = "float"
default = 0.5

[[tasks]]
id = "a"
component = "fixture.wasm"
params = ["min_flights", "ratio"]
"#,
    );
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("min_flights", "ten")],
            "--param min_flights=ten: parameter `min_flights` (integer): invalid value `ten`: expected an integer, such as 10",
        ),
        (
            &[("ratio", "half")],
            "--param ratio=half: parameter `ratio` (float): invalid value `half`: expected a number, such as 2.5",
        ),
        (
            &[("colour", "red")],
            "--param colour=red: unknown parameter `colour`\n  help: this flow declares: min_flights, ratio",
        ),
        (
            &[("ratio", "0.1"), ("ratio", "0.2")],
            "--param ratio=0.2: parameter `ratio` is given more than once\n  help: give each parameter once",
        ),
    ];
    for (pairs, expected) in cases {
        let error = load_error(&sandbox, &manifest, pairs);
        assert_eq!(&error, expected, "for {pairs:?}");
    }
}

#[test]
fn valid_params_override_defaults() {
    let sandbox = fixture_sandbox();
    let manifest = sandbox.write(
        "params.toml",
        r#"
[flow]
name = "demo"

[params.data]
type = "path"
default = "fixture.wasm"

[params.verbose]
type = "boolean"
default = false

[[tasks]]
id = "a"
component = "fixture.wasm"
input = { file = "${data}" }
"#,
    );

    let flow = manifest::load(&manifest, &support::overrides(&[("verbose", "true")]), sandbox.path()).unwrap();

    use wflow_host::manifest::{InputSpec, ParamValue};
    assert_eq!(flow.values["verbose"], ParamValue::Boolean(true));
    assert_eq!(flow.values["data"], ParamValue::Path(sandbox.path().join("fixture.wasm")));
    assert_eq!(flow.tasks[0].input, InputSpec::File(sandbox.path().join("fixture.wasm")));
}

#[test]
fn tasks_are_ordered_after_their_inputs() {
    let sandbox = fixture_sandbox();
    let manifest = sandbox.write(
        "order.toml",
        r#"
[flow]
name = "demo"

[[tasks]]
id = "report"
component = "fixture.wasm"
input = { tasks = ["left", "right"] }

[[tasks]]
id = "right"
component = "fixture.wasm"
input = { task = "source" }

[[tasks]]
id = "left"
component = "fixture.wasm"
input = { task = "source" }

[[tasks]]
id = "source"
component = "fixture.wasm"
"#,
    );

    let flow = manifest::load(&manifest, &[], sandbox.path()).unwrap();

    let order: Vec<&str> = flow.tasks.iter().map(|task| task.id.as_str()).collect();
    assert_eq!(order, ["source", "right", "left", "report"]);
}

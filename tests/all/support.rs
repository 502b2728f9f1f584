//! Shared helpers: building the guest components, temporary flows and
//! running them through the library or the `wflow-host` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, OnceLock};

use wflow_host::executor::{NoObserver, RunOptions, RunReport};
use wflow_host::manifest::{self, Flow, ParamOverride};
use wflow_host::{Host, HostOptions, Runtime};

/// The guest crates the tests run, by package name.
const GUEST_PACKAGES: &[&str] = &[
    "flights-extract",
    "flights-airports",
    "flights-clean",
    "flights-enrich",
    "flights-aggregate",
    "flights-report",
    "flights-partition",
    "flights-monthly",
    "hello-routes",
    "polyglot-report",
    "wflow-fixture-faults",
];

/// Returns the workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the host crate is inside the workspace").to_path_buf()
}

/// Builds every guest component once per test process and returns the
/// folder that contains the `.wasm` files.
pub fn components() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        build_guests(GUEST_PACKAGES, "if the target is missing, run `rustup target add wasm32-wasip2`");
        root().join("target/wasm32-wasip2/release")
    })
}

/// Builds the `flights-scan` component once per test process and returns its
/// path. It is built apart from the others because its Parquet reader
/// compiles zstd's C code, which needs clang and wasi-libc.
pub fn scan_component() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            build_guests(
                &["flights-scan"],
                "flights-scan compiles zstd's C code with clang and wasi-libc, which \
                 `scripts/install-guest-tools c` installs",
            );
            root().join("target/wasm32-wasip2/release/flights_scan.wasm")
        })
        .clone()
}

/// Runs `cargo build --release --target wasm32-wasip2` for `packages`, and
/// panics with cargo's output and `hint` when the build fails.
fn build_guests(packages: &[&str], hint: &str) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut command = Command::new(cargo);
    command.current_dir(root()).args(["build", "--release", "--target", "wasm32-wasip2"]);
    for package in packages {
        command.args(["-p", package]);
    }
    let output = command.output().expect("failed to start cargo to build the guest components");
    assert!(
        output.status.success(),
        "building the guest components {packages:?} failed; {hint}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Returns the path of the built component `name`, such as `flights_clean`.
pub fn component(name: &str) -> PathBuf {
    components().join(format!("{name}.wasm"))
}

/// A fresh folder for one test: its state directory and any files it writes.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        components();
        Sandbox { dir: tempfile::tempdir().expect("failed to create a temporary folder") }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn state_dir(&self) -> PathBuf {
        self.path().join("state")
    }

    /// Writes `text` to `name` inside the sandbox and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Opens a host on this sandbox's state directory. Compiled components
    /// go to one folder that every test shares, as `--artifact-dir` allows,
    /// so that a Python or JavaScript component is compiled once per build
    /// of the suite rather than once per test.
    pub fn host(&self) -> Host {
        let options = HostOptions { artifact_dir: Some(artifact_dir()), ..HostOptions::default() };
        Host::open_with(&self.state_dir(), &options).expect("failed to open the host")
    }
}

/// Parses `NAME=VALUE` overrides.
pub fn overrides(pairs: &[(&str, &str)]) -> Vec<ParamOverride> {
    pairs.iter().map(|(name, value)| ParamOverride { name: name.to_string(), value: value.to_string() }).collect()
}

/// Loads a flow, panicking with its diagnostics when it is invalid.
pub fn load(path: &Path, pairs: &[(&str, &str)]) -> Flow {
    manifest::load(path, &overrides(pairs), &root()).unwrap_or_else(|error| panic!("invalid flow: {error}"))
}

/// Runs `flow` on `host` with default options.
pub async fn run(host: &Host, flow: &Flow) -> RunReport {
    host.run(flow, &RunOptions::default(), Arc::new(NoObserver)).await.expect("the run could not be recorded")
}

/// Returns the ids of the tasks in `report` that ran, meaning they were not cached.
pub fn ran(report: &RunReport) -> Vec<&str> {
    report.tasks.iter().filter(|task| !task.cache_hit).map(|task| task.id.as_str()).collect()
}

/// Returns the folder of compiled components that all tests share.
pub fn artifact_dir() -> PathBuf {
    root().join("target/test-artifacts")
}

/// Compiles `component` into the shared artifact folder, so that tests that
/// start at the same time load it instead of each compiling it: a Python or
/// JavaScript component takes seconds of CPU to compile.
pub fn precompile(component: &Path) {
    let bytes = std::fs::read(component).unwrap_or_else(|error| panic!("cannot read {}: {error}", component.display()));
    let hash = blake3::hash(&bytes).to_hex().to_string();
    let runtime = Runtime::new(artifact_dir()).expect("failed to create a runtime");
    if let Err(failure) = runtime.load(&hash, &bytes) {
        panic!("{} does not load: {failure}", component.display());
    }
}

/// Returns whether `output` exists and is newer than each of `sources`, paths
/// relative to the workspace root. A component rebuilt from unchanged
/// sources by componentize-py or componentize-js differs in its bytes, and
/// so would be compiled again.
pub fn up_to_date(output: &Path, sources: &[&str]) -> bool {
    let modified = |path: &Path| std::fs::metadata(path).and_then(|metadata| metadata.modified()).ok();
    let Some(built) = modified(output) else {
        return false;
    };
    sources.iter().all(|source| modified(&root().join(source)).is_some_and(|changed| changed < built))
}

/// Runs the `wflow-host` binary in `cwd` with `args`.
pub fn wflow(cwd: &Path, state_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wflow-host"))
        .current_dir(cwd)
        .env("WFLOW_STATE_DIR", state_dir)
        .env("WFLOW_ARTIFACT_DIR", artifact_dir())
        .env_remove("RUST_LOG")
        .args(args)
        .output()
        .expect("failed to start wflow-host")
}

/// Copies the flights flow and its data into `sandbox`, with component paths
/// that point at the built components and `out` inside the sandbox, and
/// returns the manifest's path.
pub fn flights_flow(sandbox: &Sandbox) -> PathBuf {
    let example = root().join("examples/flights");
    let text = std::fs::read_to_string(example.join("flow.toml")).unwrap();
    let text = text.replace("../../target/wasm32-wasip2/release", &components().display().to_string());
    std::fs::create_dir_all(sandbox.path().join("flights/data")).unwrap();
    for file in ["flights-2k.json", "airports.csv"] {
        std::fs::copy(example.join("data").join(file), sandbox.path().join("flights/data").join(file)).unwrap();
    }
    sandbox.write("flights/flow.toml", &text)
}

/// Copies the Parquet flights flow into `sandbox`, with component paths that
/// point at the built components and `out` inside the sandbox, and returns
/// the manifest's path. The flow's `flights` parameter has no default.
pub fn flights_parquet_flow(sandbox: &Sandbox) -> PathBuf {
    let scan = scan_component();
    let text = std::fs::read_to_string(root().join("examples/flights/parquet.toml")).unwrap();
    let text = text
        .replace("../../target/wasm32-wasip2/release/flights_scan.wasm", &scan.display().to_string())
        .replace("../../target/wasm32-wasip2/release", &components().display().to_string());
    sandbox.write("flights/parquet.toml", &text)
}

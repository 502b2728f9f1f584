//! `wflow-host new`: start a task or a flow from a skeleton that builds and
//! runs as it is.
//!
//! A task folder gets its own copy of the WIT contract and of the guest SDK
//! for its language, so that it builds without the wflow repository.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};

use super::{Status, display_path};

/// Create a task or a flow to start from.
#[derive(Args)]
pub struct NewArgs {
    #[command(subcommand)]
    command: NewCommand,
}

#[derive(Subcommand)]
enum NewCommand {
    /// Create a task folder: source, WIT, SDK, build script and a flow that
    /// runs the task alone.
    ///
    /// Example: wflow-host new task clean-rows --lang python
    Task {
        /// The folder to create; its last part is the task's name.
        path: PathBuf,

        /// The language the task is written in.
        #[arg(long, value_enum)]
        lang: Language,
    },
    /// Create a flow folder with a manifest to start from.
    ///
    /// Example: wflow-host new flow delays
    Flow {
        /// The folder to create; its last part is the flow's name.
        path: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Language {
    Rust,
    Python,
    Js,
    C,
}

/// One file of a skeleton: its path in the new folder and its text.
struct Template {
    path: &'static str,
    text: &'static str,
    /// Whether `text` has `{{name}}`-style placeholders to fill. Copies of
    /// the SDK and the WIT are written as they are.
    render: bool,
    executable: bool,
}

const fn file(path: &'static str, text: &'static str) -> Template {
    Template { path, text, render: true, executable: false }
}

const fn script(path: &'static str, text: &'static str) -> Template {
    Template { path, text, render: true, executable: true }
}

const fn copy(path: &'static str, text: &'static str) -> Template {
    Template { path, text, render: false, executable: false }
}

const WIT: Template = copy("wit/task.wit", include_str!("../../../wit/task.wit"));

const TASK_COMMON: &[Template] = &[
    WIT,
    file("flow.toml", include_str!("../../templates/task/flow.toml")),
    file("input.json", include_str!("../../templates/task/input.json")),
    file("README.md", include_str!("../../templates/task/README.md")),
];

const RUST: &[Template] = &[
    file("Cargo.toml", include_str!("../../templates/rust/Cargo.toml")),
    file("src/lib.rs", include_str!("../../templates/rust/lib.rs")),
    script("build.sh", include_str!("../../templates/rust/build.sh")),
    file("sdk/Cargo.toml", include_str!("../../templates/rust/sdk-Cargo.toml")),
    copy("sdk/src/lib.rs", include_str!("../../../guest-sdk/src/lib.rs")),
    copy("sdk/src/context.rs", include_str!("../../../guest-sdk/src/context.rs")),
    copy("sdk/src/error.rs", include_str!("../../../guest-sdk/src/error.rs")),
    copy("sdk/src/io.rs", include_str!("../../../guest-sdk/src/io.rs")),
    copy("sdk/src/log.rs", include_str!("../../../guest-sdk/src/log.rs")),
];

const PYTHON: &[Template] = &[
    file("app.py", include_str!("../../templates/python/app.py")),
    script("build.sh", include_str!("../../templates/python/build.sh")),
    copy("sdk/wflow.py", include_str!("../../../guest-sdk/python/wflow.py")),
];

const JS: &[Template] = &[
    file("app.js", include_str!("../../templates/js/app.js")),
    script("build.sh", include_str!("../../templates/js/build.sh")),
    copy("sdk/wflow.js", include_str!("../../../guest-sdk/js/wflow.js")),
];

const C: &[Template] = &[
    file("app.c", include_str!("../../templates/c/app.c")),
    script("build.sh", include_str!("../../templates/c/build.sh")),
    copy("sdk/wflow.h", include_str!("../../../guest-sdk/c/wflow.h")),
    copy("sdk/wflow.c", include_str!("../../../guest-sdk/c/wflow.c")),
];

/// The WASI preview 1 adapter that `wasm-tools component new` needs to make
/// a component of a C module, of the wasmtime release this host runs.
const WASI_ADAPTER: (&str, &[u8]) = (
    "wasi_snapshot_preview1.reactor.wasm",
    wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
);

const FLOW: &[Template] = &[
    file("flow.toml", include_str!("../../templates/flow/flow.toml")),
    file("input.json", include_str!("../../templates/flow/input.json")),
];

impl Language {
    /// Returns the language's label, files, tools and templates, for the new task.
    fn describe(self) -> LanguageInfo {
        match self {
            Language::Rust => LanguageInfo {
                label: "Rust",
                files: "| `src/lib.rs` | the task |\n| `Cargo.toml` | the crate |\n",
                tools: "Rust with the `wasm32-wasip2` target (`rustup target add wasm32-wasip2`)",
                templates: RUST,
            },
            Language::Python => LanguageInfo {
                label: "Python",
                files: "| `app.py` | the task |\n",
                tools: "componentize-py 0.25.1 on `PATH` (`pip install componentize-py==0.25.1` in a \
                        virtual environment)",
                templates: PYTHON,
            },
            Language::Js => LanguageInfo {
                label: "JavaScript",
                files: "| `app.js` | the task |\n",
                tools: "componentize-js 0.23.0 on `PATH` (`npm install @bytecodealliance/componentize-js@0.23.0`, \
                        with Node.js 20 or later)",
                templates: JS,
            },
            Language::C => LanguageInfo {
                label: "C",
                files: "| `app.c` | the task |\n| `wasi_snapshot_preview1.reactor.wasm` | the WASI adapter the build \
                        needs |\n",
                tools: "clang, wasm-ld, wasi-libc and clang's wasm32 runtime (Debian: `apt-get install clang lld \
                        wasi-libc libclang-rt-dev-wasm32`), and \
                        wit-bindgen 0.61.1 and wasm-tools on `PATH` (`cargo install wit-bindgen-cli@0.61.1 wasm-tools`)",
                templates: C,
            },
        }
    }
}

struct LanguageInfo {
    label: &'static str,
    files: &'static str,
    tools: &'static str,
    templates: &'static [Template],
}

pub fn execute(args: NewArgs) -> Status {
    let result = match args.command {
        NewCommand::Task { path, lang } => new_task(&path, lang),
        NewCommand::Flow { path } => new_flow(&path),
    };
    match result {
        Ok(()) => Status::Success,
        Err(Failure::Invalid(message)) => {
            eprintln!("error: {message}");
            Status::InvalidInput
        }
        Err(Failure::Io(message)) => {
            eprintln!("error: {message}");
            Status::HostError
        }
    }
}

enum Failure {
    /// The user's request cannot be done as given.
    Invalid(String),
    /// The file system refused.
    Io(String),
}

fn new_task(path: &Path, language: Language) -> Result<(), Failure> {
    let name = folder_name(path, "task")?;
    let info = language.describe();
    let values = [
        ("name", name.as_str()),
        ("crate", &name.replace('-', "_")),
        ("language", info.label),
        ("files", info.files),
        ("tools", info.tools),
    ];
    let files: Vec<&Template> = info.templates.iter().chain(TASK_COMMON).collect();
    create(path, &files, &values)?;
    if matches!(language, Language::C) {
        let (name, bytes) = WASI_ADAPTER;
        let adapter = path.join(name);
        std::fs::write(&adapter, bytes)
            .map_err(|error| Failure::Io(format!("cannot create `{}`: {error}", adapter.display())))?;
    }
    let folder = display_path(path).trim_end_matches('/').to_string();
    say!("created the {} task `{name}` in {folder}/", info.label);
    say!("build and run it:");
    say!("  cd {folder} && ./build.sh && wflow-host run flow.toml");
    Ok(())
}

fn new_flow(path: &Path) -> Result<(), Failure> {
    let name = folder_name(path, "flow")?;
    let files: Vec<&Template> = FLOW.iter().collect();
    create(path, &files, &[("name", name.as_str())])?;
    let folder = display_path(path).trim_end_matches('/').to_string();
    say!("created the flow `{name}` in {folder}/flow.toml");
    say!("give it a first task and run it:");
    say!("  cd {folder}");
    say!("  wflow-host new task hello --lang rust");
    say!("  ./hello/build.sh && wflow-host run flow.toml");
    Ok(())
}

/// Returns the name of a new task or flow: the last part of `path`, which
/// becomes an id in manifests, a crate name and a file name.
fn folder_name(path: &Path, kind: &str) -> Result<String, Failure> {
    let name = path.file_name().and_then(|name| name.to_str()).unwrap_or_default();
    let valid = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if valid && RESERVED_NAMES.contains(&name.replace('-', "_").as_str()) {
        return Err(Failure::Invalid(format!(
            "`{name}` cannot name a {kind}: a Rust task of that name would clash with the SDK crate `wflow-guest` \
             or a name Cargo or Rust reserves; choose another name"
        )));
    }
    if valid {
        Ok(name.to_string())
    } else {
        Err(Failure::Invalid(format!(
            "`{}` cannot name a {kind}: the folder's name is also the {kind}'s id, so it must start \
             with a lowercase letter and hold only lowercase letters, digits, `-` and `_` (at most \
             64); for example `clean-rows`",
            path.display()
        )))
    }
}

/// Names that the Rust skeleton cannot take as its crate name, with `-`
/// written as `_`: the copied SDK's, those Cargo reserves, the standard
/// crates' and Rust's keywords. Refused for every language, so that a task
/// keeps its name if it moves to Rust.
const RESERVED_NAMES: &[&str] = &[
    "wflow_guest",
    "test",
    "build",
    "deps",
    "examples",
    "incremental",
    "std",
    "core",
    "alloc",
    "proc_macro",
    "abstract",
    "as",
    "async",
    "await",
    "become",
    "box",
    "break",
    "const",
    "continue",
    "crate",
    "do",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "final",
    "fn",
    "for",
    "gen",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "macro",
    "match",
    "mod",
    "move",
    "mut",
    "override",
    "priv",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "try",
    "type",
    "typeof",
    "unsafe",
    "unsized",
    "use",
    "virtual",
    "where",
    "while",
    "yield",
];

/// Writes `files` into the new folder `root`, refusing to touch a folder
/// that already has something in it.
fn create(root: &Path, files: &[&Template], values: &[(&str, &str)]) -> Result<(), Failure> {
    match std::fs::read_dir(root) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(Failure::Invalid(format!(
                    "folder `{}` already exists and is not empty; choose another name or remove it",
                    root.display()
                )));
            }
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(Failure::Invalid(format!(
                "`{}` is a file; choose another name for the new folder",
                root.display()
            )));
        }
        Err(error) => return Err(Failure::Io(format!("cannot read folder `{}`: {error}", root.display()))),
    }
    for template in files {
        let path = root.join(template.path);
        let text = if template.render { render(template.text, values) } else { template.text.to_string() };
        write_new(&path, &text, template.executable)
            .map_err(|error| Failure::Io(format!("cannot create `{}`: {error}", path.display())))?;
    }
    Ok(())
}

/// Replaces each `{{key}}` in `text` with its value.
fn render(text: &str, values: &[(&str, &str)]) -> String {
    let mut rendered = text.to_string();
    for (key, value) in values {
        rendered = rendered.replace(&format!("{{{{{key}}}}}"), value);
    }
    rendered
}

fn write_new(path: &Path, text: &str, executable: bool) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if executable { 0o755 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = executable;
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_fills_every_placeholder() {
        let text = render("{{name}} is {{name}}, built by {{tool}}", &[("name", "a"), ("tool", "b")]);
        assert_eq!(text, "a is a, built by b");
    }

    #[test]
    fn folder_name_must_be_an_id() {
        assert_eq!(folder_name(Path::new("tasks/clean-rows"), "task").ok().as_deref(), Some("clean-rows"));
        for bad in ["Upper", "1st", "has space", "dot.ted", "", "-x", "wflow-guest", "test"] {
            assert!(folder_name(Path::new(bad), "task").is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn templates_leave_no_placeholder_unfilled() {
        for language in [Language::Rust, Language::Python, Language::Js, Language::C] {
            let info = language.describe();
            let values = [("name", "t"), ("crate", "t"), ("language", ""), ("files", ""), ("tools", "")];
            for template in info.templates.iter().chain(TASK_COMMON).filter(|template| template.render) {
                let text = render(template.text, &values);
                assert!(!text.contains("{{"), "`{}` has a placeholder left: {text}", template.path);
            }
        }
    }
}

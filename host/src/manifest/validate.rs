//! Checks a parsed manifest and turns it into a [`Flow`].
//!
//! Every check runs even after an earlier one failed, so that one pass over a
//! manifest reports all of its problems, each with its line and column.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::diagnostic::{Diagnostic, Location, SourceMap};
use super::model::{CachePolicy, Flow, InputSpec, Limits, OutputSpec, RetryPolicy, TaskSpec};
use super::params::{ParamOverride, ParamSpec, ParamType, ParamValue, absolute};
use super::schema::{RawInput, RawManifest, RawOutput, RawParam, RawRetry, RawSettings, RawTask};
use super::template::{Template, is_identifier};
use super::units;

/// Fuel of a task when neither the task nor `[defaults]` sets it: enough for
/// a few seconds of work, so that a runaway loop ends.
pub const DEFAULT_FUEL: u64 = 10_000_000_000;

/// Memory limit of a task when neither the task nor `[defaults]` sets it.
pub const DEFAULT_MEMORY_BYTES: u64 = 128 * 1024 * 1024;

/// Wall-clock limit of an attempt when neither the task nor `[defaults]`
/// sets it. Fuel does not count time a task waits in a host call, so
/// without this a sleeping task could hold a run forever.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3600);

const IDENTIFIER_HELP: &str = "use ASCII letters, digits, `-` and `_`";

/// The origin of a parameter's value, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueSource {
    Default,
    CommandLine,
}

/// The settings `[defaults]` gives every task.
struct Settings {
    fuel: Option<u64>,
    memory_bytes: u64,
    cache: bool,
    cache_ttl: Option<Duration>,
    timeout: Option<Duration>,
    retry: RetryPolicy,
}

pub(crate) struct Checker<'a> {
    map: SourceMap<'a>,
    manifest_dir: &'a Path,
    cwd: &'a Path,
    diagnostics: Vec<Diagnostic>,
}

impl<'a> Checker<'a> {
    pub(crate) fn new(map: SourceMap<'a>, manifest_dir: &'a Path, cwd: &'a Path) -> Self {
        Checker { map, manifest_dir, cwd, diagnostics: Vec::new() }
    }

    /// Validates `raw` with `overrides` applied, returning every problem found.
    pub(crate) fn check(
        mut self,
        raw: RawManifest,
        manifest_path: PathBuf,
        manifest_hash: String,
        overrides: &[ParamOverride],
    ) -> Result<Flow, Vec<Diagnostic>> {
        let flow = raw.flow.into_inner();
        if !is_identifier(flow.name.get_ref()) {
            let message = format!("invalid flow name `{}`", flow.name.get_ref());
            self.error(flow.name.span(), message, Some(IDENTIFIER_HELP.to_string()));
        }

        let timeout = self.check_duration(flow.timeout.as_ref(), "[flow] timeout");
        let max_parallel = flow.max_parallel.as_ref().and_then(|value| match usize::try_from(*value.get_ref()) {
            Ok(count) if count > 0 => Some(count),
            _ => {
                let message = format!("[flow] max_parallel: invalid value {}", value.get_ref());
                self.error(value.span(), message, Some("write a positive number of tasks, such as 4".to_string()));
                None
            }
        });
        let params = self.check_params(&raw.params);
        let (values, sources) = self.bind_values(&params, &raw.params, overrides);
        let defaults = self.check_defaults(raw.defaults.as_ref());
        let tasks = self.check_tasks(&raw.tasks, &params, &values, &sources, &defaults);
        let outputs = self.check_outputs(&raw.outputs, &tasks, &params, &values, &sources);
        let ordered = self.order_tasks(&raw.tasks, tasks);

        if !self.diagnostics.is_empty() {
            // Report in file order; problems without a line come last.
            self.diagnostics.sort_by_key(|diagnostic| match diagnostic.location {
                Location::File { line, column, .. } => (0, line, column),
                Location::CommandLine { .. } | Location::Flow { .. } => (1, 0, 0),
            });
            return Err(self.diagnostics);
        }
        Ok(Flow {
            name: flow.name.into_inner(),
            description: flow.description,
            timeout,
            max_parallel,
            manifest_path,
            manifest_hash,
            params,
            values,
            tasks: ordered,
            outputs,
        })
    }

    fn error(&mut self, span: Range<usize>, message: impl Into<String>, help: Option<String>) {
        let mut diagnostic = Diagnostic::new(self.map.locate(span.start), message);
        diagnostic.help = help;
        self.diagnostics.push(diagnostic);
    }

    fn check_params(&mut self, raw: &BTreeMap<Spanned<String>, Spanned<RawParam>>) -> BTreeMap<String, ParamSpec> {
        let mut params = BTreeMap::new();
        for (name, param) in raw {
            if !is_identifier(name.get_ref()) {
                let message = format!("invalid parameter name `{}`", name.get_ref());
                self.error(name.span(), message, Some(IDENTIFIER_HELP.to_string()));
            }
            let param = param.get_ref();
            let Some(kind) = ParamType::from_name(param.kind.get_ref()) else {
                let message = format!("unknown type `{}` for parameter `{}`", param.kind.get_ref(), name.get_ref());
                self.error(param.kind.span(), message, Some(format!("use one of: {}", ParamType::NAMES)));
                continue;
            };
            let default = match &param.default {
                None => None,
                Some(value) => match kind.convert_default(value.get_ref(), self.manifest_dir) {
                    Ok(converted) => Some(converted),
                    Err(message) => {
                        let message = format!("parameter `{}`: {message}", name.get_ref());
                        self.error(value.span(), message, None);
                        continue;
                    }
                },
            };
            let spec =
                ParamSpec { name: name.get_ref().clone(), kind, description: param.description.clone(), default };
            params.insert(name.get_ref().clone(), spec);
        }
        params
    }

    fn bind_values(
        &mut self,
        params: &BTreeMap<String, ParamSpec>,
        raw_params: &BTreeMap<Spanned<String>, Spanned<RawParam>>,
        overrides: &[ParamOverride],
    ) -> (BTreeMap<String, ParamValue>, HashMap<String, ValueSource>) {
        let mut values = BTreeMap::new();
        let mut sources = HashMap::new();

        for (index, item) in overrides.iter().enumerate() {
            let location = Location::CommandLine { argument: format!("{}={}", item.name, item.value) };
            let Some(spec) = params.get(&item.name) else {
                let declared: Vec<&str> = params.keys().map(String::as_str).collect();
                let help = if declared.is_empty() {
                    "this flow declares no parameters".to_string()
                } else {
                    format!("this flow declares: {}", declared.join(", "))
                };
                let message = format!("unknown parameter `{}`", item.name);
                self.diagnostics.push(Diagnostic::new(location, message).with_help(help));
                continue;
            };
            if overrides[..index].iter().any(|earlier| earlier.name == item.name) {
                let message = format!("parameter `{}` is given more than once", item.name);
                let help = "give each parameter once";
                self.diagnostics.push(Diagnostic::new(location, message).with_help(help));
                continue;
            }
            match spec.kind.parse_argument(&item.value, self.cwd) {
                Ok(value) => {
                    values.insert(item.name.clone(), value);
                    sources.insert(item.name.clone(), ValueSource::CommandLine);
                }
                Err(message) => {
                    let message = format!("parameter `{}` ({}): {message}", item.name, spec.kind);
                    self.diagnostics.push(Diagnostic::new(location, message));
                }
            }
        }

        for (name, spec) in params {
            if values.contains_key(name) || overrides.iter().any(|item| &item.name == name) {
                continue;
            }
            match &spec.default {
                Some(default) => {
                    values.insert(name.clone(), default.clone());
                    sources.insert(name.clone(), ValueSource::Default);
                }
                None => {
                    let message = format!("missing value for required parameter `{name}` ({})", spec.kind);
                    let help = format!("pass it with --param {name}=VALUE, or give it a `default` in the manifest");
                    let span = raw_params.get_key_value(name.as_str()).map_or(0..0, |(key, _)| key.span());
                    self.error(span, message, Some(help));
                }
            }
        }
        (values, sources)
    }

    fn check_defaults(&mut self, raw: Option<&Spanned<RawSettings>>) -> Settings {
        let mut settings = Settings {
            fuel: Some(DEFAULT_FUEL),
            memory_bytes: DEFAULT_MEMORY_BYTES,
            cache: true,
            cache_ttl: None,
            timeout: Some(DEFAULT_TIMEOUT),
            retry: RetryPolicy::NONE,
        };
        let Some(raw) = raw else {
            return settings;
        };
        let raw = raw.get_ref();
        if let Some(fuel) = self.check_fuel(raw.fuel.as_ref(), "[defaults]") {
            settings.fuel = fuel;
        }
        if let Some(memory) = self.check_memory(raw.memory.as_ref(), "[defaults]") {
            settings.memory_bytes = memory;
        }
        if let Some(cache) = &raw.cache {
            settings.cache = *cache.get_ref();
        }
        if let Some(ttl) = self.check_duration(raw.cache_ttl.as_ref(), "[defaults] cache_ttl") {
            settings.cache_ttl = Some(ttl);
        }
        if let Some(timeout) = self.check_duration(raw.timeout.as_ref(), "[defaults] timeout") {
            settings.timeout = Some(timeout);
        }
        settings.retry = self.check_retry(raw.retry.as_ref(), settings.retry, "[defaults]");
        settings
    }

    fn check_fuel(&mut self, raw: Option<&Spanned<toml::Value>>, owner: &str) -> Option<Option<u64>> {
        let raw = raw?;
        match units::parse_fuel(raw.get_ref()) {
            Ok(fuel) => Some(fuel),
            Err(message) => {
                let help = "write a positive integer such as 1_000_000_000, or \"unlimited\"";
                self.error(raw.span(), format!("{owner}: {message}"), Some(help.to_string()));
                None
            }
        }
    }

    fn check_memory(&mut self, raw: Option<&Spanned<toml::Value>>, owner: &str) -> Option<u64> {
        let raw = raw?;
        match units::parse_memory(raw.get_ref()) {
            Ok(bytes) => Some(bytes),
            Err(message) => {
                let help = "write a size between 64KiB and 4GiB with a unit, such as \"64MiB\"";
                self.error(raw.span(), format!("{owner}: {message}"), Some(help.to_string()));
                None
            }
        }
    }

    fn check_duration(&mut self, raw: Option<&Spanned<String>>, owner: &str) -> Option<Duration> {
        let raw = raw?;
        match units::parse_duration(raw.get_ref()) {
            Ok(duration) => Some(duration),
            Err(message) => {
                let help = "write a duration with a unit, such as \"30s\", \"15m\", \"12h\" or \"7d\"";
                self.error(raw.span(), format!("{owner}: {message}"), Some(help.to_string()));
                None
            }
        }
    }

    /// Applies the keys of a `retry` table on top of `base`.
    fn check_retry(&mut self, raw: Option<&Spanned<RawRetry>>, base: RetryPolicy, owner: &str) -> RetryPolicy {
        let Some(raw) = raw else { return base };
        let raw = raw.get_ref();
        let mut policy = base;
        if let Some(attempts) = &raw.attempts {
            match u32::try_from(*attempts.get_ref()) {
                Ok(count) if count >= 1 => policy.max_attempts = count,
                _ => {
                    let message = format!("{owner}: invalid retry attempts {}", attempts.get_ref());
                    let help = "write the number of attempts in all, at least 1 (1 means no retry)";
                    self.error(attempts.span(), message, Some(help.to_string()));
                }
            }
        }
        if let Some(delay) = self.check_duration(raw.delay.as_ref(), &format!("{owner}: retry delay")) {
            policy.delay = delay;
        }
        if let Some(max_delay) = self.check_duration(raw.max_delay.as_ref(), &format!("{owner}: retry max_delay")) {
            policy.max_delay = max_delay;
        }
        if let Some(backoff) = &raw.backoff {
            let value = *backoff.get_ref();
            if value.is_finite() && (1.0..=100.0).contains(&value) {
                policy.backoff = value;
            } else {
                let message = format!("{owner}: invalid retry backoff {value}");
                let help = "write a factor from 1.0 (constant delay) to 100.0, such as 2.0";
                self.error(backoff.span(), message, Some(help.to_string()));
            }
        }
        if let Some(jitter) = &raw.jitter {
            let value = *jitter.get_ref();
            if (0.0..=1.0).contains(&value) {
                policy.jitter = value;
            } else {
                let message = format!("{owner}: invalid retry jitter {value}");
                let help = "write a fraction from 0.0 (no jitter) to 1.0, such as 0.2";
                self.error(jitter.span(), message, Some(help.to_string()));
            }
        }
        policy
    }

    fn check_tasks(
        &mut self,
        raw_tasks: &[Spanned<RawTask>],
        params: &BTreeMap<String, ParamSpec>,
        values: &BTreeMap<String, ParamValue>,
        sources: &HashMap<String, ValueSource>,
        defaults: &Settings,
    ) -> Vec<TaskSpec> {
        if raw_tasks.is_empty() {
            let help = "add at least one [[tasks]] table with an `id` and a `component`";
            self.diagnostics.push(Diagnostic::new(self.map.whole(), "the flow has no tasks").with_help(help));
        }

        let mut first_seen: HashMap<&str, Range<usize>> = HashMap::new();
        let mut tasks = Vec::new();
        for raw in raw_tasks {
            let raw = raw.get_ref();
            let id = raw.id.get_ref();
            if !is_identifier(id) {
                self.error(raw.id.span(), format!("invalid task id `{id}`"), Some(IDENTIFIER_HELP.to_string()));
            }
            if let Some(first) = first_seen.get(id.as_str()) {
                let Location::File { line, .. } = self.map.locate(first.start) else { unreachable!() };
                let help = format!("task ids must be unique; the first `{id}` is on line {line}");
                self.error(raw.id.span(), format!("duplicate task id `{id}`"), Some(help));
                continue;
            }
            first_seen.insert(id, raw.id.span());

            let owner = format!("task `{id}`");
            let component = self.check_component(raw, &owner);
            let input = self.check_input(raw.input.as_ref(), &owner, params, values, sources);
            let task_params = self.check_task_params(&raw.params, &owner, params);
            let fuel = self.check_fuel(raw.fuel.as_ref(), &owner).unwrap_or(defaults.fuel);
            let memory_bytes = self.check_memory(raw.memory.as_ref(), &owner).unwrap_or(defaults.memory_bytes);
            let ttl =
                self.check_duration(raw.cache_ttl.as_ref(), &format!("{owner}: cache_ttl")).or(defaults.cache_ttl);
            let timeout = self.check_duration(raw.timeout.as_ref(), &format!("{owner}: timeout")).or(defaults.timeout);
            let retry = self.check_retry(raw.retry.as_ref(), defaults.retry, &owner);
            let enabled = raw.cache.as_ref().map_or(defaults.cache, |cache| *cache.get_ref());

            tasks.push(TaskSpec {
                id: id.clone(),
                component,
                input,
                params: task_params,
                limits: Limits { fuel, memory_bytes, timeout },
                cache: CachePolicy { enabled, ttl },
                retry,
            });
        }

        self.check_references(raw_tasks, &tasks);
        tasks
    }

    fn check_component(&mut self, raw: &RawTask, owner: &str) -> PathBuf {
        let written = raw.component.get_ref();
        let path = absolute(self.manifest_dir, Path::new(written));
        if path.is_file() {
            if let Some(problem) = component_header_problem(&path) {
                let message = format!("{owner}: component `{written}` is not usable: {problem}");
                self.error(raw.component.span(), message, None);
            }
        } else {
            let state = if path.exists() { "is not a file" } else { "not found" };
            let message = format!("{owner}: component `{written}` {state} (looked at {})", path.display());
            let help = format!(
                "paths in the manifest are relative to its folder, {}; build the component or correct the path",
                self.manifest_dir.display()
            );
            self.error(raw.component.span(), message, Some(help));
        }
        path
    }

    fn check_input(
        &mut self,
        raw: Option<&Spanned<RawInput>>,
        owner: &str,
        params: &BTreeMap<String, ParamSpec>,
        values: &BTreeMap<String, ParamValue>,
        sources: &HashMap<String, ValueSource>,
    ) -> InputSpec {
        let Some(spanned) = raw else {
            return InputSpec::None;
        };
        let raw = spanned.get_ref();
        let set = [raw.file.is_some(), raw.param.is_some(), raw.task.is_some(), raw.tasks.is_some(), raw.map.is_some()]
            .into_iter()
            .filter(|set| *set)
            .count();
        if set != 1 {
            let message = format!(
                "{owner}: `input` must have exactly one of `file`, `param`, `task`, `tasks` or `map`, found {set}"
            );
            let help = "write for example input = { task = \"extract\" } or input = { file = \"data/in.json\" }";
            self.error(spanned.span(), message, Some(help.to_string()));
            return InputSpec::None;
        }

        if let Some(file) = &raw.file {
            return match self.check_file_template(file, owner, "input file", params, values, sources) {
                Some(path) => InputSpec::File(path),
                None => InputSpec::None,
            };
        }
        if let Some(param) = &raw.param {
            self.check_param_name(param, owner, params);
            return InputSpec::Param(param.get_ref().clone());
        }
        if let Some(task) = &raw.task {
            return InputSpec::Task(task.get_ref().clone());
        }
        if let Some(task) = &raw.map {
            return InputSpec::Map(task.get_ref().clone());
        }
        let tasks = raw.tasks.as_ref().expect("exactly one input key is set");
        if tasks.get_ref().is_empty() {
            let message = format!("{owner}: `input.tasks` is empty");
            let help = "list the upstream task ids whose outputs this task combines, or use input = { task = \"ID\" }";
            self.error(tasks.span(), message, Some(help.to_string()));
        }
        let mut ids: Vec<String> = Vec::new();
        for id in tasks.get_ref() {
            if ids.contains(id.get_ref()) {
                self.error(
                    id.span(),
                    format!("{owner}: task `{}` is listed twice in `input.tasks`", id.get_ref()),
                    None,
                );
                continue;
            }
            ids.push(id.get_ref().clone());
        }
        InputSpec::Tasks(ids)
    }

    /// Parses a path template, renders it and checks that the file exists.
    fn check_file_template(
        &mut self,
        written: &Spanned<String>,
        owner: &str,
        what: &str,
        params: &BTreeMap<String, ParamSpec>,
        values: &BTreeMap<String, ParamValue>,
        sources: &HashMap<String, ValueSource>,
    ) -> Option<PathBuf> {
        let template = match Template::parse(written.get_ref()) {
            Ok(template) => template,
            Err(message) => {
                self.error(written.span(), format!("{owner}: {message}"), None);
                return None;
            }
        };
        let mut complete = true;
        for name in template.params() {
            if !params.contains_key(name) {
                let message = format!("{owner}: {what} refers to unknown parameter `{name}`");
                self.error(written.span(), message, Some(declared_params_help(params)));
                complete = false;
            } else if !values.contains_key(name) {
                complete = false;
            }
        }
        if !complete {
            return None;
        }

        let path = absolute(self.manifest_dir, Path::new(&template.render(values)));
        if what == "input file" && !path.is_file() {
            let state = if path.exists() { "is not a file" } else { "not found" };
            let message = format!("{owner}: {what} `{}` {state}", path.display());
            let help = path_origin_help(&template, params, sources, self.manifest_dir);
            self.error(written.span(), message, Some(help));
        }
        Some(path)
    }

    fn check_param_name(&mut self, name: &Spanned<String>, owner: &str, params: &BTreeMap<String, ParamSpec>) {
        if !params.contains_key(name.get_ref()) {
            let message = format!("{owner}: unknown parameter `{}`", name.get_ref());
            self.error(name.span(), message, Some(declared_params_help(params)));
        }
    }

    fn check_task_params(
        &mut self,
        raw: &[Spanned<String>],
        owner: &str,
        params: &BTreeMap<String, ParamSpec>,
    ) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for name in raw {
            self.check_param_name(name, owner, params);
            if names.contains(name.get_ref()) {
                self.error(name.span(), format!("{owner}: parameter `{}` is listed twice", name.get_ref()), None);
                continue;
            }
            names.push(name.get_ref().clone());
        }
        names.sort();
        names
    }

    /// Checks that every upstream task a task reads from exists.
    fn check_references(&mut self, raw_tasks: &[Spanned<RawTask>], tasks: &[TaskSpec]) {
        let known: Vec<&str> = tasks.iter().map(|task| task.id.as_str()).collect();
        for raw in raw_tasks {
            let raw = raw.get_ref();
            let Some(input) = &raw.input else { continue };
            let input = input.get_ref();
            let references =
                input.task.iter().chain(input.map.iter()).chain(input.tasks.iter().flat_map(|tasks| tasks.get_ref()));
            for reference in references {
                if !known.contains(&reference.get_ref().as_str()) {
                    let message =
                        format!("task `{}`: input refers to unknown task `{}`", raw.id.get_ref(), reference.get_ref());
                    let help = format!("the flow's tasks are: {}", known.join(", "));
                    self.error(reference.span(), message, Some(help));
                }
            }
        }
    }

    fn check_outputs(
        &mut self,
        raw_outputs: &[Spanned<RawOutput>],
        tasks: &[TaskSpec],
        params: &BTreeMap<String, ParamSpec>,
        values: &BTreeMap<String, ParamValue>,
        sources: &HashMap<String, ValueSource>,
    ) -> Vec<OutputSpec> {
        let mut outputs: Vec<OutputSpec> = Vec::new();
        for (index, output) in raw_outputs.iter().enumerate() {
            let output = output.get_ref();
            let owner = format!("output {}", index + 1);
            let task = output.task.get_ref();
            if !tasks.iter().any(|spec| &spec.id == task) {
                let known: Vec<&str> = tasks.iter().map(|spec| spec.id.as_str()).collect();
                let help = format!("the flow's tasks are: {}", known.join(", "));
                self.error(output.task.span(), format!("{owner} refers to unknown task `{task}`"), Some(help));
            }
            if let Some(pointer) = &output.pointer {
                let text = pointer.get_ref();
                if !text.is_empty() && !text.starts_with('/') {
                    let help = "a JSON pointer is empty or starts with `/`, as in \"/summary\"";
                    self.error(
                        pointer.span(),
                        format!("{owner}: invalid JSON pointer `{text}`"),
                        Some(help.to_string()),
                    );
                }
            }
            let Some(path) = self.check_file_template(&output.path, &owner, "output path", params, values, sources)
            else {
                continue;
            };
            if outputs.iter().any(|earlier| earlier.path == path) {
                let message = format!("{owner} writes `{}`, which an earlier output writes too", path.display());
                self.error(output.path.span(), message, Some("give each output its own path".to_string()));
                continue;
            }
            outputs.push(OutputSpec {
                task: task.clone(),
                pointer: output.pointer.as_ref().map(|pointer| pointer.get_ref().clone()),
                path,
            });
        }
        outputs
    }

    /// Orders tasks so that each comes after its inputs, reporting any cycle.
    fn order_tasks(&mut self, raw_tasks: &[Spanned<RawTask>], tasks: Vec<TaskSpec>) -> Vec<TaskSpec> {
        let index_of: HashMap<&str, usize> =
            tasks.iter().enumerate().map(|(index, task)| (task.id.as_str(), index)).collect();
        let upstream: Vec<Vec<usize>> = tasks
            .iter()
            .map(|task| task.upstream().iter().filter_map(|id| index_of.get(id.as_str()).copied()).collect())
            .collect();

        if let Some(cycle) = find_cycle(&upstream) {
            let steps: Vec<String> =
                cycle.windows(2).map(|pair| format!("`{}` needs `{}`", tasks[pair[0]].id, tasks[pair[1]].id)).collect();
            let first = &tasks[cycle[0]].id;
            let span = raw_tasks
                .iter()
                .find(|raw| raw.get_ref().id.get_ref() == first)
                .map(|raw| raw.get_ref().input.as_ref().map_or(raw.span(), Spanned::span))
                .unwrap_or(0..0);
            let message = format!("dependency cycle: {}", steps.join(", "));
            let help = "a task cannot read, directly or through others, from its own output";
            self.error(span, message, Some(help.to_string()));
            return tasks;
        }

        // Kahn's algorithm, always taking the earliest ready task in manifest order.
        let mut remaining: Vec<usize> = upstream.iter().map(Vec::len).collect();
        let mut done = vec![false; tasks.len()];
        let mut order = Vec::with_capacity(tasks.len());
        while order.len() < tasks.len() {
            let next = (0..tasks.len())
                .find(|&index| !done[index] && remaining[index] == 0)
                .expect("a graph without cycles always has a ready task");
            done[next] = true;
            order.push(next);
            for (index, inputs) in upstream.iter().enumerate() {
                remaining[index] -= inputs.iter().filter(|&&input| input == next).count();
            }
        }
        let mut slots: Vec<Option<TaskSpec>> = tasks.into_iter().map(Some).collect();
        order.into_iter().map(|index| slots[index].take().expect("each task is ordered once")).collect()
    }
}

/// Finds a cycle in the graph `upstream`, whose edges go from a task to the
/// tasks it reads from. The cycle lists its tasks in edge order, with the
/// first repeated at the end.
fn find_cycle(upstream: &[Vec<usize>]) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    fn visit(node: usize, upstream: &[Vec<usize>], marks: &mut [Mark], path: &mut Vec<usize>) -> Option<Vec<usize>> {
        marks[node] = Mark::OnPath;
        path.push(node);
        for &next in &upstream[node] {
            match marks[next] {
                Mark::OnPath => {
                    let start = path.iter().position(|&on_path| on_path == next).expect("the node is on the path");
                    let mut cycle: Vec<usize> = path[start..].to_vec();
                    cycle.push(next);
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(cycle) = visit(next, upstream, marks, path) {
                        return Some(cycle);
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks[node] = Mark::Done;
        None
    }

    let mut marks = vec![Mark::New; upstream.len()];
    for node in 0..upstream.len() {
        if marks[node] == Mark::New {
            if let Some(cycle) = visit(node, upstream, &mut marks, &mut Vec::new()) {
                return Some(cycle);
            }
        }
    }
    None
}

/// Reads the first bytes of a component file and explains why it cannot be
/// a component, or returns `None` when its header looks like one.
fn component_header_problem(path: &Path) -> Option<String> {
    use std::io::Read as _;
    let mut header = Vec::with_capacity(8);
    let read = std::fs::File::open(path).and_then(|file| file.take(8).read_to_end(&mut header));
    match read {
        Ok(_) => crate::runtime::component_header_problem(&header),
        Err(error) => Some(format!("failed to read it: {error}")),
    }
}

fn declared_params_help(params: &BTreeMap<String, ParamSpec>) -> String {
    if params.is_empty() {
        return "declare it in a [params.NAME] table".to_string();
    }
    let names: Vec<&str> = params.keys().map(String::as_str).collect();
    format!("declare it in a [params.NAME] table; the flow declares: {}", names.join(", "))
}

/// Explains which rule resolved a path, for a "not found" message.
fn path_origin_help(
    template: &Template,
    params: &BTreeMap<String, ParamSpec>,
    sources: &HashMap<String, ValueSource>,
    manifest_dir: &Path,
) -> String {
    for name in template.params() {
        let Some(spec) = params.get(name) else { continue };
        if spec.kind != ParamType::Path {
            continue;
        }
        return match sources.get(name) {
            Some(ValueSource::CommandLine) => format!(
                "the path comes from --param {name}, which is relative to the current directory; check it or pass an absolute path"
            ),
            _ => format!(
                "the path comes from the default of parameter `{name}`, relative to the manifest's folder {}; pass --param {name}=PATH to use another file",
                manifest_dir.display()
            ),
        };
    }
    format!("paths in the manifest are relative to its folder, {}", manifest_dir.display())
}

#[cfg(test)]
mod tests {
    use super::find_cycle;

    #[test]
    fn cycle_is_reported_in_edge_order() {
        // 0 reads from 1, 1 reads from 2, 2 reads from 0.
        let upstream = vec![vec![1], vec![2], vec![0]];
        assert_eq!(find_cycle(&upstream), Some(vec![0, 1, 2, 0]));
    }

    #[test]
    fn acyclic_graph_has_no_cycle() {
        let upstream = vec![vec![], vec![0], vec![0, 1]];
        assert_eq!(find_cycle(&upstream), None);
    }

    #[test]
    fn self_reference_is_a_cycle() {
        assert_eq!(find_cycle(&[vec![0]]), Some(vec![0, 0]));
    }
}

//! Deployments: a flow manifest with parameter values and a schedule, read
//! from a folder of TOML files (one deployment per file, named after the
//! file) or from one TOML file with a `[[deployments]]` table per
//! deployment.
//!
//! ```toml
//! flow = "../examples/flights/flow.toml"   # relative to this file
//! description = "Nightly delay statistics"
//! paused = false
//!
//! [params]
//! min_flights = 20
//!
//! [schedule]
//! cron = "0 2 * * *"            # or: every = "15m", with an optional anchor
//! time_zone = "Europe/Berlin"   # IANA name; UTC when absent
//! misfire = "latest"            # all | latest | none
//! catch_up = "6h"               # how far back `misfire = "all"` reaches
//! overlap = "skip"              # skip | queue | allow
//!
//! [notify.on]                   # which events to send; failure by default
//! failure = true
//! late_after = "10m"
//!
//! [[notify.channels]]
//! type = "webhook"
//! url = { env = "OPS_WEBHOOK_URL" }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use wflow_alerts::{Notifier, NotifyConfig, Secrets};
use wflow_schedule::Schedule;

use crate::manifest::{self, Diagnostic, Flow, ParamOverride, SourceMap, parse_duration};

/// The default `catch_up` window of `misfire = "all"`.
const DEFAULT_CATCH_UP: Duration = Duration::from_secs(3600);

/// A flow to run with fixed parameter values, on a schedule or on request.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    /// Unique name: letters, digits, `-` and `_`.
    pub name: String,
    /// The file the deployment was read from.
    pub source: PathBuf,
    /// The flow manifest, as an absolute path.
    pub flow: PathBuf,
    pub description: Option<String>,
    /// Parameter values, as `--param` would give them. Relative paths in
    /// them resolve against the folder of `source`.
    pub params: Vec<ParamOverride>,
    /// When true, the schedule does not fire; runs on request still start.
    pub paused: bool,
    pub schedule: Option<ScheduleSettings>,
    /// Alert settings: the events to send and the channels to send them to.
    pub notify: Option<NotifyConfig>,
}

/// When a deployment runs on its own, and what happens after downtime or
/// while an earlier run is still going.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleSettings {
    pub schedule: Schedule,
    pub misfire: Misfire,
    pub overlap: Overlap,
}

/// The policy for fire times that passed while the server was down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misfire {
    /// Run every missed fire time that lies within `catch_up` of now.
    All { catch_up: Duration },
    /// Run once for the latest missed fire time.
    Latest,
    /// Run none of them.
    None,
}

/// The policy for a fire time that comes while the deployment's previous
/// run is still going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    /// Do not start the new run.
    Skip,
    /// Start the new run when the running one ends.
    Queue,
    /// Start the new run at once, next to the running one.
    Allow,
}

impl Deployment {
    /// Loads the deployment's flow with its parameter values, to check them
    /// or to run it. The manifest is read again on each call, so edits to it
    /// apply to the next run.
    pub fn load_flow(&self) -> Result<Flow, manifest::ManifestError> {
        let base = self.source.parent().unwrap_or(Path::new("/"));
        manifest::load(&self.flow, &self.params, base)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    deployments: Vec<Spanned<RawDeployment>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeployment {
    name: Option<Spanned<String>>,
    flow: Spanned<String>,
    description: Option<String>,
    #[serde(default)]
    paused: bool,
    #[serde(default)]
    params: BTreeMap<String, Spanned<toml::Value>>,
    schedule: Option<Spanned<RawSchedule>>,
    notify: Option<Spanned<NotifyConfig>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    cron: Option<Spanned<String>>,
    every: Option<Spanned<String>>,
    anchor: Option<Spanned<String>>,
    time_zone: Option<Spanned<String>>,
    misfire: Option<Spanned<String>>,
    catch_up: Option<Spanned<String>>,
    overlap: Option<Spanned<String>>,
}

/// Loads the deployments at `path`: every `*.toml` file of a folder, or the
/// `[[deployments]]` of one file. Returns the valid deployments, sorted by
/// name, and one diagnostic per problem. A deployment with a problem is
/// left out, so that the others can run.
pub fn load_deployments(path: &Path) -> (Vec<Deployment>, Vec<String>) {
    let mut deployments = Vec::new();
    let mut problems = Vec::new();
    if path.is_dir() {
        let mut files: Vec<PathBuf> = match std::fs::read_dir(path) {
            Ok(entries) => entries
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|file| file.extension().is_some_and(|extension| extension == "toml"))
                .collect(),
            Err(error) => {
                problems.push(format!("failed to read the deployments folder `{}`: {error}", path.display()));
                return (deployments, problems);
            }
        };
        files.sort();
        for file in files {
            let name = file.file_stem().map(|stem| stem.to_string_lossy().into_owned()).unwrap_or_default();
            match read_text(&file).and_then(|text| parse_single(&file, &text, &name)) {
                Ok(deployment) => deployments.push(deployment),
                Err(problem) => problems.push(problem),
            }
        }
    } else {
        match read_text(path) {
            Ok(text) => {
                let (found, found_problems) = parse_file(path, &text);
                deployments.extend(found);
                problems.extend(found_problems);
            }
            Err(problem) => problems.push(problem),
        }
    }

    deployments.sort_by(|a, b| a.name.cmp(&b.name));
    let mut unique: Vec<Deployment> = Vec::with_capacity(deployments.len());
    for deployment in deployments {
        if let Some(first) = unique.iter().find(|kept| kept.name == deployment.name) {
            problems.push(format!(
                "{}: deployment `{}` is also defined in `{}`; give each deployment its own name",
                deployment.source.display(),
                deployment.name,
                first.source.display()
            ));
            continue;
        }
        unique.push(deployment);
    }
    (unique, problems)
}

fn read_text(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map_err(|error| format!("failed to read deployment file `{}`: {error}", path.display()))
}

/// Parses a file of a deployments folder: one deployment, named after the
/// file unless it sets `name`.
fn parse_single(path: &Path, text: &str, file_name: &str) -> Result<Deployment, String> {
    let map = SourceMap::new(path, text);
    let raw: RawDeployment = toml::from_str(text).map_err(|error| syntax_problem(&map, &error))?;
    check_deployment(&map, path, raw, Some(file_name)).map_err(|diagnostic| diagnostic.to_string())
}

/// Parses a deployments file with a `[[deployments]]` table per deployment.
fn parse_file(path: &Path, text: &str) -> (Vec<Deployment>, Vec<String>) {
    let map = SourceMap::new(path, text);
    let raw: RawFile = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(error) => return (Vec::new(), vec![syntax_problem(&map, &error)]),
    };
    let mut deployments = Vec::new();
    let mut problems = Vec::new();
    for deployment in raw.deployments {
        match check_deployment(&map, path, deployment.into_inner(), None) {
            Ok(deployment) => deployments.push(deployment),
            Err(diagnostic) => problems.push(diagnostic.to_string()),
        }
    }
    (deployments, problems)
}

fn syntax_problem(map: &SourceMap<'_>, error: &toml::de::Error) -> String {
    let location = match error.span() {
        Some(span) => map.locate(span.start),
        None => map.whole(),
    };
    let message = error.message().trim_end().replace('\n', " ");
    let help = "docs/server.md lists the keys of a deployment and their types";
    Diagnostic::new(location, message).with_help(help).to_string()
}

fn check_deployment(
    map: &SourceMap<'_>,
    path: &Path,
    raw: RawDeployment,
    file_name: Option<&str>,
) -> Result<Deployment, Diagnostic> {
    let name = match (&raw.name, file_name) {
        (Some(name), _) => {
            if !is_name(name.get_ref()) {
                return Err(Diagnostic::new(
                    map.locate(name.span().start),
                    format!("deployment name `{}` is invalid", name.get_ref()),
                )
                .with_help("use letters, digits, `-` and `_`"));
            }
            name.get_ref().clone()
        }
        (None, Some(file_name)) if is_name(file_name) => file_name.to_string(),
        (None, Some(file_name)) => {
            return Err(Diagnostic::new(
                map.whole(),
                format!("the file name `{file_name}` is not a valid deployment name"),
            )
            .with_help("rename the file to letters, digits, `-` and `_`, or set `name` in it"));
        }
        (None, None) => {
            return Err(Diagnostic::new(map.whole(), "a deployment in a `[[deployments]]` table has no `name`")
                .with_help("add `name = \"...\"` to each `[[deployments]]` table"));
        }
    };

    let base = path.parent().unwrap_or(Path::new("/"));
    let flow = manifest::absolute(base, Path::new(raw.flow.get_ref()));
    let mut params = Vec::new();
    for (param, value) in &raw.params {
        let text = match value.get_ref() {
            toml::Value::String(text) => text.clone(),
            toml::Value::Integer(number) => number.to_string(),
            toml::Value::Float(number) => number.to_string(),
            toml::Value::Boolean(flag) => flag.to_string(),
            other => {
                return Err(Diagnostic::new(
                    map.locate(value.span().start),
                    format!("parameter `{param}` of deployment `{name}` is a {}", other.type_str()),
                )
                .with_help("give a string, a number or a boolean, as `--param` would"));
            }
        };
        params.push(ParamOverride { name: param.clone(), value: text });
    }
    let schedule = match &raw.schedule {
        Some(schedule) => Some(check_schedule(map, schedule, &name)?),
        None => None,
    };

    let notify = match raw.notify {
        Some(notify) => {
            // Building a notifier checks the channels; secrets are resolved
            // only when an alert is sent.
            if let Err(error) = Notifier::from_config(notify.get_ref(), std::sync::Arc::new(Secrets::empty())) {
                return Err(Diagnostic::new(
                    map.locate(notify.span().start),
                    format!("the notify settings of deployment `{name}` are invalid: {error}"),
                )
                .with_help("docs/server.md describes the alert channels"));
            }
            Some(notify.into_inner())
        }
        None => None,
    };
    let deployment = Deployment {
        name,
        source: path.to_path_buf(),
        flow,
        description: raw.description,
        params,
        paused: raw.paused,
        schedule,
        notify,
    };
    if let Err(error) = deployment.load_flow() {
        return Err(Diagnostic::new(
            map.locate(raw.flow.span().start),
            format!("the flow of deployment `{}` does not load: {error}", deployment.name),
        ));
    }
    Ok(deployment)
}

fn check_schedule(map: &SourceMap<'_>, raw: &Spanned<RawSchedule>, name: &str) -> Result<ScheduleSettings, Diagnostic> {
    let at = |span: std::ops::Range<usize>| map.locate(span.start);
    let table = raw.get_ref();
    if let Some(every) = &table.every
        && every.get_ref().contains("from")
    {
        return Err(Diagnostic::new(at(every.span()), "`every` takes only a duration, such as \"15m\"")
            .with_help("put the anchor time in `anchor`"));
    }
    let spec = match (&table.cron, &table.every, &table.anchor) {
        (Some(cron), None, None) => cron.get_ref().clone(),
        (None, Some(every), None) => format!("@every {}", every.get_ref()),
        (None, Some(every), Some(anchor)) => format!("@every {} from {}", every.get_ref(), anchor.get_ref()),
        (Some(_), _, Some(anchor)) => {
            return Err(Diagnostic::new(at(anchor.span()), "`anchor` applies only to `every`, not to `cron`")
                .with_help("remove `anchor`, or use `every` instead of `cron`"));
        }
        (Some(cron), Some(_), None) => {
            return Err(Diagnostic::new(
                at(cron.span()),
                format!("the schedule of `{name}` has both `cron` and `every`"),
            )
            .with_help("keep one of them"));
        }
        (None, None, _) => {
            return Err(Diagnostic::new(
                at(raw.span()),
                format!("the schedule of `{name}` has neither `cron` nor `every`"),
            )
            .with_help("add `cron = \"0 2 * * *\"` or `every = \"15m\"`"));
        }
    };
    let time_zone = table.time_zone.as_ref().map_or("UTC", |zone| zone.get_ref().as_str());
    let schedule = Schedule::parse(&spec, time_zone).map_err(|error| {
        let span = table.cron.as_ref().or(table.every.as_ref()).map_or(raw.span(), |value| value.span());
        Diagnostic::new(at(span), format!("the schedule of `{name}` is invalid: {error}"))
            .with_help("check it with `wflow-host schedule next SPEC --tz ZONE`")
    })?;

    let catch_up = match &table.catch_up {
        Some(text) => parse_duration(text.get_ref())
            .map_err(|error| Diagnostic::new(at(text.span()), format!("`catch_up` is invalid: {error}")))?,
        None => DEFAULT_CATCH_UP,
    };
    let misfire = match table.misfire.as_ref().map(|value| (value.get_ref().as_str(), value.span())) {
        None | Some(("latest", _)) => Misfire::Latest,
        Some(("all", _)) => Misfire::All { catch_up },
        Some(("none", _)) => Misfire::None,
        Some((other, span)) => {
            return Err(Diagnostic::new(at(span), format!("misfire policy `{other}` is unknown"))
                .with_help("use `all`, `latest` or `none`"));
        }
    };
    if table.catch_up.is_some() && !matches!(misfire, Misfire::All { .. }) {
        let span = table.catch_up.as_ref().map_or(raw.span(), |value| value.span());
        return Err(Diagnostic::new(at(span), "`catch_up` applies only to `misfire = \"all\"`")
            .with_help("remove `catch_up`, or set `misfire = \"all\"`"));
    }
    let overlap = match table.overlap.as_ref().map(|value| (value.get_ref().as_str(), value.span())) {
        None | Some(("skip", _)) => Overlap::Skip,
        Some(("queue", _)) => Overlap::Queue,
        Some(("allow", _)) => Overlap::Allow,
        Some((other, span)) => {
            return Err(Diagnostic::new(at(span), format!("overlap policy `{other}` is unknown"))
                .with_help("use `skip`, `queue` or `allow`"));
        }
    };
    Ok(ScheduleSettings { schedule, misfire, overlap })
}

fn is_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|character| character.is_ascii_alphanumeric() || "-_".contains(character))
}

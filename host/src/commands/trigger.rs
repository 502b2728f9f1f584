//! `wflow-host trigger`: start a run of a deployment now, on a running
//! server or in this process.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use serde_json::{Value, json};
use wflow_host::HostOptions;
use wflow_host::manifest::ParamOverride;
use wflow_host::server::deployment::{Deployment, load_deployments};

use super::remote::{Remote, SERVER_ENV};
use super::run::{RunSettings, run_flow};
use super::{Status, current_dir};

/// The period at which `--wait` checks whether the run has ended.
const WAIT_POLL: Duration = Duration::from_millis(500);

/// Start a run of a deployment now, with parameter overrides.
///
/// With --server (or WFLOW_SERVER), the running server starts the run and
/// this command prints its id. With --deployments instead, this process
/// runs the deployment's flow itself, as `run` does.
#[derive(Args)]
pub struct TriggerArgs {
    /// The deployment's name.
    deployment: String,

    /// Replace a parameter value, as NAME=VALUE; repeatable. A relative path
    /// resolves against the deployment file's folder, as the deployment's
    /// own values do.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<ParamOverride>,

    /// The server's URL, such as http://127.0.0.1:7420. WFLOW_SERVER sets it
    /// too; WFLOW_API_TOKEN gives its token.
    #[arg(long, value_name = "URL")]
    server: Option<String>,

    /// Run here, from this deployments folder or file, when no server is
    /// given.
    #[arg(long, value_name = "PATH", conflicts_with = "server")]
    deployments: Option<PathBuf>,

    /// With a server, wait until the run ends and exit with its outcome.
    #[arg(long)]
    wait: bool,

    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn execute(args: TriggerArgs, state_dir: &Path, host_options: &HostOptions) -> Status {
    if args.deployments.is_none() {
        match Remote::from_flag(args.server.as_deref()) {
            Ok(Some(remote)) => return trigger_remote(&remote, &args),
            Ok(None) => {}
            Err(error) => {
                eprintln!("error: {error:#}");
                return Status::InvalidInput;
            }
        }
    }
    let Some(path) = &args.deployments else {
        eprintln!(
            "error: no server and no deployments given; pass --server URL (or set {SERVER_ENV}) to start the run on \
             a running server, or --deployments PATH to run it here"
        );
        return Status::InvalidInput;
    };
    match local_deployment(&current_dir().join(path), &args.deployment, &args.params) {
        Ok(deployment) => match deployment.load_flow() {
            Ok(flow) => {
                let settings = RunSettings {
                    read_cache: true,
                    max_parallel: None,
                    resume_from: None,
                    deployment: Some(deployment.name.clone()),
                    json: args.json,
                    verbose: false,
                };
                run_flow(&flow, None, &settings, state_dir, host_options)
            }
            Err(error) => {
                eprintln!("error: {error}");
                Status::InvalidInput
            }
        },
        Err(message) => {
            eprintln!("error: {message}");
            Status::InvalidInput
        }
    }
}

/// Finds deployment `name` at `path` and applies `overrides` to it.
fn local_deployment(path: &Path, name: &str, overrides: &[ParamOverride]) -> Result<Deployment, String> {
    let (deployments, problems) = load_deployments(path);
    let Some(deployment) = deployments.into_iter().find(|deployment| deployment.name == name) else {
        if let Some(problem) = problems.iter().find(|problem| problem.contains(&format!("`{name}`"))) {
            return Err(problem.clone());
        }
        return Err(format!("no deployment is named `{name}` in `{}`", path.display()));
    };
    let mut params: Vec<ParamOverride> =
        deployment.params.iter().filter(|param| !overrides.iter().any(|new| new.name == param.name)).cloned().collect();
    params.extend(overrides.iter().cloned());
    Ok(Deployment { params, ..deployment })
}

fn trigger_remote(remote: &Remote, args: &TriggerArgs) -> Status {
    let params: serde_json::Map<String, Value> =
        args.params.iter().map(|param| (param.name.clone(), Value::String(param.value.clone()))).collect();
    let started =
        match remote.post(&format!("/api/v1/deployments/{}/runs", args.deployment), &json!({ "params": params })) {
            Ok(started) => started,
            Err(error) => {
                eprintln!("error: {error:#}");
                return Status::InvalidInput;
            }
        };
    let run_id = started["run_id"].as_str().unwrap_or_default().to_string();
    if !args.wait {
        if args.json {
            say!("{started}");
        } else {
            say!(
                "started run {run_id} of deployment `{}`: {}",
                args.deployment,
                started["link"].as_str().unwrap_or("")
            );
        }
        return Status::Success;
    }
    loop {
        let detail = match remote.get(&format!("/api/v1/runs/{run_id}")) {
            Ok(detail) => detail,
            Err(error) => {
                eprintln!("error: {error:#}");
                return Status::HostError;
            }
        };
        let state = detail["run"]["state"].as_str().unwrap_or("running").to_string();
        if state != "running" {
            if args.json {
                say!("{detail}");
            } else {
                say!("run {run_id} of deployment `{}` ended: {state}", args.deployment);
            }
            return if state == "completed" { Status::Success } else { Status::RunFailed };
        }
        std::thread::sleep(WAIT_POLL);
    }
}

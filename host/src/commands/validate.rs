//! `wflow-host validate`: check a manifest without running anything.

use std::path::PathBuf;

use clap::Args;
use wflow_host::manifest::{self, ParamOverride};

use super::run::plural;
use super::{Status, current_dir};

/// Check a flow manifest and its parameters without running any task.
///
/// Reports every problem found, each with its file, line and column.
#[derive(Args)]
pub struct ValidateArgs {
    /// The flow manifest (TOML).
    flow: PathBuf,

    /// Set a parameter, as NAME=VALUE; repeatable. Checked like `run` does.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<ParamOverride>,
}

pub fn execute(args: ValidateArgs) -> Status {
    match manifest::load(&args.flow, &args.params, &current_dir()) {
        Ok(flow) => {
            let order: Vec<&str> = flow.tasks.iter().map(|task| task.id.as_str()).collect();
            say!(
                "{}: flow `{}` is valid: {} ({}), {}, {}",
                args.flow.display(),
                flow.name,
                plural(flow.tasks.len(), "task"),
                order.join(", "),
                plural(flow.params.len(), "parameter"),
                plural(flow.outputs.len(), "output")
            );
            Status::Success
        }
        Err(error) => {
            eprintln!("error: {error}");
            Status::InvalidInput
        }
    }
}

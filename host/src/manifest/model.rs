//! A validated flow, ready to run: paths are absolute, parameters have their
//! values, and tasks are in an order where each comes after its inputs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::params::{ParamSpec, ParamValue};

/// A validated flow with its parameter values bound.
#[derive(Debug, Clone)]
pub struct Flow {
    pub name: String,
    pub description: Option<String>,
    /// The manifest file, absolute.
    pub manifest_path: PathBuf,
    /// The declared parameters, by name.
    pub params: BTreeMap<String, ParamSpec>,
    /// The value of every parameter, after defaults and overrides.
    pub values: BTreeMap<String, ParamValue>,
    /// The tasks, each after every task it reads from.
    pub tasks: Vec<TaskSpec>,
    pub outputs: Vec<OutputSpec>,
}

impl Flow {
    /// The task with id `id`.
    pub fn task(&self, id: &str) -> Option<&TaskSpec> {
        self.tasks.iter().find(|task| task.id == id)
    }
}

/// One task of a flow.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSpec {
    pub id: String,
    /// The component file, absolute.
    pub component: PathBuf,
    pub input: InputSpec,
    /// The parameters the task sees, sorted by name.
    pub params: Vec<String>,
    pub limits: Limits,
    pub cache: CachePolicy,
}

impl TaskSpec {
    /// The ids of the tasks this task reads from, in manifest order.
    pub fn upstream(&self) -> &[String] {
        match &self.input {
            InputSpec::Task(id) => std::slice::from_ref(id),
            InputSpec::Tasks(ids) => ids,
            InputSpec::None | InputSpec::File(_) | InputSpec::Param(_) => &[],
        }
    }
}

/// Where a task's input bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputSpec {
    /// No input: the task receives zero bytes.
    None,
    /// The contents of a file, absolute.
    File(PathBuf),
    /// The JSON encoding of a parameter's value.
    Param(String),
    /// The output of one upstream task.
    Task(String),
    /// A JSON object of upstream outputs keyed by task id.
    Tasks(Vec<String>),
}

/// The sandbox limits of one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Fuel units the task may consume; `None` for no limit.
    pub fuel: Option<u64>,
    /// The maximum size of the task's linear memory, in bytes.
    pub memory_bytes: u64,
}

/// Whether and how long a task's output is reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    pub enabled: bool,
    /// How long a stored output stays valid; `None` for no expiry.
    pub ttl: Option<Duration>,
}

/// One file the flow writes from a task's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputSpec {
    pub task: String,
    /// An RFC 6901 JSON pointer into the task's output, if only part is written.
    pub pointer: Option<String>,
    /// The file to write, absolute.
    pub path: PathBuf,
}

//! The context a task runs in: flow, task id, run id, attempt, parameters.

use crate::TaskError;
use crate::bindings::wflow::task::types;

/// The value of a flow parameter, typed as the manifest declares it.
///
/// A `path` parameter arrives as [`ParamValue::Text`] holding an absolute
/// path, which names a file on the host: a task cannot open it.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// A `string` or `path` parameter.
    Text(String),
    /// An `integer` parameter.
    Integer(i64),
    /// A `float` parameter.
    Float(f64),
    /// A `boolean` parameter.
    Boolean(bool),
}

/// The run information passed to a task.
#[derive(Debug, Clone)]
pub struct Context {
    flow: String,
    task: String,
    run_id: String,
    attempt: u32,
    params: Vec<(String, ParamValue)>,
}

impl Context {
    pub(crate) fn from_raw(raw: types::Context) -> Self {
        let params = raw
            .params
            .into_iter()
            .map(|param| {
                let value = match param.value {
                    types::ParamValue::Text(text) => ParamValue::Text(text),
                    types::ParamValue::Integer(number) => ParamValue::Integer(number),
                    types::ParamValue::Float(number) => ParamValue::Float(number),
                    types::ParamValue::Boolean(flag) => ParamValue::Boolean(flag),
                };
                (param.name, value)
            })
            .collect();
        Context { flow: raw.flow, task: raw.task, run_id: raw.run_id, attempt: raw.attempt, params }
    }

    /// The flow's name from its manifest.
    pub fn flow(&self) -> &str {
        &self.flow
    }

    /// This task's id in the manifest.
    pub fn task(&self) -> &str {
        &self.task
    }

    /// The id of this flow run. Output that depends on it must not be cached.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The attempt number, starting at 1.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The parameters that the manifest passes to this task, sorted by name.
    pub fn params(&self) -> impl Iterator<Item = (&str, &ParamValue)> {
        self.params.iter().map(|(name, value)| (name.as_str(), value))
    }

    /// Returns the parameter `name` converted to `T`: `String`, `i64`, `f64`
    /// or `bool`.
    ///
    /// Fails with a fatal error when the manifest does not pass the parameter
    /// to this task or when its type does not convert to `T`. An `integer`
    /// parameter also converts to `f64`.
    ///
    /// ```no_run
    /// # use wflow_guest::{Context, Result};
    /// fn run(ctx: &Context, rows: Vec<i64>) -> Result<Vec<i64>> {
    ///     // The manifest lists `threshold` in this task's `params`.
    ///     let threshold: i64 = ctx.param("threshold")?;
    ///     Ok(rows.into_iter().filter(|delay| *delay >= threshold).collect())
    /// }
    /// # wflow_guest::task!(run);
    /// ```
    pub fn param<T: FromParam>(&self, name: &str) -> Result<T, TaskError> {
        let Some((_, value)) = self.params.iter().find(|(key, _)| key == name) else {
            let known: Vec<&str> = self.params.iter().map(|(key, _)| key.as_str()).collect();
            return Err(TaskError::fatal(format!(
                "parameter `{name}` is not passed to task `{}` (passed: {}); \
                 add it to the task's `params` list in the manifest",
                self.task,
                if known.is_empty() { "none".to_string() } else { known.join(", ") },
            )));
        };
        T::from_param(value).ok_or_else(|| {
            TaskError::fatal(format!("parameter `{name}` has value {value:?}, which is not {}", T::EXPECTED))
        })
    }
}

/// A Rust type that a parameter value converts to.
pub trait FromParam: Sized {
    /// What the type expects, for error messages: "an integer".
    const EXPECTED: &'static str;

    /// Converts the value, or returns `None` when the types do not match.
    fn from_param(value: &ParamValue) -> Option<Self>;
}

impl FromParam for i64 {
    const EXPECTED: &'static str = "an integer";

    fn from_param(value: &ParamValue) -> Option<Self> {
        match value {
            ParamValue::Integer(number) => Some(*number),
            _ => None,
        }
    }
}

impl FromParam for f64 {
    const EXPECTED: &'static str = "a number";

    fn from_param(value: &ParamValue) -> Option<Self> {
        match value {
            ParamValue::Float(number) => Some(*number),
            ParamValue::Integer(number) => Some(*number as f64),
            _ => None,
        }
    }
}

impl FromParam for bool {
    const EXPECTED: &'static str = "a boolean";

    fn from_param(value: &ParamValue) -> Option<Self> {
        match value {
            ParamValue::Boolean(flag) => Some(*flag),
            _ => None,
        }
    }
}

impl FromParam for String {
    const EXPECTED: &'static str = "a string";

    fn from_param(value: &ParamValue) -> Option<Self> {
        match value {
            ParamValue::Text(text) => Some(text.clone()),
            _ => None,
        }
    }
}

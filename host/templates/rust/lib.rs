//! The wflow task `{{name}}`: greets the name in its input.
//!
//! Input: `{"name": "..."}`. Output: `{"greeting": "..."}`. The greeting
//! word comes from the flow parameter `greeting`.

use serde::{Deserialize, Serialize};
use wflow_guest::{Context, Result, TaskError};

#[derive(Deserialize)]
struct Input {
    name: String,
}

#[derive(Serialize)]
struct Output {
    greeting: String,
}

fn run(ctx: &Context, input: Input) -> Result<Output> {
    if input.name.trim().is_empty() {
        // Fatal: the same input would fail again. Use
        // `TaskError::retryable` for a failure that a retry could help.
        return Err(TaskError::fatal("input field `name` is empty; give a name to greet"));
    }
    let word: String = ctx.param("greeting")?;
    wflow_guest::info!("{}: greeting {}", ctx.task(), input.name);
    Ok(Output { greeting: format!("{word}, {}!", input.name) })
}

wflow_guest::task!(run);

//! Extract: parses the raw flights file and passes its rows on unchanged.

use serde_json::Value;
use wflow_guest::{Bytes, Context, ErrorContext, Result, TaskError};

/// Parses the flights file, which must be a JSON array, and returns its rows.
fn run(_ctx: &Context, input: Bytes) -> Result<Vec<Value>> {
    let document: Value = serde_json::from_slice(&input.0).context("flights file is not valid JSON")?;

    let Value::Array(rows) = document else {
        return Err(TaskError::fatal(format!(
            "flights file must be a JSON array of rows, but it is {}",
            describe_json_type(&document)
        )));
    };

    wflow_guest::info!("read {} rows", rows.len());
    Ok(rows)
}

fn describe_json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

wflow_guest::task!(run);

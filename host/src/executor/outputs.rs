//! Writing the flow's output files from task outputs.

use std::collections::HashMap;
use std::sync::Arc;

use super::report::OutputReport;
use crate::manifest::OutputSpec;
use crate::runtime::write_atomically;

/// Writes each output whose task has an output; the others are reported as
/// not written. Files are replaced atomically.
pub(crate) fn write_all(specs: &[OutputSpec], outputs: &HashMap<String, Arc<Vec<u8>>>) -> Vec<OutputReport> {
    specs
        .iter()
        .map(|spec| {
            let result = match outputs.get(&spec.task) {
                None => Err(format!("not written because task `{}` did not complete", spec.task)),
                Some(output) => select(spec, output).and_then(|bytes| write(spec, &bytes)),
            };
            match result {
                Ok(bytes) => OutputReport { task: spec.task.clone(), path: spec.path.clone(), bytes: Some(bytes), error: None },
                Err(error) => OutputReport { task: spec.task.clone(), path: spec.path.clone(), bytes: None, error: Some(error) },
            }
        })
        .collect()
}

/// The bytes to write: the whole output, or the part a JSON pointer selects
/// (a JSON string as its text, any other value as pretty JSON).
fn select(spec: &OutputSpec, output: &[u8]) -> Result<Vec<u8>, String> {
    let Some(pointer) = &spec.pointer else {
        return Ok(output.to_vec());
    };
    let document: serde_json::Value = serde_json::from_slice(output).map_err(|error| {
        format!("the output of task `{}` is not JSON ({error}), so pointer `{pointer}` cannot select from it", spec.task)
    })?;
    let Some(selected) = document.pointer(pointer) else {
        return Err(format!("pointer `{pointer}` selects nothing in the output of task `{}`", spec.task));
    };
    Ok(match selected {
        serde_json::Value::String(text) => text.clone().into_bytes(),
        other => {
            let mut bytes = serde_json::to_vec_pretty(other).expect("a JSON value always serializes");
            bytes.push(b'\n');
            bytes
        }
    })
}

fn write(spec: &OutputSpec, bytes: &[u8]) -> Result<u64, String> {
    if let Some(parent) = spec.path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|error| format!("failed to create folder `{}`: {error}", parent.display()))?;
    }
    write_atomically(&spec.path, bytes).map_err(|error| format!("{error:#}"))?;
    Ok(bytes.len() as u64)
}

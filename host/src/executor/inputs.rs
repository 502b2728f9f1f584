//! Assembly of a task's input bytes from a file, a parameter or upstream
//! outputs.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::value::RawValue;

use crate::manifest::{InputSpec, ParamValue};

/// Returns the input bytes of a task, or a reason for the user.
///
/// `outputs` contains the output of every upstream task, which the executor
/// guarantees before it starts the task.
pub(crate) async fn assemble(
    input: &InputSpec,
    values: &BTreeMap<String, ParamValue>,
    outputs: &HashMap<String, Arc<Vec<u8>>>,
) -> Result<Arc<Vec<u8>>, String> {
    match input {
        InputSpec::None => Ok(Arc::new(Vec::new())),
        InputSpec::File(path) => tokio::fs::read(path)
            .await
            .map(Arc::new)
            .map_err(|error| format!("failed to read input file `{}`: {error}", path.display())),
        InputSpec::Param(name) => {
            let json = values[name].to_json();
            Ok(Arc::new(serde_json::to_vec(&json).expect("a JSON value always serializes")))
        }
        InputSpec::Task(id) | InputSpec::Map(id) => Ok(outputs[id].clone()),
        InputSpec::Tasks(ids) => combine(ids, outputs).map(Arc::new),
    }
}

/// Builds `{"a": <output of a>, "b": <output of b>}` without re-encoding the
/// outputs, after checking that each is valid JSON.
fn combine(ids: &[String], outputs: &HashMap<String, Arc<Vec<u8>>>) -> Result<Vec<u8>, String> {
    let total: usize = ids.iter().map(|id| outputs[id].len() + id.len() + 4).sum();
    let mut combined = Vec::with_capacity(total + 2);
    combined.push(b'{');
    for (index, id) in ids.iter().enumerate() {
        let output = &outputs[id];
        if let Err(error) = serde_json::from_slice::<&RawValue>(output) {
            return Err(format!(
                "the output of task `{id}` is not JSON ({error}), so it cannot be combined with \
                 other outputs; read it alone with input = {{ task = \"{id}\" }}"
            ));
        }
        if index > 0 {
            combined.push(b',');
        }
        serde_json::to_writer(&mut combined, id).expect("a string always serializes");
        combined.push(b':');
        combined.extend_from_slice(output);
    }
    combined.push(b'}');
    Ok(combined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combine_keys_outputs_by_task_id() {
        let outputs = HashMap::from([
            ("a".to_string(), Arc::new(b"[1, 2]".to_vec())),
            ("b".to_string(), Arc::new(b"{\"x\": \"y\"}".to_vec())),
        ]);
        let combined = combine(&["a".into(), "b".into()], &outputs).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&combined).unwrap();
        assert_eq!(value, serde_json::json!({"a": [1, 2], "b": {"x": "y"}}));
    }

    #[test]
    fn combine_rejects_output_that_is_not_json() {
        let outputs = HashMap::from([("a".to_string(), Arc::new(b"not json".to_vec()))]);
        let error = combine(&["a".into()], &outputs).unwrap_err();
        assert!(error.starts_with("the output of task `a` is not JSON"), "{error}");
    }
}

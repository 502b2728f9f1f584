//! Writing the flow's output files from task outputs.

use std::collections::HashMap;
use std::sync::Arc;

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use super::report::OutputReport;
use crate::manifest::OutputSpec;

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
                Ok(bytes) => {
                    OutputReport { task: spec.task.clone(), path: spec.path.clone(), bytes: Some(bytes), error: None }
                }
                Err(error) => {
                    OutputReport { task: spec.task.clone(), path: spec.path.clone(), bytes: None, error: Some(error) }
                }
            }
        })
        .collect()
}

/// Selects the bytes to write: the whole output, or the part a JSON pointer selects
/// (a JSON string as its text, any other value as pretty JSON).
fn select(spec: &OutputSpec, output: &[u8]) -> Result<Vec<u8>, String> {
    let Some(pointer) = &spec.pointer else {
        return Ok(output.to_vec());
    };
    let document: serde_json::Value = serde_json::from_slice(output).map_err(|error| {
        format!(
            "the output of task `{}` is not JSON ({error}), so pointer `{pointer}` cannot select from it",
            spec.task
        )
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
    let target = resolve_symlink(&spec.path)?;
    let permissions = match std::fs::metadata(&target) {
        Ok(metadata) if !metadata.is_file() => {
            return Err(format!(
                "`{}` exists and is not a regular file, so it was not replaced; choose another output path",
                target.display()
            ));
        }
        Ok(metadata) => metadata.permissions(),
        // A new file gets the usual mode, which the process umask narrows.
        Err(_) => std::fs::Permissions::from_mode(0o666),
    };
    let folder = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder)
        .map_err(|error| format!("failed to create folder `{}`: {error}", folder.display()))?;

    let mut file = tempfile::Builder::new()
        .prefix(".wflow-output-")
        .permissions(permissions)
        .tempfile_in(folder)
        .map_err(|error| format!("failed to create a file in `{}`: {error}", folder.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.as_file().sync_all())
        .map_err(|error| format!("failed to write `{}`: {error}", target.display()))?;
    file.persist(&target).map_err(|error| format!("failed to replace `{}`: {}", target.display(), error.error))?;
    Ok(bytes.len() as u64)
}

/// Follows `path` through symbolic links, so that the link's target is
/// replaced and the link stays. A path that is no link is returned as it is.
fn resolve_symlink(path: &Path) -> Result<PathBuf, String> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                let link = std::fs::read_link(&current)
                    .map_err(|error| format!("failed to read link `{}`: {error}", current.display()))?;
                current = current.parent().unwrap_or(Path::new("/")).join(link);
            }
            _ => return Ok(current),
        }
    }
    Err(format!("`{}` is a chain of more than 40 symbolic links", path.display()))
}

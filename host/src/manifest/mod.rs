//! The flow manifest: a TOML file that names a flow, its typed parameters,
//! its tasks and the files written from their outputs.
//!
//! Loading goes in two steps: serde parses the text into the `schema` types,
//! which keep the span of every value, then `validate` checks them all and
//! builds a [`Flow`] with absolute paths and bound parameter values. Any
//! problem is a [`Diagnostic`] with its file, line and column.

mod diagnostic;
mod model;
mod params;
mod schema;
mod template;
mod units;
mod validate;

use std::path::Path;

pub use diagnostic::{Diagnostic, Location, ManifestError};
pub use model::{CachePolicy, Flow, InputSpec, Limits, OutputSpec, RetryPolicy, TaskSpec};
pub use params::{ParamOverride, ParamSpec, ParamType, ParamValue};
pub use units::display_bytes;
pub use validate::{DEFAULT_FUEL, DEFAULT_MEMORY_BYTES, DEFAULT_TIMEOUT};

pub(crate) use diagnostic::SourceMap;
pub(crate) use params::absolute;
pub(crate) use units::parse_duration;

/// Loads and validates the manifest at `path` with `overrides` applied.
///
/// Relative paths in the manifest resolve against its folder; `path` itself
/// and relative `path` parameters given in `overrides` resolve against `cwd`.
pub fn load(path: &Path, overrides: &[ParamOverride], cwd: &Path) -> Result<Flow, ManifestError> {
    let manifest_path = absolute(cwd, path);
    let text = std::fs::read_to_string(&manifest_path)
        .map_err(|source| ManifestError::Read { path: path.to_path_buf(), source })?;
    let map = SourceMap::new(path, &text);

    let raw: schema::RawManifest = match toml::from_str(&text) {
        Ok(raw) => raw,
        Err(error) => {
            let diagnostic = syntax_diagnostic(&map, &error);
            return Err(ManifestError::Invalid { diagnostics: vec![diagnostic] });
        }
    };

    let manifest_dir = manifest_path.parent().unwrap_or(Path::new("/")).to_path_buf();
    validate::Checker::new(map, &manifest_dir, cwd)
        .check(raw, manifest_path.clone(), blake3::hash(text.as_bytes()).to_hex().to_string(), overrides)
        .map_err(|diagnostics| ManifestError::Invalid { diagnostics })
}

/// Replaces the names of this crate's schema types in a serde message, such
/// as "expected struct RawRetry", with what the manifest should contain.
fn readable_types(message: &str) -> String {
    let mut readable = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(index) = rest.find("struct Raw") {
        readable.push_str(&rest[..index]);
        let after = &rest[index + "struct Raw".len()..];
        let name_end = after.find(|character: char| !character.is_ascii_alphanumeric()).unwrap_or(after.len());
        readable.push_str("a table");
        rest = &after[name_end..];
    }
    readable.push_str(rest);
    readable
}

/// Turns a TOML or serde error into a diagnostic with a hint for common cases.
fn syntax_diagnostic(map: &SourceMap<'_>, error: &toml::de::Error) -> Diagnostic {
    let location = match error.span() {
        Some(span) => map.locate(span.start),
        None => map.whole(),
    };
    let message = readable_types(&error.message().trim_end().replace('\n', " "));
    let help = if message.starts_with("unknown field") {
        Some("remove the key or correct its spelling; docs/manifest.md lists every key")
    } else if message.starts_with("missing field `flow`") {
        Some("add a [flow] table with a `name`")
    } else if message.starts_with("missing field") {
        Some("add the key; docs/manifest.md lists the keys each table needs")
    } else if message.starts_with("invalid type") {
        Some("docs/manifest.md gives the type of every key")
    } else {
        None
    };
    let diagnostic = Diagnostic::new(location, message);
    match help {
        Some(help) => diagnostic.with_help(help),
        None => diagnostic,
    }
}

#[cfg(test)]
mod tests {
    use super::readable_types;

    #[test]
    fn schema_type_names_are_hidden() {
        assert_eq!(
            readable_types("invalid type: string \"3\", expected struct RawRetry"),
            "invalid type: string \"3\", expected a table"
        );
        assert_eq!(readable_types("expected a boolean"), "expected a boolean");
    }
}

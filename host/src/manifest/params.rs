//! Typed flow parameters: their declared types, their values, and how a
//! `--param` string or a TOML default becomes a value.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// The type a manifest declares for a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    String,
    Integer,
    Float,
    Boolean,
    /// A file or folder path, made absolute when the flow is loaded.
    Path,
}

impl ParamType {
    pub(crate) const NAMES: &'static str = "string, integer, float, boolean, path";

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "string" => Some(ParamType::String),
            "integer" => Some(ParamType::Integer),
            "float" => Some(ParamType::Float),
            "boolean" => Some(ParamType::Boolean),
            "path" => Some(ParamType::Path),
            _ => None,
        }
    }

    /// A phrase for error messages: "an integer, such as 10".
    fn expectation(self) -> &'static str {
        match self {
            ParamType::String => "a string",
            ParamType::Integer => "an integer, such as 10",
            ParamType::Float => "a number, such as 2.5",
            ParamType::Boolean => "`true` or `false`",
            ParamType::Path => "a path, such as data/input.json",
        }
    }

    /// Parses a command-line value; a relative path is resolved against `cwd`.
    pub(crate) fn parse_argument(self, text: &str, cwd: &Path) -> Result<ParamValue, String> {
        let value = match self {
            ParamType::String => ParamValue::String(text.to_string()),
            ParamType::Integer => ParamValue::Integer(text.trim().parse().map_err(|_| self.mismatch(text))?),
            ParamType::Float => {
                let number: f64 = text.trim().parse().map_err(|_| self.mismatch(text))?;
                if !number.is_finite() {
                    return Err(self.mismatch(text));
                }
                ParamValue::Float(number)
            }
            ParamType::Boolean => match text.trim() {
                "true" => ParamValue::Boolean(true),
                "false" => ParamValue::Boolean(false),
                _ => return Err(self.mismatch(text)),
            },
            ParamType::Path => {
                if text.is_empty() {
                    return Err(self.mismatch(text));
                }
                ParamValue::Path(absolute(cwd, Path::new(text)))
            }
        };
        Ok(value)
    }

    /// Converts a manifest default; a relative path is resolved against `base`.
    pub(crate) fn convert_default(self, value: &toml::Value, base: &Path) -> Result<ParamValue, String> {
        let converted = match (self, value) {
            (ParamType::String, toml::Value::String(text)) => ParamValue::String(text.clone()),
            (ParamType::Integer, toml::Value::Integer(number)) => ParamValue::Integer(*number),
            (ParamType::Float, toml::Value::Float(number)) if number.is_finite() => ParamValue::Float(*number),
            (ParamType::Float, toml::Value::Integer(number)) => ParamValue::Float(*number as f64),
            (ParamType::Boolean, toml::Value::Boolean(flag)) => ParamValue::Boolean(*flag),
            (ParamType::Path, toml::Value::String(text)) if !text.is_empty() => {
                ParamValue::Path(absolute(base, Path::new(text)))
            }
            (_, other) => {
                return Err(format!(
                    "default value {other} does not match the declared type: expected {}",
                    self.expectation()
                ));
            }
        };
        Ok(converted)
    }

    fn mismatch(self, text: &str) -> String {
        format!("invalid value `{text}`: expected {}", self.expectation())
    }
}

impl fmt::Display for ParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            ParamType::String => "string",
            ParamType::Integer => "integer",
            ParamType::Float => "float",
            ParamType::Boolean => "boolean",
            ParamType::Path => "path",
        };
        f.write_str(name)
    }
}

/// The value of a parameter after defaults and overrides are applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ParamValue {
    String(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    /// An absolute path.
    Path(PathBuf),
}

impl ParamValue {
    /// The value as it is substituted into a `${NAME}` template.
    pub fn to_template_text(&self) -> String {
        match self {
            ParamValue::String(text) => text.clone(),
            ParamValue::Integer(number) => number.to_string(),
            ParamValue::Float(number) => number.to_string(),
            ParamValue::Boolean(flag) => flag.to_string(),
            ParamValue::Path(path) => path.display().to_string(),
        }
    }

    /// The value as JSON, the input bytes of a task whose input is a parameter.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a parameter value is always representable as JSON")
    }
}

/// A declared parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    pub name: String,
    pub kind: ParamType,
    pub description: Option<String>,
    /// `None` when the parameter is required.
    pub default: Option<ParamValue>,
}

/// A `--param NAME=VALUE` argument, before it is checked against the flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamOverride {
    pub name: String,
    pub value: String,
}

impl std::str::FromStr for ParamOverride {
    type Err = String;

    fn from_str(argument: &str) -> Result<Self, Self::Err> {
        let Some((name, value)) = argument.split_once('=') else {
            return Err(format!("`{argument}` is not of the form NAME=VALUE, such as min_flights=20"));
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(format!("`{argument}` has no parameter name before `=`"));
        }
        Ok(ParamOverride { name: name.to_string(), value: value.to_string() })
    }
}

/// Joins a relative path to `base`; an absolute path is returned unchanged.
pub(crate) fn absolute(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() { path.to_path_buf() } else { base.join(path) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_parsing_follows_declared_type() {
        let cwd = Path::new("/work");
        assert_eq!(ParamType::Integer.parse_argument("20", cwd), Ok(ParamValue::Integer(20)));
        assert_eq!(ParamType::Float.parse_argument("2.5", cwd), Ok(ParamValue::Float(2.5)));
        assert_eq!(ParamType::Boolean.parse_argument("true", cwd), Ok(ParamValue::Boolean(true)));
        assert_eq!(
            ParamType::Path.parse_argument("data/x.json", cwd),
            Ok(ParamValue::Path(PathBuf::from("/work/data/x.json")))
        );
        assert_eq!(
            ParamType::Path.parse_argument("/abs/x.json", cwd),
            Ok(ParamValue::Path(PathBuf::from("/abs/x.json")))
        );
    }

    #[test]
    fn argument_type_mismatch_names_value_and_type() {
        let error = ParamType::Integer.parse_argument("ten", Path::new("/")).unwrap_err();
        assert_eq!(error, "invalid value `ten`: expected an integer, such as 10");
        assert!(ParamType::Float.parse_argument("NaN", Path::new("/")).is_err());
        assert!(ParamType::Boolean.parse_argument("yes", Path::new("/")).is_err());
    }

    #[test]
    fn override_requires_name_and_equals() {
        let parsed: ParamOverride = "out=a=b".parse().unwrap();
        assert_eq!(parsed, ParamOverride { name: "out".into(), value: "a=b".into() });
        assert!("novalue".parse::<ParamOverride>().is_err());
        assert!("=5".parse::<ParamOverride>().is_err());
    }
}

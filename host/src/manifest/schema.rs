//! The manifest as written: serde types that keep the span of every value, so
//! that validation can point at the line and column of a problem.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawManifest {
    pub flow: Spanned<RawFlow>,
    #[serde(default)]
    pub params: BTreeMap<Spanned<String>, Spanned<RawParam>>,
    pub defaults: Option<Spanned<RawSettings>>,
    #[serde(default)]
    pub tasks: Vec<Spanned<RawTask>>,
    #[serde(default)]
    pub outputs: Vec<Spanned<RawOutput>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFlow {
    pub name: Spanned<String>,
    pub description: Option<String>,
    pub timeout: Option<Spanned<String>>,
    pub max_parallel: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawParam {
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    pub default: Option<Spanned<toml::Value>>,
    pub description: Option<String>,
}

/// Settings that `[defaults]` sets for every task and a task may override.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSettings {
    pub fuel: Option<Spanned<toml::Value>>,
    pub memory: Option<Spanned<toml::Value>>,
    pub cache: Option<Spanned<bool>>,
    pub cache_ttl: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub retry: Option<Spanned<RawRetry>>,
}

/// A `retry` table; a task's table overrides `[defaults]` key by key.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRetry {
    pub attempts: Option<Spanned<i64>>,
    pub delay: Option<Spanned<String>>,
    pub backoff: Option<Spanned<f64>>,
    pub max_delay: Option<Spanned<String>>,
    pub jitter: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTask {
    pub id: Spanned<String>,
    pub component: Spanned<String>,
    pub input: Option<Spanned<RawInput>>,
    #[serde(default)]
    pub params: Vec<Spanned<String>>,
    pub fuel: Option<Spanned<toml::Value>>,
    pub memory: Option<Spanned<toml::Value>>,
    pub cache: Option<Spanned<bool>>,
    pub cache_ttl: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub retry: Option<Spanned<RawRetry>>,
}

/// An `input` table; validation checks that exactly one key is set.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInput {
    pub file: Option<Spanned<String>>,
    pub param: Option<Spanned<String>>,
    pub task: Option<Spanned<String>>,
    pub tasks: Option<Spanned<Vec<Spanned<String>>>>,
    pub map: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOutput {
    pub task: Spanned<String>,
    pub pointer: Option<Spanned<String>>,
    pub path: Spanned<String>,
}

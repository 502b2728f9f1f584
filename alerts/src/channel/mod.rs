//! Channel configuration and the sending of one delivery attempt.

mod command;
mod http;
mod slack;
mod webhook;

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use command::{CommandConfig, STDERR_TAIL_BYTES};
pub use slack::SlackConfig;
pub use webhook::WebhookConfig;

use crate::alert::Alert;
use crate::config::ConfigError;
use crate::secret::{SecretRef, Secrets};

/// Default per-attempt timeout of webhook and Slack channels.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Default per-attempt timeout of command channels.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// One channel of a `[[notify.channels]]` list, selected by its `type` key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChannelConfig {
    /// `type = "webhook"`: POST the alert as JSON.
    Webhook(WebhookConfig),
    /// `type = "slack"`: POST a Slack incoming-webhook message.
    Slack(SlackConfig),
    /// `type = "command"`: run a program with the alert JSON on stdin.
    Command(CommandConfig),
}

impl ChannelConfig {
    /// Returns the channel type.
    pub fn kind(&self) -> ChannelKind {
        match self {
            ChannelConfig::Webhook(_) => ChannelKind::Webhook,
            ChannelConfig::Slack(_) => ChannelKind::Slack,
            ChannelConfig::Command(_) => ChannelKind::Command,
        }
    }

    /// Returns the `name` set in the configuration, if any.
    pub fn name(&self) -> Option<&str> {
        match self {
            ChannelConfig::Webhook(config) => config.name.as_deref(),
            ChannelConfig::Slack(config) => config.name.as_deref(),
            ChannelConfig::Command(config) => config.name.as_deref(),
        }
    }

    /// Returns the per-attempt timeout.
    pub fn timeout(&self) -> Duration {
        match self {
            ChannelConfig::Webhook(config) => config.timeout,
            ChannelConfig::Slack(config) => config.timeout,
            ChannelConfig::Command(config) => config.timeout,
        }
    }

    /// Returns each secret reference of the channel, with the field that
    /// holds it named as delivery errors name it.
    pub fn secret_refs(&self) -> Vec<(String, &SecretRef)> {
        match self {
            ChannelConfig::Webhook(config) => std::iter::once(("`url`".to_string(), &config.url))
                .chain(config.headers.iter().map(|(name, reference)| (format!("header `{name}`"), reference)))
                .collect(),
            ChannelConfig::Slack(config) => vec![("`url`".to_string(), &config.url)],
            ChannelConfig::Command(config) => {
                config.env.iter().map(|(name, reference)| (format!("`env.{name}`"), reference)).collect()
            }
        }
    }

    /// Checks the parts of the configuration that do not depend on secrets.
    pub(crate) fn validate(&self, channel: &str) -> Result<(), ConfigError> {
        if self.timeout().is_zero() {
            return Err(ConfigError::ZeroTimeout { channel: channel.to_string() });
        }
        match self {
            ChannelConfig::Webhook(config) => config.validate(channel),
            ChannelConfig::Slack(_) => Ok(()),
            ChannelConfig::Command(config) => config.validate(channel),
        }
    }

    /// Resolves the channel's secrets and builds what each attempt sends.
    /// The error names the field and the reference, never a value.
    pub(crate) fn prepare(&self, alert: &Alert, secrets: &Secrets) -> Result<Prepared, String> {
        match self {
            ChannelConfig::Webhook(config) => config.prepare(alert, secrets),
            ChannelConfig::Slack(config) => config.prepare(alert, secrets),
            ChannelConfig::Command(config) => config.prepare(alert, secrets),
        }
    }
}

/// Type of a channel, as written in its `type` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// A JSON webhook.
    Webhook,
    /// A Slack incoming webhook.
    Slack,
    /// A local program.
    Command,
}

impl ChannelKind {
    /// Returns the name used in configuration and in [`crate::Delivery`].
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Webhook => "webhook",
            ChannelKind::Slack => "slack",
            ChannelKind::Command => "command",
        }
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A delivery with its secrets resolved, ready to send one attempt after
/// another.
pub(crate) struct Prepared {
    target: Target,
    /// Resolved secret values, removed from error text before it leaves
    /// the crate.
    secret_values: Vec<String>,
}

enum Target {
    Http(http::HttpRequest),
    Command(command::Invocation),
}

impl Prepared {
    /// Sends one attempt.
    pub(crate) async fn send(&self, client: &reqwest::Client) -> Result<(), AttemptError> {
        match &self.target {
            Target::Http(request) => request.send(client).await,
            Target::Command(invocation) => invocation.run().await,
        }
    }

    fn new(target: Target, mut secret_values: Vec<String>) -> Self {
        // Sorted from the longest value down, so that a URL is replaced whole
        // before its path.
        // A value such as `Bearer TOKEN` may be echoed in parts, so each
        // part of 8 characters or more is a secret too.
        let parts: Vec<String> = secret_values
            .iter()
            .flat_map(|value| value.split_whitespace().filter(|part| part.len() >= 8 && *part != value.as_str()))
            .map(str::to_string)
            .collect();
        secret_values.extend(parts);
        secret_values.retain(|value| !value.is_empty());
        secret_values.sort_by_key(|value| std::cmp::Reverse(value.len()));
        secret_values.dedup();
        Prepared { target, secret_values }
    }

    /// Replaces every resolved secret value in `text` with `[redacted]`.
    ///
    /// This is a second line of defense: errors are built without URLs and
    /// header values, but a server's response body or a command's stderr
    /// may echo a secret back.
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut text = text.to_string();
        for value in &self.secret_values {
            if text.contains(value.as_str()) {
                text = text.replace(value.as_str(), "[redacted]");
            }
        }
        text
    }
}

/// A failed attempt.
#[derive(Debug)]
pub(crate) struct AttemptError {
    /// Description of the failure, free of secrets once
    /// [`Prepared::redact`] has run.
    pub(crate) message: String,
    /// Whether another attempt may succeed.
    pub(crate) retryable: bool,
    /// Minimum wait before the next attempt that the receiver requested
    /// with `Retry-After`.
    pub(crate) retry_after: Option<Duration>,
}

impl AttemptError {
    pub(crate) fn retryable(message: impl Into<String>) -> Self {
        AttemptError { message: message.into(), retryable: true, retry_after: None }
    }

    pub(crate) fn permanent(message: impl Into<String>) -> Self {
        AttemptError { message: message.into(), retryable: false, retry_after: None }
    }
}

fn default_http_timeout() -> Duration {
    DEFAULT_HTTP_TIMEOUT
}

fn default_command_timeout() -> Duration {
    DEFAULT_COMMAND_TIMEOUT
}

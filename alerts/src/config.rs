//! The `[notify]` table of a deployment and its validation errors.

use serde::Deserialize;

use crate::channel::ChannelConfig;
use crate::notify_on::NotifyOn;
use crate::retry::RetryPolicy;

/// Alert settings of a deployment: which events to send, how to retry and
/// where to send them. See the crate documentation for a TOML example.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// Events to send, from `[notify.on]`.
    #[serde(default)]
    pub on: NotifyOn,
    /// Retry policy, from `[notify.retry]`.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Channels, from `[[notify.channels]]`.
    #[serde(default)]
    pub channels: Vec<ChannelConfig>,
}

/// An invalid notifier configuration, found when the notifier is built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Two channels have the same name.
    #[error("two channels are named `{name}`; give each channel a unique `name`")]
    DuplicateName {
        /// The repeated name.
        name: String,
    },
    /// A channel's `name` is empty.
    #[error("channel {position} has an empty `name`; remove the key or set a name")]
    EmptyName {
        /// 1-based position of the channel in the list.
        position: usize,
    },
    /// A channel's timeout is zero.
    #[error("channel `{channel}` has a zero `timeout`; set a duration such as `10s`")]
    ZeroTimeout {
        /// Channel name.
        channel: String,
    },
    /// The retry policy allows no attempt.
    #[error("`retry.attempts` is 0; set it to 1 or more, where 1 means no retries")]
    ZeroAttempts,
    /// A webhook header name is not a valid HTTP header name.
    #[error("channel `{channel}` has header `{header}`, which is not a valid HTTP header name")]
    InvalidHeaderName {
        /// Channel name.
        channel: String,
        /// The header name as configured.
        header: String,
    },
    /// A command channel has an empty `program`.
    #[error("channel `{channel}` has an empty `program`; set it to a path or a program on PATH")]
    EmptyProgram {
        /// Channel name.
        channel: String,
    },
    /// A command channel's `env` has an unusable variable name.
    #[error("channel `{channel}` has environment variable `{name}` in `env`, which is not allowed: {reason}")]
    InvalidEnvName {
        /// Channel name.
        channel: String,
        /// The variable name as configured.
        name: String,
        /// Reason the name is not allowed.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("failed to build the HTTP client for alerts: {0}")]
    HttpClient(#[source] reqwest::Error),
}

//! Sending an alert to every channel, with retries, and the record of each
//! delivery.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::alert::Alert;
use crate::channel::{ChannelConfig, ChannelKind, Prepared};
use crate::config::{ConfigError, NotifyConfig};
use crate::retry::RetryPolicy;
use crate::secret::Secrets;

/// Sends alerts to a fixed list of channels.
///
/// Secret references are resolved at each delivery, so changes to the
/// environment apply to the next alert. Changes to the secrets file apply
/// once the program loads a new [`Secrets`] and builds a new notifier.
#[derive(Debug, Clone)]
pub struct Notifier {
    channels: Vec<NamedChannel>,
    secrets: Arc<Secrets>,
    client: reqwest::Client,
    retry: RetryPolicy,
}

#[derive(Debug, Clone)]
struct NamedChannel {
    name: String,
    config: ChannelConfig,
}

impl Notifier {
    /// Builds a notifier with the default [`RetryPolicy`] and its own HTTP
    /// client.
    ///
    /// A channel without a `name` is named after its type and 1-based
    /// position, such as `slack-2`. Fails on duplicate or empty names, zero
    /// timeouts, invalid header or variable names and empty programs. It
    /// does not resolve secrets.
    pub fn new(channels: Vec<ChannelConfig>, secrets: Arc<Secrets>) -> Result<Self, ConfigError> {
        let mut named = Vec::with_capacity(channels.len());
        let mut seen = HashSet::new();
        for (index, config) in channels.into_iter().enumerate() {
            let position = index + 1;
            let name = match config.name() {
                Some("") => return Err(ConfigError::EmptyName { position }),
                Some(name) => name.to_string(),
                None => format!("{}-{position}", config.kind()),
            };
            if !seen.insert(name.clone()) {
                return Err(ConfigError::DuplicateName { name });
            }
            config.validate(&name)?;
            named.push(NamedChannel { name, config });
        }

        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("wflow-alerts/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ConfigError::HttpClient)?;

        Ok(Notifier { channels: named, secrets, client, retry: RetryPolicy::default() })
    }

    /// Builds a notifier from the channels and retry policy of a `[notify]`
    /// table.
    pub fn from_config(config: &NotifyConfig, secrets: Arc<Secrets>) -> Result<Self, ConfigError> {
        Notifier::new(config.channels.clone(), secrets)?.with_retry(config.retry)
    }

    /// Replaces the retry policy. Fails if it allows no attempt.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Result<Self, ConfigError> {
        if retry.attempts == 0 {
            return Err(ConfigError::ZeroAttempts);
        }
        self.retry = retry;
        Ok(self)
    }

    /// Replaces the HTTP client, so that notifiers can share one connection
    /// pool. The client should not follow redirects, because a redirected
    /// POST is sent again as a GET without its body.
    pub fn with_http_client(mut self, client: reqwest::Client) -> Self {
        self.client = client;
        self
    }

    /// Returns the retry policy.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// Returns the name and configuration of each channel, in order.
    pub fn channels(&self) -> impl Iterator<Item = (&str, &ChannelConfig)> {
        self.channels.iter().map(|channel| (channel.name.as_str(), &channel.config))
    }

    /// Resolves every secret reference of every channel now, and returns
    /// one message for each that fails, naming the channel, the field and
    /// the reference, never a value. A program calls this when it loads
    /// the settings, so that a missing secret shows before an alert needs
    /// it.
    pub fn unresolved_secrets(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for channel in &self.channels {
            for (field, reference) in channel.config.secret_refs() {
                if let Err(error) = reference.resolve(&self.secrets) {
                    problems.push(format!("channel `{}`: failed to resolve {field}: {error}", channel.name));
                }
            }
        }
        problems
    }

    /// Sends `alert` to every channel concurrently and returns one delivery
    /// per channel, in channel order.
    ///
    /// Each channel gets up to `attempts` attempts, each bounded by the
    /// channel's timeout, so the call returns after at most about
    /// `attempts × timeout` plus the backoff waits. Failures are returned
    /// in the deliveries and logged at warn level. Must be called within a
    /// Tokio runtime, which reqwest and the command channel use.
    pub async fn deliver(&self, alert: &Alert) -> Vec<Delivery> {
        let sends = self.channels.iter().map(|channel| self.deliver_to(channel, alert));
        futures_util::future::join_all(sends).await
    }

    async fn deliver_to(&self, channel: &NamedChannel, alert: &Alert) -> Delivery {
        let started = Instant::now();
        let mut delivery = Delivery {
            channel: channel.name.clone(),
            kind: channel.config.kind(),
            delivered: false,
            attempts: 0,
            error: None,
            duration_ms: 0,
        };

        match channel.config.prepare(alert, &self.secrets) {
            Ok(prepared) => self.send_with_retries(&prepared, alert, &mut delivery).await,
            Err(error) => delivery.error = Some(error),
        }
        delivery.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);

        match &delivery.error {
            None => tracing::debug!(
                channel = %delivery.channel,
                r#type = %delivery.kind,
                run_id = %alert.run_id,
                event = %alert.event,
                attempts = delivery.attempts,
                "alert delivered"
            ),
            Some(error) => tracing::warn!(
                channel = %delivery.channel,
                r#type = %delivery.kind,
                run_id = %alert.run_id,
                event = %alert.event,
                attempts = delivery.attempts,
                error = %error,
                "alert delivery failed"
            ),
        }
        delivery
    }

    async fn send_with_retries(&self, prepared: &Prepared, alert: &Alert, delivery: &mut Delivery) {
        loop {
            delivery.attempts += 1;
            let error = match prepared.send(&self.client).await {
                Ok(()) => {
                    delivery.delivered = true;
                    delivery.error = None;
                    return;
                }
                Err(error) => error,
            };

            let message = prepared.redact(&error.message);
            if !error.retryable || delivery.attempts >= self.retry.attempts {
                delivery.error = Some(message);
                return;
            }

            let delay = self.retry.delay(delivery.attempts, error.retry_after);
            tracing::info!(
                channel = %delivery.channel,
                r#type = %delivery.kind,
                run_id = %alert.run_id,
                attempt = delivery.attempts,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                error = %message,
                "alert delivery attempt failed; retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }
}

/// The outcome of sending one alert to one channel, stored with the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Channel name.
    pub channel: String,
    /// Channel type, `type` in JSON.
    #[serde(rename = "type")]
    pub kind: ChannelKind,
    /// Whether an attempt succeeded.
    pub delivered: bool,
    /// Attempts made; 0 when the channel's secrets could not be resolved.
    pub attempts: u32,
    /// Error of the last attempt, or of resolving the channel's secrets,
    /// with secret values removed; absent when delivered.
    pub error: Option<String>,
    /// Time from the start of the delivery to its outcome, in milliseconds,
    /// including backoff waits.
    pub duration_ms: u64,
}

impl fmt::Display for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let attempts = if self.attempts == 1 { "attempt" } else { "attempts" };
        match &self.error {
            None => write!(
                f,
                "alert delivered to channel `{}` ({}) in {} {attempts}",
                self.channel, self.kind, self.attempts
            ),
            Some(error) => write!(
                f,
                "alert not delivered to channel `{}` ({}) after {} {attempts}: {error}",
                self.channel, self.kind, self.attempts
            ),
        }
    }
}

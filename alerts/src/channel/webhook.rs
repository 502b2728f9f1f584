//! The webhook channel: POST the alert as JSON.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;

use super::http::{HttpRequest, parse_url, url_secret_parts};
use super::{Prepared, Target, default_http_timeout};
use crate::alert::Alert;
use crate::config::ConfigError;
use crate::secret::{SecretRef, Secrets};

/// Configuration of a `type = "webhook"` channel.
///
/// ```toml
/// [[notify.channels]]
/// type = "webhook"
/// name = "ops"
/// url = { env = "OPS_WEBHOOK_URL" }
/// headers = { Authorization = { secret = "ops_token" } }
/// timeout = "5s"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Name in logs and deliveries, `webhook-N` by default, where N is the
    /// channel's 1-based position in the list.
    #[serde(default)]
    pub name: Option<String>,
    /// URL to POST to.
    pub url: SecretRef,
    /// Extra request headers. Each value is a secret reference holding the
    /// whole header value, such as `Bearer 0123abcd` for `Authorization`.
    #[serde(default)]
    pub headers: BTreeMap<String, SecretRef>,
    /// Per-attempt timeout, from connecting until the response body has
    /// been read; 10s by default.
    #[serde(default = "default_http_timeout", deserialize_with = "crate::duration::deserialize")]
    pub timeout: Duration,
}

impl WebhookConfig {
    pub(super) fn validate(&self, channel: &str) -> Result<(), ConfigError> {
        for name in self.headers.keys() {
            if HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(ConfigError::InvalidHeaderName { channel: channel.to_string(), header: name.clone() });
            }
        }
        Ok(())
    }

    pub(super) fn prepare(&self, alert: &Alert, secrets: &Secrets) -> Result<Prepared, String> {
        let url_secret = self.url.resolve(secrets).map_err(|error| format!("failed to resolve `url`: {error}"))?;
        let url = parse_url(&url_secret).map_err(|error| format!("invalid `url` from {}: {error}", self.url))?;
        let mut secret_values = url_secret_parts(&url_secret, &url);

        let mut headers = HeaderMap::new();
        for (name, reference) in &self.headers {
            let secret =
                reference.resolve(secrets).map_err(|error| format!("failed to resolve header `{name}`: {error}"))?;
            let header_name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("header name `{name}` is not a valid HTTP header name"))?;
            let mut value = HeaderValue::from_str(secret.expose()).map_err(|_| {
                format!("value of header `{name}` from {reference} contains characters not allowed in an HTTP header")
            })?;
            value.set_sensitive(true);
            headers.insert(header_name, value);
            secret_values.push(secret.expose().to_string());
        }

        let body = serde_json::to_vec(alert).map_err(|error| format!("failed to serialize the alert: {error}"))?;
        let request = HttpRequest { url, headers, body, timeout: self.timeout };
        Ok(Prepared::new(Target::Http(request), secret_values))
    }
}

//! The Slack channel: POST an incoming-webhook message.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{HttpRequest, parse_url, url_secret_parts};
use super::{Prepared, Target, default_http_timeout};
use crate::alert::{Alert, single_line, truncate_chars};
use crate::secret::{SecretRef, Secrets};

/// Maximum number of failed tasks listed in the message blocks.
const MAX_LISTED_TASKS: usize = 10;

/// Maximum number of characters of one task error in the message blocks.
const TASK_ERROR_CHARS: usize = 200;

/// Maximum number of characters of a section block's text, from the
/// section block entry of Slack's Block Kit reference. Slack rejects a
/// longer text with HTTP 400.
const SECTION_TEXT_CHARS: usize = 3000;

/// Configuration of a `type = "slack"` channel.
///
/// ```toml
/// [[notify.channels]]
/// type = "slack"
/// name = "team"
/// url = { secret = "slack_webhook" }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// Name in logs and deliveries, `slack-N` by default, where N is the
    /// channel's 1-based position in the list.
    #[serde(default)]
    pub name: Option<String>,
    /// Incoming-webhook URL.
    pub url: SecretRef,
    /// Per-attempt timeout, from connecting until the response body has
    /// been read; 10s by default.
    #[serde(default = "default_http_timeout", deserialize_with = "crate::duration::deserialize")]
    pub timeout: Duration,
}

impl SlackConfig {
    pub(super) fn prepare(&self, alert: &Alert, secrets: &Secrets) -> Result<Prepared, String> {
        let url_secret = self.url.resolve(secrets).map_err(|error| format!("failed to resolve `url`: {error}"))?;
        let url = parse_url(&url_secret).map_err(|error| format!("invalid `url` from {}: {error}", self.url))?;
        let secret_values = url_secret_parts(&url_secret, &url);

        let body = serde_json::to_vec(&slack_body(alert))
            .map_err(|error| format!("failed to serialize the Slack message: {error}"))?;
        let request = HttpRequest { url, headers: HeaderMap::new(), body, timeout: self.timeout };
        Ok(Prepared::new(Target::Http(request), secret_values))
    }
}

/// Builds the message body: `text` contains the alert's message, which Slack
/// shows in notifications, and `blocks` contains the message, the failed
/// tasks and the run link.
pub(crate) fn slack_body(alert: &Alert) -> Value {
    let text = escape(&alert.message());
    let mut blocks = vec![section(&text)];

    if !alert.failed_tasks.is_empty() {
        let mut lines = vec!["*Failed tasks*".to_string()];
        for task in alert.failed_tasks.iter().take(MAX_LISTED_TASKS) {
            let error = truncate_chars(&single_line(&task.error), TASK_ERROR_CHARS);
            lines.push(format!("• `{}`: {}", escape(&task.task), escape(&error)));
        }
        let unlisted = alert.failed_tasks.len().saturating_sub(MAX_LISTED_TASKS);
        if unlisted > 0 {
            lines.push(format!("… and {unlisted} more"));
        }
        blocks.push(section(&lines.join("\n")));
    }

    let mut context = format!("run `{}`", escape(&alert.run_id));
    if let Some(link) = &alert.link {
        context.push_str(&format!(": {}", escape(link)));
    }
    blocks.push(json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": context }] }));

    json!({ "text": text, "blocks": blocks })
}

fn section(text: &str) -> Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": truncate_chars(text, SECTION_TEXT_CHARS) } })
}

/// Escapes the three characters that Slack's mrkdwn reads as markup.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{Event, FailedTask};

    #[test]
    fn escape_markup() {
        assert_eq!(escape("a < b && c > d"), "a &lt; b &amp;&amp; c &gt; d");
    }

    #[test]
    fn body_lists_at_most_ten_tasks() {
        let mut alert = Alert::new(Event::Failed, "d", "f", "r", "failed", "2026-05-01T00:00:00Z".parse().unwrap());
        alert.failed_tasks = (0..12).map(|i| FailedTask { task: format!("t{i}"), error: "boom".to_string() }).collect();
        let body = slack_body(&alert);
        let tasks = body["blocks"][1]["text"]["text"].as_str().unwrap();
        assert_eq!(tasks.lines().count(), 1 + MAX_LISTED_TASKS + 1);
        assert!(tasks.ends_with("… and 2 more"), "{tasks}");
    }
}

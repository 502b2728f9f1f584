//! HTTP POST of a JSON body, shared by the webhook and Slack channels.

use std::error::Error as _;
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{StatusCode, Url};

use super::AttemptError;
use crate::alert::{single_line, truncate_chars};
use crate::secret::Secret;

/// Maximum number of characters of a response body kept in an error.
const BODY_EXCERPT_CHARS: usize = 300;

/// One POST request, sent once per attempt.
pub(super) struct HttpRequest {
    pub(super) url: Url,
    pub(super) headers: HeaderMap,
    pub(super) body: Vec<u8>,
    pub(super) timeout: Duration,
}

impl HttpRequest {
    /// Sends the request once and classifies the outcome: connection
    /// errors, timeouts, 408, 429 and 5xx responses may be retried, other
    /// non-2xx responses may not.
    pub(super) async fn send(&self, client: &reqwest::Client) -> Result<(), AttemptError> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in &self.headers {
            headers.insert(name, value.clone());
        }

        let request = client.post(self.url.clone()).headers(headers).body(self.body.clone()).timeout(self.timeout);
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return Err(transport_error(error, self.timeout)),
        };

        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = parse_retry_after(response.headers());
        let excerpt = read_excerpt(response).await;
        Err(status_error(status, &excerpt, retry_after))
    }
}

/// Parses a webhook URL from a secret. The error leaves out the URL.
pub(super) fn parse_url(secret: &Secret) -> Result<Url, String> {
    let url = Url::parse(secret.expose()).map_err(|error| format!("the value is not a valid URL ({error})"))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        scheme => Err(format!("the URL has scheme `{scheme}`; use an `https://` or `http://` URL")),
    }
}

/// Returns the strings to redact for a URL secret: the value as written,
/// the parsed URL, and its password, path and query. The path and query
/// are where webhook services such as Slack put the token.
pub(super) fn url_secret_parts(secret: &Secret, url: &Url) -> Vec<String> {
    let mut parts = vec![secret.expose().to_string(), url.as_str().to_string()];
    if let Some(password) = url.password() {
        parts.push(password.to_string());
    }
    if url.path() != "/" {
        parts.push(url.path().to_string());
    }
    if let Some(query) = url.query() {
        parts.push(query.to_string());
    }
    parts
}

/// Builds the error of a request that got no response.
fn transport_error(error: reqwest::Error, timeout: Duration) -> AttemptError {
    // reqwest errors print the request URL, which is a secret here.
    let error = error.without_url();
    if error.is_timeout() {
        return AttemptError::retryable(format!(
            "request timed out after {}; raise the channel's `timeout` if the receiver is slow",
            humantime::format_duration(timeout)
        ));
    }
    let message = format!("request failed: {}", error_chain(&error));
    if error.is_builder() { AttemptError::permanent(message) } else { AttemptError::retryable(message) }
}

/// Joins an error and its sources with `: `, leaving out a source whose
/// text the chain already contains.
fn error_chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Builds the error of a non-2xx response.
fn status_error(status: StatusCode, excerpt: &str, retry_after: Option<Duration>) -> AttemptError {
    let retryable =
        status == StatusCode::REQUEST_TIMEOUT || status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();

    let mut message = format!("receiver returned HTTP {status}");
    if !excerpt.is_empty() {
        message.push_str(&format!(" with body `{excerpt}`"));
    }
    if status.is_redirection() {
        message.push_str("; redirects are not followed, so set the channel's URL to the final address");
    } else if !retryable {
        message.push_str("; not retried because the receiver rejected the request");
    }
    AttemptError { message, retryable, retry_after }
}

/// Reads the start of a response body as one line, or nothing if reading
/// fails.
async fn read_excerpt(mut response: reqwest::Response) -> String {
    let limit = BODY_EXCERPT_CHARS * 4;
    let mut bytes = Vec::new();
    while bytes.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    bytes.truncate(limit);
    let text = String::from_utf8_lossy(&bytes);
    truncate_chars(&single_line(&text), BODY_EXCERPT_CHARS)
}

/// Parses `Retry-After` given in seconds. The HTTP-date form is ignored.
fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes() {
        for (code, retryable) in [(500, true), (503, true), (408, true), (429, true), (400, false), (404, false)] {
            let status = StatusCode::from_u16(code).unwrap();
            assert_eq!(status_error(status, "", None).retryable, retryable, "HTTP {code}");
        }
    }

    #[test]
    fn redirect_message_says_what_to_do() {
        let error = status_error(StatusCode::MOVED_PERMANENTLY, "", None);
        assert!(!error.retryable);
        assert!(error.message.contains("redirects are not followed"), "{}", error.message);
    }

    #[test]
    fn parse_url_rejects_other_schemes() {
        let error = parse_url(&Secret::new("ftp://example.com/hook")).unwrap_err();
        assert!(error.contains("scheme `ftp`"), "{error}");
        assert!(!error.contains("example.com"), "{error}");
    }

    #[test]
    fn parse_url_error_leaves_out_value() {
        let error = parse_url(&Secret::new("not a url with token abc123")).unwrap_err();
        assert!(!error.contains("abc123"), "{error}");
    }

    #[test]
    fn retry_after_seconds() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(parse_retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(parse_retry_after(&headers), None);
    }
}

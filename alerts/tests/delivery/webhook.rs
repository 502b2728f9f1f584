use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use wflow_alerts::{ChannelKind, Secrets};

use crate::receiver::{Receiver, Reply, refused_url};
use crate::{failed_alert, notifier};

/// A path standing in for the secret part of a webhook URL.
const SECRET_PATH: &str = "/hooks/T0001/B0002/s3cr3t-t0k3n";

const WEBHOOK: &str = r#"
[[channels]]
type = "webhook"
name = "ops"
url = { secret = "hook" }
timeout = "2s"
"#;

#[tokio::test]
async fn webhook_posts_exact_payload() {
    let receiver = Receiver::start(vec![]).await;
    let secrets = Secrets::from_pairs([("hook", receiver.url(SECRET_PATH))]);

    let deliveries = notifier(WEBHOOK, secrets, 3).deliver(&failed_alert()).await;

    assert_eq!(deliveries.len(), 1);
    let delivery = &deliveries[0];
    assert!(delivery.delivered, "{delivery}");
    assert_eq!(delivery.attempts, 1);
    assert_eq!(delivery.channel, "ops");
    assert_eq!(delivery.kind, ChannelKind::Webhook);
    assert_eq!(delivery.error, None);

    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, SECRET_PATH);
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.json(),
        json!({
            "event": "failed",
            "message": "flow `flights` (deployment `nightly`) failed: 2 tasks failed; first: task `clean` failed: \
                        trapped: integer divide by zero",
            "deployment": "nightly",
            "flow": "flights",
            "run_id": "0196a3f2-7b1c-7c3e-9d2a-5f4e3b2a1c0d",
            "state": "failed",
            "scheduled_for": "2026-05-01T02:00:00Z",
            "started_at": "2026-05-01T02:00:03Z",
            "ended_at": "2026-05-01T02:03:10Z",
            "duration_ms": 187000,
            "failed_tasks": [
                { "task": "clean", "error": "trapped: integer divide by zero" },
                { "task": "load", "error": "could not get its input: `clean` failed" }
            ],
            "link": "http://127.0.0.1:8080/api/runs/0196a3f2-7b1c-7c3e-9d2a-5f4e3b2a1c0d"
        })
    );
}

#[tokio::test]
async fn webhook_payload_nulls_absent_fields() {
    let receiver = Receiver::start(vec![]).await;
    let secrets = Secrets::from_pairs([("hook", receiver.url("/"))]);
    let mut alert = failed_alert();
    alert.event = wflow_alerts::Event::Succeeded;
    alert.state = "succeeded".into();
    alert.scheduled_for = None;
    alert.ended_at = None;
    alert.duration_ms = None;
    alert.failed_tasks.clear();
    alert.link = None;

    let deliveries = notifier(WEBHOOK, secrets, 1).deliver(&alert).await;

    assert!(deliveries[0].delivered, "{}", deliveries[0]);
    let payload = receiver.requests()[0].json();
    assert_eq!(payload["message"], "flow `flights` (deployment `nightly`) succeeded");
    for field in ["scheduled_for", "ended_at", "duration_ms", "link"] {
        assert_eq!(payload[field], serde_json::Value::Null, "{field}");
    }
    assert_eq!(payload["failed_tasks"], json!([]));
}

#[tokio::test]
async fn webhook_retries_500_until_200() {
    let receiver = Receiver::start(vec![Reply::Status(500, "oops"), Reply::Status(500, "oops")]).await;
    let secrets = Secrets::from_pairs([("hook", receiver.url(SECRET_PATH))]);

    let deliveries = notifier(WEBHOOK, secrets, 3).deliver(&failed_alert()).await;

    let delivery = &deliveries[0];
    assert!(delivery.delivered, "{delivery}");
    assert_eq!(delivery.attempts, 3);
    assert_eq!(delivery.error, None);
    assert_eq!(receiver.requests().len(), 3);
}

#[tokio::test]
async fn webhook_gives_up_after_attempts() {
    let receiver = Receiver::start(vec![Reply::Status(503, "busy"); 5]).await;
    let secrets = Secrets::from_pairs([("hook", receiver.url(SECRET_PATH))]);

    let deliveries = notifier(WEBHOOK, secrets, 3).deliver(&failed_alert()).await;

    let delivery = &deliveries[0];
    assert!(!delivery.delivered);
    assert_eq!(delivery.attempts, 3);
    assert_eq!(receiver.requests().len(), 3);
    let error = delivery.error.as_deref().unwrap();
    assert!(error.contains("HTTP 503"), "{error}");
    assert!(error.contains("busy"), "{error}");
}

#[tokio::test]
async fn webhook_retries_429_and_408() {
    let receiver = Receiver::start(vec![Reply::Status(429, ""), Reply::Status(408, "")]).await;
    let secrets = Secrets::from_pairs([("hook", receiver.url(SECRET_PATH))]);

    let deliveries = notifier(WEBHOOK, secrets, 3).deliver(&failed_alert()).await;

    assert!(deliveries[0].delivered, "{}", deliveries[0]);
    assert_eq!(deliveries[0].attempts, 3);
}

#[tokio::test]
async fn webhook_400_is_not_retried() {
    let receiver = Receiver::start(vec![Reply::Status(400, "invalid_payload")]).await;
    let secrets = Secrets::from_pairs([("hook", receiver.url(SECRET_PATH))]);

    let deliveries = notifier(WEBHOOK, secrets, 3).deliver(&failed_alert()).await;

    let delivery = &deliveries[0];
    assert!(!delivery.delivered);
    assert_eq!(delivery.attempts, 1);
    assert_eq!(receiver.requests().len(), 1);
    let error = delivery.error.as_deref().unwrap();
    assert!(error.contains("HTTP 400 Bad Request"), "{error}");
    assert!(error.contains("invalid_payload"), "{error}");
    assert!(error.contains("not retried"), "{error}");
}

#[tokio::test]
async fn webhook_connection_refused() {
    let url = refused_url(SECRET_PATH).await;
    let secrets = Secrets::from_pairs([("hook", url.clone())]);

    let started = Instant::now();
    let deliveries = notifier(WEBHOOK, secrets, 3).deliver(&failed_alert()).await;

    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    let delivery = &deliveries[0];
    assert!(!delivery.delivered);
    assert_eq!(delivery.attempts, 3);
    let error = delivery.error.as_deref().unwrap();
    assert!(error.contains("request failed"), "{error}");
    assert!(error.to_lowercase().contains("connect"), "{error}");
    assert!(!error.contains(&url), "{error}");
    assert!(!error.contains("s3cr3t"), "{error}");
    assert!(!error.contains("127.0.0.1"), "{error}");
    assert!(!delivery.to_string().contains("s3cr3t"), "{delivery}");
}

#[tokio::test]
async fn webhook_hanging_receiver_times_out() {
    let receiver = Receiver::start(vec![Reply::Hang, Reply::Hang]).await;
    let secrets = Secrets::from_pairs([("hook", receiver.url(SECRET_PATH))]);
    let config = WEBHOOK.replace("timeout = \"2s\"", "timeout = \"200ms\"");

    let started = Instant::now();
    let deliveries = notifier(&config, secrets, 2).deliver(&failed_alert()).await;

    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(400), "took {elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    let delivery = &deliveries[0];
    assert!(!delivery.delivered);
    assert_eq!(delivery.attempts, 2);
    let error = delivery.error.as_deref().unwrap();
    assert!(error.contains("timed out after 200ms"), "{error}");
    assert!(!error.contains("s3cr3t"), "{error}");
}

#[tokio::test]
async fn webhook_channels_run_concurrently() {
    let receiver = Receiver::start(vec![Reply::Hang, Reply::Hang]).await;
    let secrets = Secrets::from_pairs([("hook", receiver.url("/"))]);
    let config = r#"
        [[channels]]
        type = "webhook"
        url = { secret = "hook" }
        timeout = "500ms"

        [[channels]]
        type = "webhook"
        url = { secret = "hook" }
        timeout = "500ms"
    "#;

    let started = Instant::now();
    let deliveries = notifier(config, secrets, 1).deliver(&failed_alert()).await;

    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_millis(950), "channels ran one after another: {elapsed:?}");
    assert_eq!(deliveries.len(), 2);
    assert_eq!(deliveries[0].channel, "webhook-1");
    assert_eq!(deliveries[1].channel, "webhook-2");
    assert!(deliveries.iter().all(|delivery| !delivery.delivered));
}

#[tokio::test]
async fn webhook_secret_echoed_in_body_is_redacted() {
    // The receiver's error body quotes the secret part of the URL.
    let receiver = Receiver::start(vec![Reply::Status(404, "no hook at /hooks/T0001/B0002/s3cr3t-t0k3n")]).await;
    let secrets = Secrets::from_pairs([("hook", receiver.url("/hooks/T0001/B0002/s3cr3t-t0k3n"))]);

    let deliveries = notifier(WEBHOOK, secrets, 3).deliver(&failed_alert()).await;

    let error = deliveries[0].error.as_deref().unwrap();
    assert!(error.contains("HTTP 404"), "{error}");
    assert!(!error.contains("s3cr3t"), "{error}");
}

#[tokio::test]
async fn webhook_failure_log_has_no_url() {
    let url = refused_url(SECRET_PATH).await;
    let secrets = Secrets::from_pairs([("hook", url)]);
    let logs = Arc::new(Mutex::new(Vec::new()));
    let writer_logs = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || LogWriter(writer_logs.clone()))
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let deliveries = notifier(WEBHOOK, secrets, 2).deliver(&failed_alert()).await;

    assert!(!deliveries[0].delivered);
    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(text.contains("alert delivery attempt failed; retrying"), "{text}");
    assert!(text.contains("alert delivery failed"), "{text}");
    assert!(text.contains("WARN"), "{text}");
    assert!(text.contains("channel=ops"), "{text}");
    assert!(text.contains("run_id=0196a3f2-7b1c-7c3e-9d2a-5f4e3b2a1c0d"), "{text}");
    assert!(!text.contains("s3cr3t"), "{text}");
    // hyper logs the address it connects to at debug level, but not the path.
    for line in text.lines().filter(|line| line.contains("wflow_alerts")) {
        assert!(!line.contains("127.0.0.1"), "{line}");
    }
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn webhook_redirect_is_not_followed() {
    let receiver = Receiver::start(vec![Reply::Status(302, "")]).await;
    let secrets = Secrets::from_pairs([("hook", receiver.url(SECRET_PATH))]);

    let deliveries = notifier(WEBHOOK, secrets, 3).deliver(&failed_alert()).await;

    let delivery = &deliveries[0];
    assert!(!delivery.delivered);
    assert_eq!(delivery.attempts, 1);
    assert_eq!(receiver.requests().len(), 1);
    let error = delivery.error.as_deref().unwrap();
    assert!(error.contains("HTTP 302 Found"), "{error}");
    assert!(error.contains("redirects are not followed"), "{error}");
}

#[tokio::test]
async fn webhook_header_with_line_break_is_rejected() {
    let receiver = Receiver::start(vec![]).await;
    let secrets = Secrets::from_pairs([
        ("hook", receiver.url(SECRET_PATH)),
        ("token", "Bearer abc\r\nX-Injected: s3cr3t".to_string()),
    ]);
    let config = format!("{WEBHOOK}headers = {{ Authorization = {{ secret = \"token\" }} }}\n");

    let deliveries = notifier(&config, secrets, 3).deliver(&failed_alert()).await;

    let delivery = &deliveries[0];
    assert!(!delivery.delivered);
    assert_eq!(delivery.attempts, 0);
    assert!(receiver.requests().is_empty());
    let error = delivery.error.as_deref().unwrap();
    assert!(error.contains("value of header `Authorization` from secret `token` contains characters"), "{error}");
    assert!(!error.contains("s3cr3t"), "{error}");
}

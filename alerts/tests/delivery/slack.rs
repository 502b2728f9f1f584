use serde_json::json;
use wflow_alerts::{ChannelKind, Secrets};

use crate::receiver::Receiver;
use crate::{failed_alert, notifier};

#[tokio::test]
async fn slack_posts_text_and_blocks() {
    let receiver = Receiver::start(vec![]).await;
    let secrets = Secrets::from_pairs([("slack", receiver.url("/services/T1/B2/xyz"))]);
    let config = r#"
        [[channels]]
        type = "slack"
        url = { secret = "slack" }
    "#;
    let mut alert = failed_alert();
    alert.failed_tasks[1].error = "input <raw> & more\nsecond line".into();

    let deliveries = notifier(config, secrets, 1).deliver(&alert).await;

    let delivery = &deliveries[0];
    assert!(delivery.delivered, "{delivery}");
    assert_eq!(delivery.channel, "slack-1");
    assert_eq!(delivery.kind, ChannelKind::Slack);

    let request = &receiver.requests()[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/services/T1/B2/xyz");
    assert_eq!(request.header("content-type"), Some("application/json"));
    let message = "flow `flights` (deployment `nightly`) failed: 2 tasks failed; first: task `clean` failed: \
                   trapped: integer divide by zero";
    assert_eq!(
        request.json(),
        json!({
            "text": message,
            "blocks": [
                { "type": "section", "text": { "type": "mrkdwn", "text": message } },
                {
                    "type": "section",
                    "text": {
                        "type": "mrkdwn",
                        "text": "*Failed tasks*\n• `clean`: trapped: integer divide by zero\n\
                                 • `load`: input &lt;raw&gt; &amp; more second line"
                    }
                },
                {
                    "type": "context",
                    "elements": [{
                        "type": "mrkdwn",
                        "text": "run `0196a3f2-7b1c-7c3e-9d2a-5f4e3b2a1c0d`: \
                                 http://127.0.0.1:8080/api/runs/0196a3f2-7b1c-7c3e-9d2a-5f4e3b2a1c0d"
                    }]
                }
            ]
        })
    );
}

#[tokio::test]
async fn slack_body_without_failed_tasks() {
    let receiver = Receiver::start(vec![]).await;
    let secrets = Secrets::from_pairs([("slack", receiver.url("/hook"))]);
    let config = "[[channels]]\ntype = \"slack\"\nurl = { secret = \"slack\" }\n";
    let mut alert = failed_alert();
    alert.event = wflow_alerts::Event::Succeeded;
    alert.failed_tasks.clear();
    alert.link = None;

    let deliveries = notifier(config, secrets, 1).deliver(&alert).await;

    assert!(deliveries[0].delivered, "{}", deliveries[0]);
    let body = receiver.requests()[0].json();
    assert_eq!(body["text"], "flow `flights` (deployment `nightly`) succeeded in 3m 7s");
    let blocks = body["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[1]["elements"][0]["text"], "run `0196a3f2-7b1c-7c3e-9d2a-5f4e3b2a1c0d`");
}

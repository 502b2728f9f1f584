//! A header value read from an environment variable. The variable is set
//! before the runtime starts any thread, so this test has a binary of its
//! own.

#[path = "delivery/receiver.rs"]
#[allow(dead_code)]
mod receiver;

use std::sync::Arc;

use receiver::Receiver;
use wflow_alerts::{Alert, ChannelConfig, Event, Notifier, Secrets};

#[test]
fn header_from_env_secret_arrives() {
    // SAFETY: no other thread exists yet in this test binary, which has no
    // other test.
    unsafe {
        std::env::set_var("WFLOW_ALERTS_TEST_TOKEN", "Bearer e2e-token-42");
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let receiver = Receiver::start(vec![]).await;
        // SAFETY: the runtime runs on this thread and has started no blocking
        // thread yet, so still no other thread exists.
        unsafe {
            std::env::set_var("WFLOW_ALERTS_TEST_URL", receiver.url("/hook"));
        }
        let text = r#"
            type = "webhook"
            name = "ops"
            url = { env = "WFLOW_ALERTS_TEST_URL" }
            headers = { Authorization = { env = "WFLOW_ALERTS_TEST_TOKEN" }, X-Wflow-Source = { env = "WFLOW_ALERTS_TEST_TOKEN" } }
        "#;
        let channel: ChannelConfig = toml::from_str(text).unwrap();
        let notifier = Notifier::new(vec![channel], Arc::new(Secrets::empty())).unwrap();
        let alert = Alert::new(Event::Failed, "nightly", "flights", "run-1", "failed", "2026-05-01T00:00:00Z".parse().unwrap());

        let deliveries = notifier.deliver(&alert).await;

        assert!(deliveries[0].delivered, "{}", deliveries[0]);
        let request = &receiver.requests()[0];
        assert_eq!(request.header("authorization"), Some("Bearer e2e-token-42"));
        assert_eq!(request.header("x-wflow-source"), Some("Bearer e2e-token-42"));
        assert_eq!(request.header("content-type"), Some("application/json"));
    });
}

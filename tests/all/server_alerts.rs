//! Alerts from the server: a webhook received by a local receiver with the
//! documented payload, the events a deployment selects, and a receiver
//! that is down, which fails the delivery but not the run.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::routing::post;
use serde_json::{Value, json};
use wflow_alerts::Secrets;
use wflow_host::server::Server;
use wflow_host::server::clock::ManualClock;
use wflow_host::state::{RedbAlertLog, RunRecord, RunState, RunStore};

use crate::support::{self, Sandbox};

/// A webhook receiver on a free loopback port that keeps every JSON body
/// posted to `/hook`.
struct Receiver {
    url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let kept = bodies.clone();
        let app = axum::Router::new().route(
            "/hook",
            post(move |Json(body): Json<Value>| {
                let kept = kept.clone();
                async move {
                    kept.lock().unwrap().push(body);
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, bodies }
    }

    /// Waits, for at most 30 s, until `count` bodies arrived, and returns
    /// them.
    async fn received(&self, count: usize) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let bodies = self.bodies.lock().unwrap().clone();
            if bodies.len() >= count || started.elapsed() > Duration::from_secs(30) {
                return bodies;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Writes deployment `name` of the fixture flow, whose `mode` parameter
/// defaults to `mode`, with `extra` deployment lines and a webhook channel
/// whose URL is the secret `hook`.
fn deploy(sandbox: &Sandbox, name: &str, mode: &str, task_settings: &str, extra: &str) {
    let component = support::component("wflow_fixture_faults").display().to_string();
    sandbox.write(
        "flows/fixture.toml",
        &format!(
            "[flow]\nname = \"fixture\"\n\n[params.mode]\ntype = \"string\"\ndefault = \"echo\"\n\n\
             [[tasks]]\nid = \"only\"\ncomponent = \"{component}\"\ninput = {{ param = \"mode\" }}\ncache = false\n\
             {task_settings}\n"
        ),
    );
    sandbox.write(
        &format!("deployments/{name}.toml"),
        &format!(
            "flow = \"../flows/fixture.toml\"\n\n[params]\nmode = \"{mode}\"\n\n{extra}\n\n\
             [notify.retry]\nattempts = 2\nbackoff = \"10ms\"\n\n\
             [[notify.channels]]\ntype = \"webhook\"\nname = \"ops\"\nurl = {{ secret = \"hook\" }}\n"
        ),
    );
}

fn start_server(sandbox: &Sandbox, hook: &str, clock: Arc<ManualClock>) -> Arc<Server> {
    let host = Arc::new(sandbox.host());
    let secrets = Arc::new(Secrets::from_pairs([("hook", hook)]));
    let server = Server::new(host, &sandbox.path().join("deployments"), clock, secrets).unwrap();
    server.set_base_url("http://127.0.0.1:7420");
    server
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new("2026-03-01T00:00:30Z".parse().unwrap()))
}

/// Waits, for at most 30 s, until run `run_id` has `count` alert records.
async fn alert_records(server: &Server, run_id: &str, count: usize) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let records = RedbAlertLog::new(server.host().state().database()).alerts(run_id).unwrap();
        if records.len() >= count || started.elapsed() > Duration::from_secs(30) {
            return records.into_iter().map(|record| serde_json::to_value(record).unwrap()).collect();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_run_posts_documented_payload() {
    let receiver = Receiver::start().await;
    let sandbox = Sandbox::new();
    deploy(&sandbox, "nightly", "error", "", "");
    let server = start_server(&sandbox, &receiver.url, clock());

    let run_id = server.trigger("nightly", &[]).await.unwrap();
    let bodies = receiver.received(1).await;
    server.wait_idle().await;

    assert_eq!(bodies.len(), 1, "{bodies:#?}");
    let alert = &bodies[0];
    assert_eq!(alert["event"], "failed");
    assert_eq!(alert["deployment"], "nightly");
    assert_eq!(alert["flow"], "fixture");
    assert_eq!(alert["run_id"], run_id.as_str());
    assert_eq!(alert["state"], "failed");
    assert_eq!(alert["scheduled_for"], Value::Null, "a run on request has no fire time");
    assert_eq!(
        alert["failed_tasks"],
        json!([{"task": "only", "error": "task `only` failed: the fixture was asked to fail"}])
    );
    assert_eq!(alert["link"], format!("http://127.0.0.1:7420/api/v1/runs/{run_id}"));
    assert_eq!(
        alert["message"],
        "flow `fixture` (deployment `nightly`) failed: task `only` failed: the fixture was asked to fail"
    );
    for key in ["started_at", "ended_at", "duration_ms"] {
        assert!(alert.get(key).is_some(), "{key} is missing from {alert}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn receiver_down_fails_delivery_not_run() {
    // A port that nothing listens on: bound, then closed.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook/secret-path", closed.local_addr().unwrap());
    drop(closed);
    let sandbox = Sandbox::new();
    deploy(&sandbox, "nightly", "error", "", "");
    let server = start_server(&sandbox, &url, clock());

    let run_id = server.trigger("nightly", &[]).await.unwrap();
    server.wait_idle().await;
    let records = alert_records(&server, &run_id, 1).await;

    let run = server.host().runs().run(&run_id).unwrap().unwrap().state;
    assert_eq!(run, RunState::Failed, "the run keeps its own state");
    assert_eq!(records.len(), 1, "{records:#?}");
    let delivery = &records[0]["deliveries"][0];
    assert_eq!(records[0]["event"], "failed");
    assert_eq!(delivery["channel"], "ops");
    assert_eq!(delivery["type"], "webhook");
    assert_eq!(delivery["delivered"], false);
    assert_eq!(delivery["attempts"], 2);
    let error = delivery["error"].as_str().unwrap();
    assert!(!error.contains("secret-path"), "the URL leaked: {error}");
    assert!(!error.contains("127.0.0.1"), "the URL leaked: {error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_and_success_events_when_asked() {
    let receiver = Receiver::start().await;
    let sandbox = Sandbox::new();
    // `flaky` fails its first two attempts and succeeds on the third.
    let retry = "retry = { attempts = 3, delay = \"10ms\", jitter = 0.0 }";
    deploy(&sandbox, "flaky", "flaky", retry, "[notify.on]\nsuccess = true\nretry = true");
    let server = start_server(&sandbox, &receiver.url, clock());

    server.trigger("flaky", &[]).await.unwrap();
    let bodies = receiver.received(3).await;
    server.wait_idle().await;

    let events: Vec<&str> = bodies.iter().map(|body| body["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["retrying", "retrying", "succeeded"]);
    assert_eq!(bodies[0]["failed_tasks"][0]["task"], "only");
    assert_eq!(bodies[1]["failed_tasks"][0]["error"], "attempt 2: task `only` failed: attempt 2 fails on purpose");
    assert_eq!(bodies[2]["state"], "completed");
}

#[tokio::test(flavor = "multi_thread")]
async fn late_and_long_running_alerts() {
    let receiver = Receiver::start().await;
    let sandbox = Sandbox::new();
    // `nap` sleeps 1.5 s, longer than `longer_than`.
    deploy(
        &sandbox,
        "napper",
        "nap",
        "",
        "[schedule]\nevery = \"1m\"\n\n[notify.on]\nfailure = true\nlate_after = \"30s\"\nlonger_than = \"200ms\"",
    );
    let clock = clock();
    let server = start_server(&sandbox, &receiver.url, clock.clone());
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve().await }
    });

    // The 00:01:00 fire time is 105 s old when the server checks it: missed,
    // so the `latest` policy runs it, late.
    clock.set("2026-03-01T00:01:45Z".parse().unwrap());
    assert_eq!(receiver.received(1).await.len(), 1);
    // The run naps for 1.5 s of real time; on the server's clock it passes
    // `longer_than` now.
    clock.set("2026-03-01T00:01:46Z".parse().unwrap());
    let bodies = receiver.received(2).await;
    server.wait_idle().await;
    server.shutdown();
    serving.await.unwrap();

    let events: Vec<&str> = bodies.iter().map(|body| body["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["late", "long_running"], "{bodies:#?}");
    assert_eq!(bodies[0]["scheduled_for"], "2026-03-01T00:01:00Z");
    assert_eq!(bodies[0]["started_at"], "2026-03-01T00:01:45Z");
    assert_eq!(bodies[1]["state"], "running");
}

#[tokio::test(flavor = "multi_thread")]
async fn flow_that_stops_loading_fails_its_run() {
    let receiver = Receiver::start().await;
    let sandbox = Sandbox::new();
    deploy(&sandbox, "nightly", "echo", "", "[schedule]\nevery = \"1m\"");
    let clock = clock();
    let server = start_server(&sandbox, &receiver.url, clock.clone());
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve().await }
    });

    // The manifest breaks after the deployment was loaded.
    sandbox.write("flows/fixture.toml", "[flow]\nname = \"fixture\"\n[[tasks]]\n");
    clock.set("2026-03-01T00:01:00Z".parse().unwrap());
    let bodies = receiver.received(1).await;
    server.wait_idle().await;
    server.shutdown();
    serving.await.unwrap();

    assert_eq!(bodies.len(), 1, "{bodies:#?}");
    assert_eq!(bodies[0]["event"], "failed");
    assert_eq!(bodies[0]["failed_tasks"][0]["task"], "(flow manifest)");
    let run_id = bodies[0]["run_id"].as_str().unwrap();
    let run = server.host().runs().run(run_id).unwrap().unwrap();
    assert_eq!(run.state, RunState::Failed);
    assert_eq!(run.deployment.as_deref(), Some("nightly"));
    let error = run.error.unwrap();
    assert!(error.starts_with("the flow did not load: "), "{error}");
    assert!(error.contains("fixture.toml"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn crashed_run_alerts_at_next_start() {
    let receiver = Receiver::start().await;
    let sandbox = Sandbox::new();
    deploy(&sandbox, "nightly", "echo", "", "");
    // A run that its process left as running, as a SIGKILL would.
    {
        let host = sandbox.host();
        let record = RunRecord {
            run_id: "01a24400-0000-7000-8000-000000000001".to_string(),
            flow: "fixture".to_string(),
            manifest_path: "fixture.toml".to_string(),
            params: serde_json::Map::new(),
            state: RunState::Running,
            started_at_ms: 1_772_323_200_000,
            ended_at_ms: None,
            manifest_hash: String::new(),
            resumed_from: None,
            deployment: Some("nightly".to_string()),
            scheduled_for_ms: Some(1_772_323_200_000),
            error: None,
        };
        host.runs().put_run(&record).unwrap();
    }

    let server = start_server(&sandbox, &receiver.url, clock());
    let bodies = receiver.received(1).await;
    server.shutdown();
    server.serve().await;

    assert_eq!(bodies.len(), 1, "{bodies:#?}");
    assert_eq!(bodies[0]["event"], "failed");
    assert_eq!(bodies[0]["state"], "crashed");
    assert_eq!(bodies[0]["run_id"], "01a24400-0000-7000-8000-000000000001");
    assert_eq!(bodies[0]["scheduled_for"], "2026-03-01T00:00:00Z", "the fire time comes from the run record");
}

/// Writes a secrets file, readable by its owner only, with the secret `hook`.
fn write_secrets(path: &std::path::Path, hook: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, format!("hook = \"{hook}\"\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_reads_changed_secrets_file() {
    use std::os::unix::fs::PermissionsExt as _;
    let first = Receiver::start().await;
    let second = Receiver::start().await;
    let sandbox = Sandbox::new();
    deploy(&sandbox, "nightly", "error", "", "");
    let secrets_file = sandbox.path().join("secrets.toml");
    write_secrets(&secrets_file, &first.url);
    let secrets = Arc::new(Secrets::load(&secrets_file).unwrap());
    let server = Server::new(Arc::new(sandbox.host()), &sandbox.path().join("deployments"), clock(), secrets).unwrap();

    server.trigger("nightly", &[]).await.unwrap();
    server.wait_idle().await;
    assert_eq!(first.received(1).await.len(), 1);

    write_secrets(&secrets_file, &second.url);
    server.reload().unwrap();
    server.trigger("nightly", &[]).await.unwrap();
    server.wait_idle().await;
    assert_eq!(second.received(1).await.len(), 1, "the alert went to the URL of the changed file");

    // A file that other users can read is refused; alerts keep the secrets
    // read before.
    std::fs::write(&secrets_file, format!("hook = \"{}\"\n", first.url)).unwrap();
    std::fs::set_permissions(&secrets_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    server.reload().unwrap();
    server.trigger("nightly", &[]).await.unwrap();
    server.wait_idle().await;
    assert_eq!(second.received(2).await.len(), 2);
    assert_eq!(first.bodies.lock().unwrap().len(), 1, "the refused file was used");
}

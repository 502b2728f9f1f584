//! The server's HTTP API end to end, on loopback with a real HTTP client:
//! deployments, ad-hoc runs with parameter overrides, run details, logs and
//! their stream, cancellation, and the bearer token.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use wflow_alerts::Secrets;
use wflow_host::server::clock::ManualClock;
use wflow_host::server::{Server, api};

use crate::support::{self, Sandbox};

/// Writes deployment `name` of a fixture flow whose `mode` parameter
/// defaults to `mode`, with extra deployment lines `extra`.
fn deploy(sandbox: &Sandbox, name: &str, mode: &str, extra: &str) -> PathBuf {
    let component = support::component("wflow_fixture_faults").display().to_string();
    sandbox.write(
        "flows/fixture.toml",
        &format!(
            "[flow]\nname = \"fixture\"\n\n[params.mode]\ntype = \"string\"\ndefault = \"echo\"\n\n\
             [[tasks]]\nid = \"only\"\ncomponent = \"{component}\"\ninput = {{ param = \"mode\" }}\ncache = false\n"
        ),
    );
    sandbox.write(
        &format!("deployments/{name}.toml"),
        &format!("flow = \"../flows/fixture.toml\"\n{extra}\n[params]\nmode = \"{mode}\"\n"),
    );
    sandbox.path().join("deployments")
}

/// A server with its API on a free loopback port.
struct Api {
    base: String,
    client: reqwest::Client,
    server: Arc<Server>,
    serving: tokio::task::JoinHandle<()>,
}

impl Api {
    async fn start(sandbox: &Sandbox, token: Option<&str>) -> Api {
        let host = Arc::new(sandbox.host());
        let clock = Arc::new(ManualClock::new("2026-03-01T00:00:30Z".parse().unwrap()));
        let server = Server::new(host, &sandbox.path().join("deployments"), clock, Arc::new(Secrets::empty())).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let router = api::router(server.clone(), sandbox.state_dir(), token, base.clone());
        let serving = tokio::spawn({
            let server = server.clone();
            async move {
                let scheduler = tokio::spawn({
                    let server = server.clone();
                    async move { server.serve().await }
                });
                axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
                    .with_graceful_shutdown(async move { server.stopping().await })
                    .await
                    .unwrap();
                scheduler.await.unwrap();
            }
        });
        Api { base, client: reqwest::Client::new(), server, serving }
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self.client.get(format!("{}{path}", self.base)).send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self.client.post(format!("{}{path}", self.base)).json(&body).send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Waits, for at most 30 s, until run `run_id` has ended, and returns
    /// its detail.
    async fn ended(&self, run_id: &str) -> Value {
        let started = Instant::now();
        loop {
            let (status, detail) = self.get(&format!("/api/v1/runs/{run_id}")).await;
            let ended = status == StatusCode::OK && detail["run"]["state"] != "running";
            if ended || started.elapsed() > Duration::from_secs(30) {
                return detail;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(self) {
        self.server.shutdown();
        self.serving.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deployments_listed_with_next_runs() {
    let sandbox = Sandbox::new();
    deploy(
        &sandbox,
        "nightly",
        "echo",
        "description = \"Nightly\"\n[schedule]\ncron = \"30 2 * * *\"\ntime_zone = \"America/New_York\"\nmisfire = \"all\"\ncatch_up = \"2h\"",
    );
    deploy(&sandbox, "manual", "echo", "");
    let api = Api::start(&sandbox, None).await;

    let (status, deployments) = api.get("/api/v1/deployments?next=2").await;
    api.stop().await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(deployments[0]["name"], "manual");
    assert_eq!(deployments[0]["schedule"], Value::Null);
    assert_eq!(deployments[0]["next_runs"], json!([]));
    let nightly = &deployments[1];
    assert_eq!(nightly["description"], "Nightly");
    assert_eq!(nightly["params"], json!({"mode": "echo"}));
    assert_eq!(
        nightly["schedule"],
        json!({"spec": "30 2 * * *", "time_zone": "America/New_York", "misfire": "all", "catch_up_seconds": 7200, "overlap": "skip"})
    );
    assert_eq!(
        nightly["next_runs"],
        json!([
            {"local": "2026-03-01T02:30:00-05:00[America/New_York]", "utc": "2026-03-01T07:30:00Z"},
            {"local": "2026-03-02T02:30:00-05:00[America/New_York]", "utc": "2026-03-02T07:30:00Z"},
        ])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn trigger_runs_with_param_override() {
    let sandbox = Sandbox::new();
    deploy(&sandbox, "adhoc", "echo", "");
    let api = Api::start(&sandbox, None).await;

    let (status, started) = api.post("/api/v1/deployments/adhoc/runs", json!({})).await;
    let run_id = started["run_id"].as_str().unwrap().to_string();
    let completed = api.ended(&run_id).await;
    let (_, logs) = api.get(&format!("/api/v1/runs/{run_id}/logs?task=only")).await;
    let (override_status, overridden) =
        api.post("/api/v1/deployments/adhoc/runs", json!({"params": {"mode": "error"}})).await;
    let failed = api.ended(overridden["run_id"].as_str().unwrap()).await;
    let (_, listed) = api.get("/api/v1/runs?deployment=adhoc&state=failed").await;
    let base = api.base.clone();
    api.stop().await;

    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(started["deployment"], "adhoc");
    assert_eq!(started["link"], format!("{base}/api/v1/runs/{run_id}"));
    assert_eq!(completed["run"]["state"], "completed");
    assert_eq!(completed["run"]["deployment"], "adhoc");
    assert_eq!(completed["tasks"][0]["task_id"], "only");
    let messages: Vec<&str> =
        logs.as_array().unwrap().iter().filter_map(|entry| entry["line"]["message"].as_str()).collect();
    assert!(messages.contains(&"echoing `echo`"), "{logs}");
    assert_eq!(override_status, StatusCode::ACCEPTED);
    assert_eq!(failed["run"]["state"], "failed");
    assert_eq!(failed["run"]["params"], json!({"mode": "error"}));
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn trigger_errors_name_the_problem() {
    let sandbox = Sandbox::new();
    deploy(&sandbox, "adhoc", "echo", "");
    let api = Api::start(&sandbox, None).await;

    let unknown = api.post("/api/v1/deployments/absent/runs", json!({})).await;
    let bad_param = api.post("/api/v1/deployments/adhoc/runs", json!({"params": {"colour": "red"}})).await;
    let bad_value = api.post("/api/v1/deployments/adhoc/runs", json!({"params": {"mode": [1]}})).await;
    let bad_state = api.get("/api/v1/runs?state=done").await;
    let no_run = api.get("/api/v1/runs/01a00000-0000-7000-8000-000000000000").await;
    api.stop().await;

    assert_eq!(unknown.0, StatusCode::NOT_FOUND);
    assert_eq!(unknown.1["error"], "no deployment is named `absent`; GET /api/v1/deployments lists them");
    assert_eq!(bad_param.0, StatusCode::BAD_REQUEST);
    assert!(bad_param.1["error"].as_str().unwrap().contains("colour"), "{}", bad_param.1);
    assert_eq!(bad_value.0, StatusCode::BAD_REQUEST);
    assert_eq!(bad_value.1["error"], "parameter `mode` is [1]; give a string, a number or a boolean");
    assert_eq!(bad_state.0, StatusCode::BAD_REQUEST);
    assert!(bad_state.1["error"].as_str().unwrap().starts_with("unknown run state `done`"), "{}", bad_state.1);
    assert_eq!(no_run.0, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_stops_a_running_run() {
    let sandbox = Sandbox::new();
    deploy(&sandbox, "sleeper", "sleep", "");
    let api = Api::start(&sandbox, None).await;

    let (_, started) = api.post("/api/v1/deployments/sleeper/runs", json!({})).await;
    let run_id = started["run_id"].as_str().unwrap().to_string();
    // The run is recorded before it can be cancelled.
    let waited = Instant::now();
    while api.get(&format!("/api/v1/runs/{run_id}")).await.0 != StatusCode::OK
        && waited.elapsed() < Duration::from_secs(30)
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (status, cancelling) = api.post(&format!("/api/v1/runs/{run_id}/cancel"), json!({})).await;
    let ended = api.ended(&run_id).await;
    let (again, conflict) = api.post(&format!("/api/v1/runs/{run_id}/cancel"), json!({})).await;
    api.stop().await;

    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(cancelling["cancelling"], true);
    assert_eq!(ended["run"]["state"], "cancelled");
    assert_eq!(again, StatusCode::CONFLICT);
    assert!(conflict["error"].as_str().unwrap().contains("is cancelled, not running in this server"), "{conflict}");
}

#[tokio::test(flavor = "multi_thread")]
async fn log_stream_follows_run_to_its_end() {
    let sandbox = Sandbox::new();
    // `talk` logs a line, then sleeps 1.5 s before it completes.
    deploy(&sandbox, "talker", "talk", "");
    let api = Api::start(&sandbox, None).await;

    let (_, started) = api.post("/api/v1/deployments/talker/runs", json!({})).await;
    let run_id = started["run_id"].as_str().unwrap().to_string();
    let waited = Instant::now();
    while api.get(&format!("/api/v1/runs/{run_id}")).await.0 != StatusCode::OK
        && waited.elapsed() < Duration::from_secs(30)
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let response = api.client.get(format!("{}/api/v1/runs/{run_id}/logs/stream", api.base)).send().await.unwrap();
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    let body = response.text().await.unwrap();
    api.stop().await;

    assert_eq!(content_type, "application/x-ndjson");
    let entries: Vec<Value> = body.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(entries.first().map(|entry| &entry["line"]["message"]), Some(&json!("about to nap")), "{body}");
    assert_eq!(entries.first().map(|entry| &entry["task"]), Some(&json!("only")), "{body}");
    assert_eq!(entries.last(), Some(&json!({"end": "completed"})), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn token_required_when_configured() {
    let sandbox = Sandbox::new();
    deploy(&sandbox, "adhoc", "echo", "");
    let token = "a-long-random-test-token-0123456789";
    let api = Api::start(&sandbox, Some(token)).await;
    let url = format!("{}/api/v1/deployments", api.base);

    let missing = api.client.get(&url).send().await.unwrap();
    let wrong = api.client.get(&url).bearer_auth("not-the-token").send().await.unwrap();
    let right = api.client.get(&url).bearer_auth(token).send().await.unwrap();
    let health = api.client.get(format!("{}/healthz", api.base)).send().await.unwrap();
    let (missing_status, missing_header) = (missing.status(), missing.headers().get("www-authenticate").cloned());
    let missing_body: Value = missing.json().await.unwrap();
    let wrong_status = wrong.status();
    let wrong_body: Value = wrong.json().await.unwrap();
    let (right_status, health_status) = (right.status(), health.status());
    api.stop().await;

    assert_eq!(missing_status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing_header.unwrap(), "Bearer");
    assert_eq!(missing_body["error"], "the bearer token is missing; send `Authorization: Bearer TOKEN`");
    assert_eq!(wrong_status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_body["error"], "the bearer token is wrong; send `Authorization: Bearer TOKEN`");
    assert_eq!(right_status, StatusCode::OK);
    assert_eq!(health_status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn openapi_documents_every_route() {
    let sandbox = Sandbox::new();
    deploy(&sandbox, "adhoc", "echo", "");
    let api = Api::start(&sandbox, None).await;

    let (status, document) = api.get("/openapi.json").await;
    api.stop().await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(document["openapi"], "3.1.0");
    let paths: Vec<&str> = document["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    for route in [
        "/healthz",
        "/openapi.json",
        "/metrics",
        "/api/v1/deployments",
        "/api/v1/deployments/{name}/runs",
        "/api/v1/runs",
        "/api/v1/runs/{run_id}",
        "/api/v1/runs/{run_id}/logs",
        "/api/v1/runs/{run_id}/logs/stream",
        "/api/v1/runs/{run_id}/cancel",
    ] {
        assert!(paths.contains(&route), "{route} is missing from {paths:?}");
    }
}

#[test]
fn serve_refuses_open_address_without_token() {
    let sandbox = Sandbox::new();
    let folder = deploy(&sandbox, "adhoc", "echo", "");

    let output = support::wflow(
        sandbox.path(),
        &sandbox.state_dir(),
        &["serve", "--deployments", folder.to_str().unwrap(), "--bind", "0.0.0.0:0"],
    );

    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("which is not a loopback address, without a token"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_parse_as_prometheus_text() {
    let sandbox = Sandbox::new();
    deploy(&sandbox, "adhoc", "echo", "");
    // The same flow with caching on: its second run is a cache hit.
    let cached = std::fs::read_to_string(sandbox.path().join("flows/fixture.toml"))
        .unwrap()
        .replace("cache = false", "cache = true");
    sandbox.write("flows/cached.toml", &cached.replace("name = \"fixture\"", "name = \"cached\""));
    sandbox.write("deployments/cached.toml", "flow = \"../flows/cached.toml\"\n");
    let api = Api::start(&sandbox, None).await;

    for deployment in ["adhoc", "cached", "cached"] {
        let (_, started) = api.post(&format!("/api/v1/deployments/{deployment}/runs"), json!({})).await;
        api.ended(started["run_id"].as_str().unwrap()).await;
    }
    api.server.wait_idle().await;
    let response = api.client.get(format!("{}/metrics", api.base)).send().await.unwrap();
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    let text = response.text().await.unwrap();
    api.stop().await;

    assert!(content_type.starts_with("application/openmetrics-text"), "{content_type}");
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|line| Ok(line.to_string()))).unwrap();
    let value = |name: &str, labels: &[(&str, &str)]| -> Option<f64> {
        scrape
            .samples
            .iter()
            .find(|sample| {
                sample.metric == name && labels.iter().all(|(key, value)| sample.labels.get(key) == Some(*value))
            })
            .map(|sample| match &sample.value {
                prometheus_parse::Value::Counter(value)
                | prometheus_parse::Value::Gauge(value)
                | prometheus_parse::Value::Untyped(value) => *value,
                other => panic!("{name} is not a single value: {other:?}"),
            })
    };
    assert_eq!(value("wflow_runs_total", &[("flow", "fixture"), ("state", "completed")]), Some(1.0), "{text}");
    assert_eq!(value("wflow_runs_total", &[("flow", "cached"), ("state", "completed")]), Some(2.0), "{text}");
    assert_eq!(value("wflow_cache_lookups_total", &[("flow", "cached"), ("result", "miss")]), Some(1.0), "{text}");
    assert_eq!(value("wflow_cache_lookups_total", &[("flow", "cached"), ("result", "hit")]), Some(1.0), "{text}");
    assert_eq!(value("wflow_runs_active", &[]), Some(0.0), "{text}");
    assert_eq!(value("wflow_attempts_active", &[]), Some(0.0), "{text}");
    assert_eq!(value("wflow_fires_queued", &[]), Some(0.0), "{text}");
    let histogram = scrape
        .samples
        .iter()
        .find(|sample| sample.metric == "wflow_task_duration_seconds" && sample.labels.get("flow") == Some("fixture"))
        .unwrap_or_else(|| panic!("no task duration histogram for the fixture flow in {text}"));
    match &histogram.value {
        prometheus_parse::Value::Histogram(buckets) => {
            assert!(buckets.iter().any(|bucket| bucket.count == 1.0), "{buckets:?}");
        }
        other => panic!("wflow_task_duration_seconds is not a histogram: {other:?}"),
    }
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_trigger_and_runs_use_server() {
    let sandbox = Sandbox::new();
    deploy(&sandbox, "adhoc", "echo", "");
    let api = Api::start(&sandbox, None).await;
    let base = api.base.clone();
    let cli = move |args: Vec<String>| {
        let sandbox_path = std::env::temp_dir();
        let state = sandbox_path.join("unused-state");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        support::wflow(&sandbox_path, &state, &args)
    };
    let args = |list: &[&str]| list.iter().map(|arg| arg.to_string()).collect::<Vec<String>>();

    let triggered = tokio::task::spawn_blocking({
        let cli = cli.clone();
        let base = base.clone();
        move || cli(args(&["trigger", "adhoc", "--server", &base, "--param", "mode=error", "--wait"]))
    })
    .await
    .unwrap();
    let listed = tokio::task::spawn_blocking({
        let cli = cli.clone();
        let base = base.clone();
        move || cli(args(&["runs", "list", "--server", &base, "--json"]))
    })
    .await
    .unwrap();
    let runs: Value = serde_json::from_str(&stdout(&listed)).unwrap_or(Value::Null);
    let run_id = runs[0]["run_id"].as_str().unwrap_or_default().to_string();
    let show_output = tokio::task::spawn_blocking({
        let cli = cli.clone();
        let (base, run_id) = (base.clone(), run_id.clone());
        move || cli(args(&["runs", "show", &run_id, "--server", &base]))
    })
    .await
    .unwrap();
    let missing = tokio::task::spawn_blocking({
        let cli = cli.clone();
        let base = base.clone();
        move || cli(args(&["trigger", "absent", "--server", &base]))
    })
    .await
    .unwrap();
    api.stop().await;

    assert_eq!(triggered.status.code(), Some(1), "{}", stderr(&triggered));
    assert!(stdout(&triggered).ends_with(" of deployment `adhoc` ended: failed\n"), "{}", stdout(&triggered));
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert_eq!(runs[0]["deployment"], "adhoc");
    assert_eq!(runs[0]["params"], json!({"mode": "error"}));
    assert!(show_output.status.success(), "{}", stderr(&show_output));
    assert!(
        stdout(&show_output).starts_with(&format!("run {run_id} of flow `fixture`: failed\n")),
        "{}",
        stdout(&show_output)
    );
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("responded 404 Not Found: no deployment is named `absent`"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn cli_trigger_runs_deployment_locally() {
    let sandbox = Sandbox::new();
    let folder = deploy(&sandbox, "adhoc", "echo", "");
    let folder = folder.to_str().unwrap();

    let completed =
        support::wflow(sandbox.path(), &sandbox.state_dir(), &["trigger", "adhoc", "--deployments", folder]);
    let failed = support::wflow(
        sandbox.path(),
        &sandbox.state_dir(),
        &["trigger", "adhoc", "--deployments", folder, "--param", "mode=error"],
    );
    let listed = support::wflow(sandbox.path(), &sandbox.state_dir(), &["runs", "list", "--json"]);
    let nowhere = support::wflow(sandbox.path(), &sandbox.state_dir(), &["trigger", "adhoc"]);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let unreachable_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let unreachable =
        support::wflow(sandbox.path(), &sandbox.state_dir(), &["runs", "list", "--server", &unreachable_url]);

    assert!(completed.status.success(), "{}", stderr(&completed));
    assert_eq!(failed.status.code(), Some(1));
    let runs: Value = serde_json::from_str(&stdout(&listed)).unwrap();
    assert_eq!(runs.as_array().map(Vec::len), Some(2));
    assert!(runs.as_array().unwrap().iter().all(|run| run["deployment"] == "adhoc"), "{runs}");
    assert_eq!(nowhere.status.code(), Some(2));
    assert!(stderr(&nowhere).contains("pass --server URL (or set WFLOW_SERVER)"), "{}", stderr(&nowhere));
    assert_eq!(unreachable.status.code(), Some(2));
    assert!(
        stderr(&unreachable).contains(&format!("cannot reach the server at {unreachable_url}")),
        "{}",
        stderr(&unreachable)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn request_errors_are_json() {
    let sandbox = Sandbox::new();
    deploy(&sandbox, "adhoc", "echo", "");
    let api = Api::start(&sandbox, None).await;
    let trigger_url = format!("{}/api/v1/deployments/adhoc/runs", api.base);

    let no_content_type = api.client.post(&trigger_url).body(r#"{"params": {"mode": [1]}}"#).send().await.unwrap();
    let not_json =
        api.client.post(&trigger_url).header("content-type", "application/json").body("{").send().await.unwrap();
    let wrong_method = api.client.get(&trigger_url).send().await.unwrap();
    let no_route = api.client.get(format!("{}/api/v2/everything", api.base)).send().await.unwrap();
    let bad_limit = api.client.get(format!("{}/api/v1/runs?limit=many", api.base)).send().await.unwrap();
    let mut outcomes = Vec::new();
    for response in [no_content_type, not_json, wrong_method, no_route, bad_limit] {
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        outcomes.push((status, body));
    }
    api.stop().await;

    let statuses: Vec<u16> = outcomes.iter().map(|(status, _)| status.as_u16()).collect();
    // A body without a content type is still read, so its bad value shows.
    assert_eq!(statuses, [400, 400, 405, 404, 400]);
    for (status, body) in &outcomes {
        assert!(body["error"].as_str().is_some_and(|error| !error.is_empty()), "{status}: {body}");
    }
    assert_eq!(outcomes[0].1["error"], "parameter `mode` is [1]; give a string, a number or a boolean");
    assert!(outcomes[1].1["error"].as_str().unwrap().starts_with("the request body is not a JSON object"));
    assert_eq!(outcomes[3].1["error"], "no such route; GET /openapi.json lists them");
}

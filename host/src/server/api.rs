//! The server's HTTP API: JSON over HTTP under `/api/v1`, described by the
//! OpenAPI document that `GET /openapi.json` returns.
//!
//! With a token configured, every request but `GET /healthz` needs the
//! header `Authorization: Bearer TOKEN`. The token is compared through its
//! blake3 hash, whose equality check takes the same time wherever the bytes
//! differ. A request with a missing or wrong token gets 401 and is logged
//! with its method, path and peer, never with the token. Past 10 in a
//! minute, rejections are only counted, and the count is logged once the
//! minute is over.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::deployment::{Misfire, Overlap};
use super::{Server, TriggerError};
use crate::manifest::ParamOverride;
use crate::state::{LiveEntry, RedbAlertLog, RunFilter, RunState, RunStore, live_log_path};

/// The OpenAPI 3.1 document of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// How often a log stream checks its live log file for new lines.
const STREAM_POLL: Duration = Duration::from_millis(200);

/// The maximum number of runs one listing returns.
const MAX_LIST_LIMIT: usize = 1000;

/// The maximum number of rejected requests logged one by one per minute. Later ones in
/// the same minute are counted, and the count is logged once the minute is
/// over, so a flood of bad requests cannot flood the log.
const LOGGED_REJECTIONS_PER_MINUTE: u32 = 10;

/// The maximum number of distinct peer addresses counted in one minute.
const MAX_COUNTED_PEERS: usize = 1000;

#[derive(Clone)]
struct ApiState {
    server: Arc<Server>,
    state_dir: PathBuf,
    /// The blake3 hash of the bearer token, when one is required.
    token_hash: Option<blake3::Hash>,
    /// The base URL of this API, for links to runs.
    base_url: String,
    rejections: Arc<Mutex<RejectionLog>>,
}

/// Decides which rejected requests are logged, at most
/// [`LOGGED_REJECTIONS_PER_MINUTE`] in each minute, and counts the others.
#[derive(Debug, Default)]
struct RejectionLog {
    minute_started: Option<Instant>,
    logged: u32,
    unlogged: u64,
    unlogged_peers: HashSet<IpAddr>,
}

/// The rejected requests of an ended minute that were not logged.
#[derive(Debug, PartialEq, Eq)]
struct Unlogged {
    count: u64,
    /// Distinct peer addresses, up to [`MAX_COUNTED_PEERS`].
    peers: usize,
}

impl RejectionLog {
    /// Returns whether to log the rejection of a request from `peer` at
    /// `now`, and the count of the minute before when that minute is over.
    fn admit(&mut self, now: Instant, peer: IpAddr) -> (bool, Option<Unlogged>) {
        let ended = self.end_minute(now);
        if self.logged < LOGGED_REJECTIONS_PER_MINUTE {
            self.logged += 1;
            return (true, ended);
        }
        self.unlogged += 1;
        if self.unlogged_peers.len() < MAX_COUNTED_PEERS {
            self.unlogged_peers.insert(peer);
        }
        (false, ended)
    }

    /// Starts a new minute when the current one is over at `now`, and
    /// returns its rejections that were not logged, if any.
    fn end_minute(&mut self, now: Instant) -> Option<Unlogged> {
        let minute = Duration::from_secs(60);
        if self.minute_started.is_some_and(|started| now.saturating_duration_since(started) < minute) {
            return None;
        }
        self.minute_started = Some(now);
        self.logged = 0;
        let count = std::mem::take(&mut self.unlogged);
        let peers = std::mem::take(&mut self.unlogged_peers).len();
        (count > 0).then_some(Unlogged { count, peers })
    }
}

impl Drop for RejectionLog {
    /// Logs the count of a minute that the server's stop cut short.
    fn drop(&mut self) {
        if self.unlogged > 0 {
            log_unlogged(&Unlogged { count: self.unlogged, peers: self.unlogged_peers.len() });
        }
    }
}

fn log_unlogged(unlogged: &Unlogged) {
    tracing::warn!(
        count = unlogged.count,
        peers = unlogged.peers,
        "requests rejected for their bearer token over about the last minute and not logged one by one"
    );
}

/// Logs the count of unlogged rejections once their minute is over, until
/// the router that owns `log` is dropped.
async fn report_unlogged(log: Weak<Mutex<RejectionLog>>) {
    let mut ticks = tokio::time::interval(Duration::from_secs(10));
    loop {
        ticks.tick().await;
        let Some(log) = log.upgrade() else {
            return;
        };
        let ended = log.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).end_minute(Instant::now());
        if let Some(unlogged) = ended {
            log_unlogged(&unlogged);
        }
    }
}

/// Builds the API's router. `token`, when given, is required on every
/// request but the health check.
pub fn router(server: Arc<Server>, state_dir: PathBuf, token: Option<&str>, base_url: String) -> Router {
    let state = ApiState {
        server,
        state_dir,
        token_hash: token.map(|token| blake3::hash(token.as_bytes())),
        base_url,
        rejections: Arc::default(),
    };
    if state.token_hash.is_some()
        && let Ok(runtime) = tokio::runtime::Handle::try_current()
    {
        runtime.spawn(report_unlogged(Arc::downgrade(&state.rejections)));
    }
    let api = Router::new()
        .route("/openapi.json", get(openapi))
        .route("/metrics", get(metrics))
        .route("/api/v1/deployments", get(list_deployments))
        .route("/api/v1/deployments/{name}/runs", post(trigger))
        .route("/api/v1/runs", get(list_runs))
        .route("/api/v1/runs/{run_id}", get(show_run))
        .route("/api/v1/runs/{run_id}/logs", get(run_logs))
        .route("/api/v1/runs/{run_id}/logs/stream", get(stream_logs))
        .route("/api/v1/runs/{run_id}/cancel", post(cancel_run))
        .layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(api)
        .fallback(|| async {
            ApiError(StatusCode::NOT_FOUND, "no such route; GET /openapi.json lists them".to_string())
        })
        .layer(middleware::map_response(json_errors))
        .with_state(state)
}

/// The maximum number of bytes of a plain-text error that [`json_errors`] keeps.
const MAX_ERROR_TEXT: usize = 4096;

/// Turns the plain-text errors of axum's extractors (a bad query, a body
/// that is not JSON or lacks its content type, a wrong method) into the
/// API's `{"error": message}` form.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if status.as_u16() < 400 || is_json {
        return response;
    }
    let text = match axum::body::to_bytes(response.into_body(), MAX_ERROR_TEXT).await {
        Ok(bytes) if !bytes.is_empty() => String::from_utf8_lossy(&bytes).into_owned(),
        _ => status.canonical_reason().unwrap_or("request failed").to_lowercase(),
    };
    let hint = match status {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "; send the header `Content-Type: application/json`",
        StatusCode::METHOD_NOT_ALLOWED => "; GET /openapi.json lists each route's methods",
        _ => "",
    };
    ApiError(status, format!("{text}{hint}")).into_response()
}

/// An error response: a status and `{"error": message}`.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        tracing::error!(error = %format!("{error:#}"), "an API request failed");
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{error:#}"))
    }
}

async fn require_token(
    State(state): State<ApiState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let Some(expected) = state.token_hash else {
        return next.run(request).await;
    };
    let reason = match bearer_token(request.headers()) {
        None => "missing",
        Some(token) if blake3::hash(token.as_bytes()) == expected => return next.run(request).await,
        Some(_) => "wrong",
    };
    let (log, ended) =
        state.rejections.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).admit(Instant::now(), peer.ip());
    if let Some(unlogged) = ended {
        log_unlogged(&unlogged);
    }
    if log {
        tracing::warn!(method = %request.method(), path = %request.uri().path(), %peer, reason, "rejected a request without a valid bearer token");
    }
    let mut response =
        ApiError(StatusCode::UNAUTHORIZED, format!("the bearer token is {reason}; send `Authorization: Bearer TOKEN`"))
            .into_response();
    response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    response
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

async fn metrics(State(state): State<ApiState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, super::metrics::CONTENT_TYPE)], state.server.metrics_text())
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

#[derive(Serialize)]
struct DeploymentView {
    name: String,
    flow: String,
    description: Option<String>,
    paused: bool,
    params: BTreeMap<String, String>,
    schedule: Option<ScheduleView>,
    next_runs: Vec<FireTimeView>,
    active_runs: usize,
}

#[derive(Serialize)]
struct ScheduleView {
    spec: String,
    time_zone: String,
    misfire: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    catch_up_seconds: Option<u64>,
    overlap: &'static str,
}

#[derive(Serialize)]
struct FireTimeView {
    local: String,
    utc: String,
}

#[derive(Deserialize)]
struct NextQuery {
    /// How many next fire times to list per deployment.
    next: Option<usize>,
}

async fn list_deployments(State(state): State<ApiState>, Query(query): Query<NextQuery>) -> Json<Vec<DeploymentView>> {
    let count = query.next.unwrap_or(5).min(100);
    let views = state
        .server
        .deployments()
        .into_iter()
        .map(|deployment| {
            let schedule = deployment.schedule.as_ref().map(|settings| ScheduleView {
                spec: settings.schedule.to_string(),
                time_zone: settings.schedule.time_zone_name().to_string(),
                misfire: match settings.misfire {
                    Misfire::All { .. } => "all",
                    Misfire::Latest => "latest",
                    Misfire::None => "none",
                },
                catch_up_seconds: match settings.misfire {
                    Misfire::All { catch_up } => Some(catch_up.as_secs()),
                    _ => None,
                },
                overlap: match settings.overlap {
                    Overlap::Skip => "skip",
                    Overlap::Queue => "queue",
                    Overlap::Allow => "allow",
                },
            });
            let next_runs = if deployment.paused {
                Vec::new()
            } else {
                state
                    .server
                    .upcoming(&deployment.name, count)
                    .into_iter()
                    .map(|time| FireTimeView { local: time.to_string(), utc: time.timestamp().to_string() })
                    .collect()
            };
            DeploymentView {
                name: deployment.name.clone(),
                flow: deployment.flow.display().to_string(),
                description: deployment.description.clone(),
                paused: deployment.paused,
                params: deployment.params.iter().map(|param| (param.name.clone(), param.value.clone())).collect(),
                schedule,
                next_runs,
                active_runs: state.server.active_runs_of(&deployment.name),
            }
        })
        .collect();
    Json(views)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TriggerBody {
    /// Parameter values that replace the deployment's, as `--param` takes
    /// them: strings, numbers or booleans.
    #[serde(default)]
    params: BTreeMap<String, Value>,
}

async fn trigger(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    // The body is read as JSON whatever its content type, so that a client
    // that forgets the header does not have its parameters ignored.
    let body: TriggerBody = if body.iter().all(u8::is_ascii_whitespace) {
        TriggerBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|error| {
            ApiError(
                StatusCode::BAD_REQUEST,
                format!("the request body is not a JSON object like {{\"params\": {{\"NAME\": \"VALUE\"}}}}: {error}"),
            )
        })?
    };
    let mut overrides = Vec::new();
    for (param, value) in body.params {
        let value = match value {
            Value::String(text) => text,
            Value::Number(number) => number.to_string(),
            Value::Bool(flag) => flag.to_string(),
            other => {
                return Err(ApiError(
                    StatusCode::BAD_REQUEST,
                    format!("parameter `{param}` is {other}; give a string, a number or a boolean"),
                ));
            }
        };
        overrides.push(ParamOverride { name: param, value });
    }
    match state.server.trigger(&name, &overrides).await {
        Ok(run_id) => {
            tracing::info!(deployment = %name, %run_id, "started a run on request");
            let link = format!("{}/api/v1/runs/{run_id}", state.base_url);
            Ok((StatusCode::ACCEPTED, Json(json!({ "run_id": run_id, "deployment": name, "link": link }))))
        }
        Err(error @ TriggerError::UnknownDeployment { .. }) => Err(ApiError(StatusCode::NOT_FOUND, error.to_string())),
        Err(error @ TriggerError::InvalidParams { .. }) => Err(ApiError(StatusCode::BAD_REQUEST, error.to_string())),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunsQuery {
    flow: Option<String>,
    deployment: Option<String>,
    state: Option<String>,
    limit: Option<usize>,
}

async fn list_runs(State(state): State<ApiState>, Query(query): Query<RunsQuery>) -> Result<Json<Value>, ApiError> {
    let run_state = match &query.state {
        Some(name) => Some(name.parse::<RunState>().map_err(|error| ApiError(StatusCode::BAD_REQUEST, error))?),
        None => None,
    };
    let filter = RunFilter {
        flow: query.flow,
        state: run_state,
        deployment: query.deployment,
        limit: Some(query.limit.unwrap_or(50).min(MAX_LIST_LIMIT)),
    };
    let runs = state.server.host.runs().runs(&filter)?;
    Ok(Json(serde_json::to_value(runs).map_err(anyhow::Error::from)?))
}

async fn show_run(State(state): State<ApiState>, Path(run_id): Path<String>) -> Result<Json<Value>, ApiError> {
    let runs = state.server.host.runs();
    let Some(run) = runs.run(&run_id)? else {
        return Err(unknown_run(&run_id));
    };
    let tasks = runs.tasks(&run_id)?;
    let alerts = RedbAlertLog::new(state.server.host.state().database()).alerts(&run_id)?;
    Ok(Json(json!({ "run": run, "tasks": tasks, "alerts": alerts })))
}

fn unknown_run(run_id: &str) -> ApiError {
    ApiError(StatusCode::NOT_FOUND, format!("no run has the id `{run_id}`; GET /api/v1/runs lists them"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogsQuery {
    /// Only this task's lines; `ID[N]` names element N of a mapped task.
    task: Option<String>,
}

async fn run_logs(
    State(state): State<ApiState>,
    Path(run_id): Path<String>,
    Query(query): Query<LogsQuery>,
) -> Result<Json<Value>, ApiError> {
    let runs = state.server.host.runs();
    if runs.run(&run_id)?.is_none() {
        return Err(unknown_run(&run_id));
    }
    // A mapped task's elements log under `ID[N]`.
    let tasks: Vec<String> = match query.task {
        Some(task) => vec![task],
        None => {
            let mut ids = Vec::new();
            for task in runs.tasks(&run_id)? {
                let elements = (0..task.elements.unwrap_or(0)).map(|index| format!("{}[{index}]", task.task_id));
                let elements: Vec<String> = elements.collect();
                ids.push(task.task_id);
                ids.extend(elements);
            }
            ids
        }
    };
    let mut lines = Vec::new();
    for task in tasks {
        for line in runs.logs(&run_id, &task)? {
            lines.push(json!({ "task": task, "line": line }));
        }
    }
    Ok(Json(Value::Array(lines)))
}

/// Streams a run's log lines as they are written, one JSON object per line
/// (`{"task", "line"}`), then `{"end": STATE}` when the run ends. A run that
/// has ended streams its stored lines and the end at once.
async fn stream_logs(
    State(state): State<ApiState>,
    Path(run_id): Path<String>,
    Query(query): Query<LogsQuery>,
) -> Result<Response, ApiError> {
    let Some(run) = state.server.host.runs().run(&run_id)? else {
        return Err(unknown_run(&run_id));
    };
    let path = live_log_path(&state.state_dir, &run_id);
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(64);
    let only_task = query.task;
    let server = state.server.clone();
    tokio::spawn(async move {
        let send = |entry: &Value| {
            let mut bytes = serde_json::to_vec(entry).expect("JSON values serialize");
            bytes.push(b'\n');
            sender.send(Ok(bytes))
        };
        let is_selected =
            |task: &str| only_task.as_ref().is_none_or(|only| only == task || task.starts_with(&format!("{only}[")));
        if run.state != RunState::Running || !path.exists() {
            // An ended run: its stored lines, then its state.
            let runs = server.host.runs();
            let tasks = runs.tasks(&run.run_id).unwrap_or_default();
            for task in tasks.iter().filter(|task| is_selected(&task.task_id)) {
                for line in runs.logs(&run.run_id, &task.task_id).unwrap_or_default() {
                    if send(&json!({ "task": task.task_id, "line": line })).await.is_err() {
                        return;
                    }
                }
            }
            let state = runs.run(&run.run_id).ok().flatten().map_or(run.state, |record| record.state);
            let _ = send(&json!({ "end": state })).await;
            return;
        }
        // The file is opened once and read from where the last read ended,
        // so a long log is not read again on every poll.
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(error) => {
                let _ = sender.send(Err(error)).await;
                return;
            }
        };
        let mut partial: Vec<u8> = Vec::new();
        loop {
            if tokio::io::AsyncReadExt::read_to_end(&mut file, &mut partial).await.is_err() {
                return;
            }
            while let Some(end) = partial.iter().position(|&byte| byte == b'\n') {
                let line: Vec<u8> = partial.drain(..=end).collect();
                let Ok(entry) = serde_json::from_slice::<LiveEntry>(&line) else {
                    continue;
                };
                let value = match entry {
                    LiveEntry::Line { task, line } if is_selected(&task) => json!({ "task": task, "line": line }),
                    LiveEntry::Line { .. } => continue,
                    LiveEntry::End { end } => {
                        let _ = send(&json!({ "end": end })).await;
                        return;
                    }
                };
                if send(&value).await.is_err() {
                    return;
                }
            }
            // A client that went away ends the stream's polling too.
            if sender.is_closed() {
                return;
            }
            tokio::time::sleep(STREAM_POLL).await;
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], Body::from_stream(stream)).into_response())
}

async fn cancel_run(
    State(state): State<ApiState>,
    Path(run_id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if state.server.cancel(&run_id) {
        tracing::info!(%run_id, "cancelling a run on request");
        return Ok((StatusCode::ACCEPTED, Json(json!({ "run_id": run_id, "cancelling": true }))));
    }
    match state.server.host.runs().run(&run_id)? {
        Some(run) => Err(ApiError(
            StatusCode::CONFLICT,
            format!(
                "run `{run_id}` is {}, not running in this server; only a running run can be cancelled",
                run.state.name()
            ),
        )),
        None => Err(unknown_run(&run_id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejection_log_counts_past_limit() {
        let mut log = RejectionLog::default();
        let start = Instant::now();
        let first_peer = IpAddr::from([127, 0, 0, 1]);
        let second_peer = IpAddr::from([127, 0, 0, 2]);
        for _ in 0..LOGGED_REJECTIONS_PER_MINUTE {
            assert_eq!(log.admit(start, first_peer), (true, None));
        }
        assert_eq!(log.admit(start + Duration::from_secs(1), first_peer), (false, None));
        assert_eq!(log.admit(start + Duration::from_secs(2), second_peer), (false, None));
        assert_eq!(log.admit(start + Duration::from_secs(59), second_peer), (false, None));
        assert_eq!(log.end_minute(start + Duration::from_secs(30)), None, "the minute is not over");

        let ended = log.end_minute(start + Duration::from_secs(60));
        assert_eq!(ended, Some(Unlogged { count: 3, peers: 2 }));
        assert_eq!(log.admit(start + Duration::from_secs(61), first_peer), (true, None), "a new minute logs again");
        assert_eq!(log.end_minute(start + Duration::from_secs(121)), None, "nothing went unlogged");
    }

    #[test]
    fn rejection_in_next_minute_reports_unlogged() {
        let mut log = RejectionLog::default();
        let start = Instant::now();
        let peer = IpAddr::from([127, 0, 0, 1]);
        for _ in 0..=LOGGED_REJECTIONS_PER_MINUTE {
            log.admit(start, peer);
        }
        let after = log.admit(start + Duration::from_secs(90), peer);
        assert_eq!(after, (true, Some(Unlogged { count: 1, peers: 1 })));
    }
}

//! A client of a running `wflow-host serve`, for the commands that work
//! against a server as well as against the local state directory.

use anyhow::{Context as _, Result, anyhow, bail};
use serde_json::Value;

/// The environment variable that names a running server, such as
/// `http://127.0.0.1:7420`.
pub const SERVER_ENV: &str = "WFLOW_SERVER";

/// The environment variable with the server's bearer token.
const TOKEN_ENV: &str = "WFLOW_API_TOKEN";

/// A running server's API.
pub struct Remote {
    base: String,
    token: Option<String>,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Remote {
    /// Connects to `server`, else to the server that WFLOW_SERVER names;
    /// `None` when neither is set. The token comes from WFLOW_API_TOKEN.
    pub fn from_flag(server: Option<&str>) -> Result<Option<Remote>> {
        let base = match server {
            Some(server) => server.to_string(),
            None => match std::env::var(SERVER_ENV) {
                Ok(server) if !server.trim().is_empty() => server,
                _ => return Ok(None),
            },
        };
        let base = base.trim().trim_end_matches('/').to_string();
        if !base.starts_with("http://") && !base.starts_with("https://") {
            bail!("server address `{base}` is not an http:// or https:// URL; write it as http://127.0.0.1:7420");
        }
        let token =
            std::env::var(TOKEN_ENV).ok().map(|token| token.trim().to_string()).filter(|token| !token.is_empty());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("failed to start the async runtime")?;
        Ok(Some(Remote { base, token, client: reqwest::Client::new(), runtime }))
    }

    /// Sends a GET request for `path` and returns the JSON response.
    pub fn get(&self, path: &str) -> Result<Value> {
        self.send(self.client.get(format!("{}{path}", self.base)))
    }

    /// Sends a POST request with the JSON `body` to `path`.
    pub fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.send(self.client.post(format!("{}{path}", self.base)).json(body))
    }

    fn send(&self, request: reqwest::RequestBuilder) -> Result<Value> {
        let request = match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        self.runtime.block_on(async {
            let response = request.send().await.map_err(|error| self.unreachable(error))?;
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            if status.is_success() {
                return Ok(body);
            }
            let message = body["error"].as_str().map_or_else(|| format!("HTTP {status}"), str::to_string);
            Err(anyhow!("the server at {} responded {status}: {message}", self.base))
        })
    }

    /// Streams the NDJSON lines of `path`, calling `line` for each, until
    /// the server ends the response.
    pub fn stream(&self, path: &str, mut line: impl FnMut(Value) -> Result<()>) -> Result<()> {
        let request = self.client.get(format!("{}{path}", self.base));
        let request = match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        self.runtime.block_on(async {
            let mut response = request.send().await.map_err(|error| self.unreachable(error))?;
            let status = response.status();
            if !status.is_success() {
                let body: Value = response.json().await.unwrap_or(Value::Null);
                let message = body["error"].as_str().map_or_else(|| format!("HTTP {status}"), str::to_string);
                bail!("the server at {} responded {status}: {message}", self.base);
            }
            let mut pending = Vec::new();
            while let Some(chunk) = response.chunk().await.context("the log stream broke off")? {
                pending.extend_from_slice(&chunk);
                while let Some(end) = pending.iter().position(|&byte| byte == b'\n') {
                    let text: Vec<u8> = pending.drain(..=end).collect();
                    let value = serde_json::from_slice(&text).context("the server sent a line that is not JSON")?;
                    line(value)?;
                }
            }
            Ok(())
        })
    }

    fn unreachable(&self, error: reqwest::Error) -> anyhow::Error {
        anyhow!(
            "cannot reach the server at {}: {}; check that `wflow-host serve` runs there, or unset {SERVER_ENV} \
             and drop --server to use the local state directory",
            self.base,
            error.without_url()
        )
    }
}

//! `wflow-host serve`: run deployments on their schedules until stopped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use clap::Args;
use wflow_alerts::Secrets;
use wflow_host::server::clock::SystemClock;
use wflow_host::server::{Server, api};
use wflow_host::{Host, HostOptions};

use super::{Status, current_dir};

/// How often the server checks the deployments for changes.
const WATCH_PERIOD: Duration = Duration::from_secs(2);

/// The shortest API token accepted.
const MIN_TOKEN_CHARS: usize = 16;

/// The environment variable that contains the API's bearer token.
pub const TOKEN_ENV: &str = "WFLOW_API_TOKEN";

/// Run deployments on their schedules, with an HTTP API, until stopped.
///
/// A deployment is a flow manifest with parameter values and a schedule,
/// in a TOML file; docs/server.md describes them and the API. The server
/// reloads the deployments and the secrets file when a file changes or on
/// SIGHUP, and logs what changed. Ctrl-C or SIGTERM stops it: running runs
/// are cancelled and recorded.
#[derive(Args)]
pub struct ServeArgs {
    /// A folder of deployment files (`*.toml`, one deployment each), or one
    /// file with a `[[deployments]]` table per deployment.
    #[arg(long, value_name = "PATH")]
    deployments: PathBuf,

    /// The address the HTTP API listens on. Any address other than a
    /// loopback one needs a token.
    #[arg(long, value_name = "ADDRESS:PORT", default_value = "127.0.0.1:7420")]
    bind: SocketAddr,

    /// A file whose first line is the API's bearer token. The environment
    /// variable WFLOW_API_TOKEN sets it too. With a token, every request
    /// needs `Authorization: Bearer TOKEN`.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,

    /// A TOML file of `name = "value"` secrets that alert channels refer to
    /// with `{ secret = "name" }`. It must be readable by its owner only
    /// (chmod 600). The server reads it again when its content or
    /// permissions change, and on SIGHUP.
    #[arg(long, value_name = "FILE")]
    secrets: Option<PathBuf>,
}

pub fn execute(args: ServeArgs, state_dir: &Path, host_options: &HostOptions) -> Status {
    let deployments = current_dir().join(&args.deployments);
    if !deployments.exists() {
        eprintln!(
            "error: deployments path `{}` does not exist; pass a folder of deployment files or one deployments file",
            args.deployments.display()
        );
        return Status::InvalidInput;
    }
    let token = match read_token(args.token_file.as_deref()) {
        Ok(token) => token,
        Err(message) => {
            eprintln!("error: {message}");
            return Status::InvalidInput;
        }
    };
    if token.is_none() && !args.bind.ip().is_loopback() {
        eprintln!(
            "error: the API would listen on {}, which is not a loopback address, without a token; set \
             {TOKEN_ENV} or pass --token-file, or bind to 127.0.0.1",
            args.bind
        );
        return Status::InvalidInput;
    }
    let secrets = match &args.secrets {
        Some(path) => match Secrets::load(path) {
            Ok(secrets) => secrets,
            Err(error) => {
                eprintln!("error: {error}");
                return Status::InvalidInput;
            }
        },
        None => Secrets::empty(),
    };
    let runtime = match super::async_runtime() {
        Ok(runtime) => runtime,
        Err(status) => return status,
    };
    // The server starts tasks (alerts about runs of an earlier process) as
    // it is created.
    let _entered = runtime.enter();
    let host = match Host::open_with(state_dir, host_options) {
        Ok(host) => Arc::new(host),
        Err(error) => {
            eprintln!("error: {error:#}");
            return Status::HostError;
        }
    };
    let server = match Server::new(host, &deployments, Arc::new(SystemClock), Arc::new(secrets)) {
        Ok(server) => server,
        Err(error) => {
            eprintln!("error: {error:#}");
            return Status::HostError;
        }
    };
    let listener = match runtime.block_on(tokio::net::TcpListener::bind(args.bind)) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: cannot listen on {}: {error}; pass another --bind address", args.bind);
            return Status::HostError;
        }
    };
    let address = listener.local_addr().unwrap_or(args.bind);
    server.set_base_url(&format!("http://{address}"));
    tracing::info!(
        deployments = server.deployments().len(),
        path = %deployments.display(),
        state_dir = %state_dir.display(),
        api = %format!("http://{address}"),
        token = token.is_some(),
        "serving"
    );

    let router = api::router(server.clone(), state_dir.to_path_buf(), token.as_deref(), format!("http://{address}"));
    let status = runtime.block_on(async {
        let mut watched = vec![deployments.clone()];
        watched.extend(args.secrets.clone());
        let watcher = tokio::spawn(watch_changes(server.clone(), watched));
        let signals = tokio::spawn(handle_signals(server.clone()));
        let http = tokio::spawn({
            let server = server.clone();
            async move {
                axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
                    .with_graceful_shutdown(async move { server.stopping().await })
                    .await
            }
        });
        server.serve().await;
        watcher.abort();
        signals.abort();
        match http.await {
            Ok(Ok(())) => Status::Success,
            Ok(Err(error)) => {
                tracing::error!(%error, "the HTTP API failed");
                Status::HostError
            }
            Err(error) => {
                tracing::error!(%error, "the HTTP API task ended abnormally");
                Status::HostError
            }
        }
    });
    tracing::info!("stopped");
    status
}

/// Reads the API token from `token_file`, else from WFLOW_API_TOKEN.
/// An empty token is an error, not an open API.
fn read_token(token_file: Option<&Path>) -> Result<Option<String>, String> {
    let (token, source) = match token_file {
        Some(path) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                let mode = std::fs::metadata(path)
                    .map_err(|error| format!("cannot read the token file `{}`: {error}", path.display()))?
                    .permissions()
                    .mode();
                if mode & 0o077 != 0 {
                    return Err(format!(
                        "the token file `{}` can be read by other users (mode {:o}); run `chmod 600 {}`",
                        path.display(),
                        mode & 0o777,
                        path.display()
                    ));
                }
            }
            let text = std::fs::read_to_string(path)
                .map_err(|error| format!("cannot read the token file `{}`: {error}", path.display()))?;
            (text.lines().next().unwrap_or("").trim().to_string(), format!("token file `{}`", path.display()))
        }
        None => match std::env::var(TOKEN_ENV) {
            Ok(token) => (token.trim().to_string(), TOKEN_ENV.to_string()),
            Err(_) => return Ok(None),
        },
    };
    if token.chars().count() < MIN_TOKEN_CHARS {
        return Err(format!(
            "the {source} gives a token of {} characters; give at least {MIN_TOKEN_CHARS} random characters",
            token.chars().count()
        ));
    }
    Ok(Some(token))
}

/// Asks for a reload when a deployment file or the secrets file is added,
/// removed or changed. Polling file metadata, rather than subscribing to
/// file system events, keeps this working on network file systems too.
async fn watch_changes(server: Arc<Server>, paths: Vec<PathBuf>) {
    let fingerprints = || paths.iter().flat_map(|path| fingerprint(path)).collect::<Vec<_>>();
    let mut last = fingerprints();
    loop {
        tokio::time::sleep(WATCH_PERIOD).await;
        let current = fingerprints();
        if current != last {
            last = current;
            server.request_reload();
        }
    }
}

/// The parts of a file's metadata that the watcher compares. The mode and
/// the change time catch a `chmod`, which leaves the modification time and
/// size alone. The inode catches a file replaced by a copy with the same
/// modification time and size, as `cp -p` makes.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct FileState {
    path: PathBuf,
    modified: Option<SystemTime>,
    len: u64,
    mode: u32,
    changed: (i64, i64),
    inode: u64,
}

/// Returns the state of the file at `path`, or of each `*.toml` file of
/// the folder at `path`.
fn fingerprint(path: &Path) -> Vec<FileState> {
    use std::os::unix::fs::MetadataExt as _;
    let describe = |file: PathBuf| match std::fs::metadata(&file) {
        Ok(metadata) => FileState {
            modified: metadata.modified().ok(),
            len: metadata.len(),
            mode: metadata.mode(),
            changed: (metadata.ctime(), metadata.ctime_nsec()),
            inode: metadata.ino(),
            path: file,
        },
        Err(_) => FileState { path: file, modified: None, len: 0, mode: 0, changed: (0, 0), inode: 0 },
    };
    if !path.is_dir() {
        return vec![describe(path.to_path_buf())];
    }
    let mut files: Vec<_> = std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|file| file.extension().is_some_and(|extension| extension == "toml"))
                .map(describe)
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Reloads on SIGHUP; stops the server on SIGINT or SIGTERM.
async fn handle_signals(server: Arc<Server>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut hangup), Ok(mut interrupt), Ok(mut terminate)) =
        (signal(SignalKind::hangup()), signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        tracing::error!(
            "failed to install signal handlers; SIGHUP does not reload and Ctrl-C ends the process at once"
        );
        return;
    };
    loop {
        tokio::select! {
            _ = hangup.recv() => {
                tracing::info!("received SIGHUP: reloading the deployments and the secrets file");
                server.request_reload();
            }
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
        }
    }
    tracing::info!("stopping: running runs are cancelled; send the signal again to exit at once");
    server.shutdown();
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    tracing::warn!("received a second stop signal: exiting without waiting for the runs to end");
    // The runs stay recorded as running, and the next start marks them crashed.
    std::process::exit(130);
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn fingerprint_sees_permission_change() {
        let folder = std::env::temp_dir().join(format!("wflow-fingerprint-{}", std::process::id()));
        std::fs::create_dir_all(&folder).unwrap();
        let file = folder.join("secrets.toml");
        std::fs::write(&file, "hook = \"http://127.0.0.1:9/\"\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let before = fingerprint(&file);

        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let after = fingerprint(&file);
        std::fs::remove_dir_all(&folder).unwrap();

        assert_eq!(before[0].len, after[0].len);
        assert_ne!(before, after, "a chmod left the fingerprint alone");
    }
}

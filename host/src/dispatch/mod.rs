//! Dispatch of task attempts to wherever they run.
//!
//! The executor hands each attempt to a [`Dispatcher`] as a self-contained
//! [`TaskRequest`]: the component's hash and bytes, the context, the input
//! and the limits. [`LocalDispatcher`] runs it on this machine's
//! [`Runtime`], on a blocking thread so that guest work never stalls the
//! async runtime. A remote dispatcher sends the same request elsewhere.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::manifest::Limits;
use crate::runtime::{LiveLog, Runtime, TaskContext, TaskFailure, TaskResult};

/// A component, named by the hex blake3 hash of its bytes.
#[derive(Clone)]
pub struct ComponentRef {
    pub hash: String,
    pub bytes: Arc<[u8]>,
}

/// Everything needed to run one task attempt.
#[derive(Clone)]
pub struct TaskRequest {
    pub component: ComponentRef,
    pub context: TaskContext,
    pub input: Arc<Vec<u8>>,
    pub limits: Limits,
}

/// A future that returns the result of one attempt.
pub type TaskFuture = Pin<Box<dyn Future<Output = TaskResult> + Send>>;

/// Runs task attempts.
pub trait Dispatcher: Send + Sync {
    /// Starts one attempt and returns its result when it ends. A failure of
    /// the task is a [`TaskResult`] with an error, never a panic. Cancelling
    /// `cancel` ends the attempt early with [`TaskFailure::Cancelled`]. `live`
    /// receives log lines as the task writes them.
    fn dispatch(&self, request: TaskRequest, cancel: CancellationToken, live: Option<LiveLog>) -> TaskFuture;
}

/// Runs attempts in this process.
pub struct LocalDispatcher {
    runtime: Arc<Runtime>,
}

impl LocalDispatcher {
    pub fn new(runtime: Arc<Runtime>) -> Self {
        LocalDispatcher { runtime }
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }
}

impl Dispatcher for LocalDispatcher {
    fn dispatch(&self, request: TaskRequest, cancel: CancellationToken, live: Option<LiveLog>) -> TaskFuture {
        let runtime = self.runtime.clone();
        Box::pin(async move {
            // Compiling takes up to seconds, so a component not loaded yet
            // is loaded on a blocking thread. The attempt itself runs on
            // this async task, without a thread hop.
            let component = match runtime.loaded(&request.component.hash) {
                Some(component) => component,
                None => {
                    let loader = runtime.clone();
                    let (hash, bytes) = (request.component.hash.clone(), request.component.bytes.clone());
                    match tokio::task::spawn_blocking(move || loader.load(&hash, &bytes)).await {
                        Ok(Ok(component)) => component,
                        Ok(Err(failure)) => return TaskResult::failed_before_start(failure, None),
                        Err(error) => {
                            let task = &request.context.task;
                            tracing::error!(task = %task, %error, "component loading thread ended without a result");
                            let reason = format!("the host thread loading it ended unexpectedly: {error}");
                            return TaskResult::failed_before_start(TaskFailure::Trap { reason }, None);
                        }
                    }
                }
            };
            runtime.run_async(&component, &request.context, &request.input, request.limits, &cancel, live).await
        })
    }
}

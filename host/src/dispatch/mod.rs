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
            let task = request.context.task.clone();
            let attempt = tokio::task::spawn_blocking(move || {
                let component = match runtime.load(&request.component.hash, &request.component.bytes) {
                    Ok(component) => component,
                    Err(failure) => return TaskResult::failed_before_start(failure, None),
                };
                runtime.run(&component, &request.context, &request.input, request.limits, &cancel, live)
            });
            match attempt.await {
                Ok(result) => result,
                Err(error) => {
                    tracing::error!(task = %task, %error, "task thread ended without a result");
                    let reason = format!("the host thread running it ended unexpectedly: {error}");
                    TaskResult::failed_before_start(TaskFailure::Trap { reason }, None)
                }
            }
        })
    }
}

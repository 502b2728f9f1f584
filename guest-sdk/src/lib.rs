//! Write wflow tasks in Rust.
//!
//! A task is one function from a typed input to a typed output, exported
//! with the [`task!`] macro:
//!
//! ```no_run
//! use serde::{Deserialize, Serialize};
//! use wflow_guest::{Context, Result};
//!
//! #[derive(Deserialize)]
//! struct Numbers {
//!     values: Vec<i64>,
//! }
//!
//! #[derive(Serialize)]
//! struct Total {
//!     total: i64,
//! }
//!
//! fn sum(ctx: &Context, input: Numbers) -> Result<Total> {
//!     wflow_guest::info!("{}: adding {} values", ctx.task(), input.values.len());
//!     Ok(Total { total: input.values.iter().sum() })
//! }
//!
//! wflow_guest::task!(sum);
//! ```
//!
//! Input and output are JSON by default: any `serde` type works. Use
//! [`Bytes`] or [`Text`] for raw input or output, such as a CSV file that the
//! host read for the task:
//!
//! ```no_run
//! use wflow_guest::{Context, ErrorContext, Result, Text};
//!
//! /// Counts the data lines of a CSV file with a header.
//! fn count(ctx: &Context, csv: Text) -> Result<u64> {
//!     let lines = csv.0.lines().skip(1).filter(|line| !line.is_empty()).count();
//!     let limit: i64 = ctx.param("max_rows").context("reading the row limit")?;
//!     if lines as i64 > limit {
//!         return Err(wflow_guest::TaskError::fatal(format!("{lines} rows, more than max_rows = {limit}")));
//!     }
//!     Ok(lines as u64)
//! }
//!
//! wflow_guest::task!(count);
//! ```
//!
//! # Errors
//!
//! A [`TaskError`] fails the attempt with its message. It is fatal unless
//! made with [`TaskError::retryable`], and the manifest's `retry` settings
//! decide whether a retryable error runs the task again. `?` turns any
//! standard error into a fatal one, and [`ErrorContext::context`] adds what
//! the task was doing. A panic stops the task: the host reports "panicked"
//! with its message and retries it like a retryable error.
//!
//! # Logs
//!
//! [`info!`] and the other log macros write to the run's log, which
//! `wflow-host runs logs` shows; so do `println!` and `eprintln!`, as
//! stdout and stderr lines.
//!
//! # Building
//!
//! A task crate has `crate-type = ["cdylib"]` and is built for the
//! `wasm32-wasip2` target: `cargo build --release --target wasm32-wasip2`.
//! `wflow-host new task NAME --lang rust` creates one that builds as it is.

#![warn(missing_docs)]

mod context;
mod error;
mod io;
pub mod log;

pub use context::{Context, ParamValue};
pub use error::{ErrorContext, Result, TaskError};
pub use io::{Bytes, Input, Output, Text};

/// Bindings generated from the wflow WIT world; used by [`task!`].
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "task",
        pub_export_macro: true,
        export_macro_name: "__export_task_world",
        default_bindings_module: "wflow_guest::bindings",
    });
}

/// Glue between the generated bindings and a typed task function.
#[doc(hidden)]
pub mod __private {
    use crate::bindings::wflow::task::types;
    use crate::{Context, Input, Output, Result};

    /// Decodes the input, calls the task function and encodes its output.
    pub fn run_task<I: Input, O: Output>(
        context: types::Context,
        input: Vec<u8>,
        task: fn(&Context, I) -> Result<O>,
    ) -> core::result::Result<Vec<u8>, types::TaskError> {
        let context = Context::from_raw(context);
        let result =
            I::from_input(input).and_then(|input| task(&context, input)).and_then(|output| output.into_output());
        result
            .map_err(|error| types::TaskError { message: error.message().to_string(), retryable: error.is_retryable() })
    }
}

/// Exports a function as this component's task.
///
/// The function has the signature `fn(&Context, I) -> Result<O>`, where `I`
/// implements [`Input`] and `O` implements [`Output`]. Use the macro once per
/// crate.
#[macro_export]
macro_rules! task {
    ($function:path) => {
        #[doc(hidden)]
        struct __WflowTask;

        impl $crate::bindings::Guest for __WflowTask {
            fn run(
                context: $crate::bindings::wflow::task::types::Context,
                input: ::std::vec::Vec<u8>,
            ) -> ::core::result::Result<::std::vec::Vec<u8>, $crate::bindings::wflow::task::types::TaskError> {
                $crate::__private::run_task(context, input, $function)
            }
        }

        $crate::bindings::__export_task_world!(__WflowTask);
    };
}

//! The benchmarks' light task, the same work in every orchestrator compared:
//! computes fib(n) by plain recursion.
//!
//! Input `{"n": 10, "step": 3}` gives `{"n": 10, "step": 4, "fib": 55}`, so
//! that a chain of these tasks passes each output on as the next input.
//! Input `{"n": 10, "count": 1000}` gives an array of 1000 inputs
//! `{"n": 10, "step": i}`, for a fan-out to map over.

use serde::{Deserialize, Serialize};
use wflow_guest::{Context, Result, TaskError};

#[derive(Deserialize)]
struct Input {
    n: u32,
    #[serde(default)]
    step: u64,
    count: Option<u64>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Output {
    One { n: u32, step: u64, fib: u64 },
    Spread(Vec<Step>),
}

#[derive(Serialize)]
struct Step {
    n: u32,
    step: u64,
}

fn fib(n: u32) -> u64 {
    if n < 2 { u64::from(n) } else { fib(n - 1) + fib(n - 2) }
}

fn run(_ctx: &Context, input: Input) -> Result<Output> {
    if input.n > 40 {
        return Err(TaskError::fatal(format!("n is {}; the benchmark task takes n up to 40", input.n)));
    }
    if let Some(count) = input.count {
        return Ok(Output::Spread((0..count).map(|step| Step { n: input.n, step }).collect()));
    }
    Ok(Output::One { n: input.n, step: input.step + 1, fib: fib(std::hint::black_box(input.n)) })
}

wflow_guest::task!(run);

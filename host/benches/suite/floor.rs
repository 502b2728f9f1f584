//! The floor: the least a wasmtime program can do to run one task, with the
//! same engine settings and limits as the host. wflow's per-task cost is
//! reported as a ratio to it.

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

wasmtime::component::bindgen!({ path: "../wit", world: "task" });

struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl wflow::task::types::Host for State {}

impl wflow::task::log::Host for State {
    fn log(&mut self, _level: wflow::task::log::Level, _message: String) {}
}

/// Per-call times of the floor.
pub struct Floor {
    /// A fresh store and instance, then one call: what every task run needs.
    pub instantiate_and_call: Vec<Duration>,
    /// One call on an instance made beforehand: the task's own compute.
    pub call_only: Vec<Duration>,
}

/// Runs `component` `calls` times each way, with fuel and a memory limit as
/// the host sets them, on `input`.
pub fn measure(component_bytes: &[u8], input: &[u8], calls: usize) -> Result<Floor> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.consume_fuel(true);
    config.epoch_interruption(true);
    let engine = Engine::new(&config).map_err(|error| anyhow!("{error}"))?;
    let component = Component::new(&engine, component_bytes).map_err(|error| anyhow!("{error}"))?;
    let mut linker = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|error| anyhow!("{error}"))?;
    Task::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state).map_err(|error| anyhow!("{error}"))?;
    let pre = TaskPre::new(linker.instantiate_pre(&component).map_err(|error| anyhow!("{error}"))?)
        .map_err(|error| anyhow!("{error}"))?;
    let context = Context {
        flow: "floor".to_string(),
        task: "fib".to_string(),
        run_id: "floor".to_string(),
        attempt: 1,
        params: Vec::new(),
    };

    let new_store = || {
        let state = State {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new().memory_size(64 << 20).trap_on_grow_failure(true).build(),
        };
        let mut store = Store::new(&engine, state);
        store.limiter(|state| &mut state.limits);
        store.set_fuel(10_000_000_000).expect("fuel is enabled");
        store.set_epoch_deadline(u64::MAX / 2);
        store
    };

    let mut floor = Floor { instantiate_and_call: Vec::with_capacity(calls), call_only: Vec::with_capacity(calls) };
    for _ in 0..calls {
        let started = Instant::now();
        let mut store = new_store();
        let task = pre.instantiate(&mut store).map_err(|error| anyhow!("{error}"))?;
        let output = task.call_run(&mut store, &context, input).map_err(|error| anyhow!("{error}"))?;
        floor.instantiate_and_call.push(started.elapsed());
        output.map_err(|error| anyhow!("the task failed: {}", error.message))?;
    }
    let mut store = new_store();
    let task = pre.instantiate(&mut store).map_err(|error| anyhow!("{error}"))?;
    for _ in 0..calls {
        let started = Instant::now();
        let output = task.call_run(&mut store, &context, input).map_err(|error| anyhow!("{error}"))?;
        floor.call_only.push(started.elapsed());
        output.map_err(|error| anyhow!("the task failed: {}", error.message))?;
    }
    Ok(floor)
}

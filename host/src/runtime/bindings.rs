//! Host bindings generated from the WIT world in `wit/`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "task",
    // The export is called asynchronously, so that a timeout or a
    // cancellation can end an attempt that waits in a host call.
    exports: { default: async },
});

pub(crate) use wflow::task::log::Level;
pub(crate) use wflow::task::types::{Param, ParamValue};

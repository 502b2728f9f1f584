//! Host bindings generated from the WIT world in `wit/`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "task",
});

pub(crate) use wflow::task::log::Level;
pub(crate) use wflow::task::types::{Param, ParamValue};

//! Integration tests: real components, built from this workspace for
//! `wasm32-wasip2` when the tests start, run by a real wasmtime.

mod support;

mod cache;
mod cli;
mod durability;
mod fan_out;
mod faults;
mod flights;
mod flights_parquet;
mod flights_reference;
mod languages;
mod manifests;
mod polyglot;
mod recovery;
mod reliability;
mod scaffold;
mod server;
mod server_alerts;
mod server_api;

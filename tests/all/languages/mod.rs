//! Tasks written in each guest language, built with their registry
//! toolchains and run in the same host. A missing toolchain fails the test
//! with what to install: these tests are never skipped.

pub(crate) mod c;
pub(crate) mod js;
pub(crate) mod python;
mod rust;

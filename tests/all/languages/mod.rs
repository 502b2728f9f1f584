//! Tasks written in each guest language, built with their registry
//! toolchains and run in the same host. A missing toolchain fails the test
//! with what to install: these tests are never skipped.

mod js;
mod python;
mod rust;

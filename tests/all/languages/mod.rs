//! Tasks written in languages other than Rust, built with their registry
//! toolchains and run in the same host. A missing toolchain fails the test
//! with what to install: these tests are never skipped.

mod python;

#!/usr/bin/env bash
# Builds {{name}}.wasm from src/lib.rs. Needs Rust with the wasm32-wasip2
# target: rustup target add wasm32-wasip2
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v cargo >/dev/null; then
  echo "cargo is not on PATH; install Rust with rustup, then: rustup target add wasm32-wasip2" >&2
  exit 1
fi
# An explicit folder, so that the copy below takes this build's output even
# when a cargo configuration moves the target folder elsewhere.
target_dir=${CARGO_TARGET_DIR:-target}
cargo build --release --target wasm32-wasip2 --target-dir "$target_dir"
cp "$target_dir/wasm32-wasip2/release/{{crate}}.wasm" {{name}}.wasm
echo "built {{name}}.wasm"

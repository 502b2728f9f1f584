#!/usr/bin/env bash
# Builds {{name}}.wasm from app.c. Needs on PATH:
# - clang and wasm-ld with wasi-libc and the wasm32 compiler runtime
#   (Debian: apt-get install clang lld wasi-libc libclang-rt-dev-wasm32);
# - wit-bindgen 0.61.1 and wasm-tools (cargo install wit-bindgen-cli@0.61.1 wasm-tools).
# The WASI adapter beside this script turns the module into a component.
set -euo pipefail
cd "$(dirname "$0")"

for tool in clang wasm-ld wit-bindgen wasm-tools; do
  if ! command -v "$tool" >/dev/null; then
    echo "\`$tool\` is not on PATH; see the top of $0 for what to install" >&2
    exit 1
  fi
done
# clang links its wasm32 runtime library into every module.
if [ ! -f "$(clang --target=wasm32-wasi -print-libgcc-file-name)" ]; then
  echo "clang has no wasm32 runtime library; install it (Debian: apt-get install libclang-rt-dev-wasm32)" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

wit-bindgen c wit --world task --out-dir "$work/bindings" >/dev/null
# clang finds Debian's wasi-libc by itself for this target.
clang --target=wasm32-wasi -O2 -c -o "$work/bindings.o" "$work/bindings/task.c"
# A reactor module has no main: the host calls the task's export.
clang --target=wasm32-wasi -O2 -mexec-model=reactor -Wall -Wextra -I sdk -I "$work/bindings" \
  -o "$work/core.wasm" app.c sdk/wflow.c "$work/bindings.o" "$work/bindings/task_component_type.o"
wasm-tools component new "$work/core.wasm" \
  --adapt wasi_snapshot_preview1=wasi_snapshot_preview1.reactor.wasm -o {{name}}.wasm
echo "built {{name}}.wasm"

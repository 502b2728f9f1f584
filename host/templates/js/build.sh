#!/usr/bin/env bash
# Builds {{name}}.wasm from app.js. Needs componentize-js 0.23.0 on PATH, with
# Node.js 20 or later: npm install @bytecodealliance/componentize-js@0.23.0
set -euo pipefail
# componentize-js finds ./sdk/wflow.js only below the current folder.
cd "$(dirname "$0")"

if ! command -v componentize-js >/dev/null; then
  echo "componentize-js is not on PATH; install it with:" \
    "npm install @bytecodealliance/componentize-js@0.23.0, then add node_modules/.bin to PATH" >&2
  exit 1
fi
# `-d http -d fetch-event` leave out wasi:http, which wflow does not provide.
componentize-js app.js --wit wit -n task -d http -d fetch-event -o {{name}}.wasm
echo "built {{name}}.wasm"

#!/usr/bin/env bash
# Builds {{name}}.wasm from app.py. Needs componentize-py 0.25.1 on PATH:
# pip install componentize-py==0.25.1 (in a virtual environment).
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v componentize-py >/dev/null; then
  echo "componentize-py is not on PATH; install it with: pip install componentize-py==0.25.1" >&2
  exit 1
fi
componentize-py -d wit -w task componentize app -p . -p sdk -o {{name}}.wasm
echo "built {{name}}.wasm"
